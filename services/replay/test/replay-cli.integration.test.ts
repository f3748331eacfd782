// `valor replay ...` against a real service: every command, tables and JSON lines,
// export → append-file round trip, errors as exit codes.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { main as valor } from "../../trainer/cli/valor";
import { main as replay, table } from "../cli/replay-cli";
import { trajectory } from "./helpers";

let db: TestDatabase;
let service: ServiceProcess;
let dir: string;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await replay(["--address", service.address, "--token", "t0k", ...args], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

before(async () => {
  db = await openTestDatabase();
  service = await startServiceProcess("replay", { MONGODB_URI: db.uri, MONGODB_DATABASE: db.database, MONGODB_SERVER_SELECTION_TIMEOUT_MS: "500", AUTH_TOKEN: "t0k" });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "valor-replay-cli-"));
});

after(async () => {
  await service?.stop();
  await db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("valor replay", () => {
  it("renders aligned tables", () => {
    assert.equal(table(["a", "n"], [["x", 1], ["yy", 10]]), "a    n\n--  --\nx    1\nyy  10\n");
  });
  it("configures, appends a file (idempotently), shows stats, queries, samples, exports and flushes", async () => {
    assert.equal((await run("configure", "--run", "cli", "--capacity", "8")).code, 0);
    const file = path.join(dir, "in.jsonl");
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ step: i < 6 ? 1 : 2, ...toJson(trajectory(i)) }));
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const a = await run("append-file", file, "--run", "cli", "--batch", "4");
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /^step\s+start\s+count\s+result/);
    assert.equal((a.out.match(/appended/g) ?? []).length, 4);
    const again = await run("append-file", file, "--run", "cli", "--batch", "4");
    assert.equal((again.out.match(/duplicate/g) ?? []).length, 4);
    const stats = await run("stats", "--run", "cli");
    assert.match(stats.out, /cli\s+8\s+8\s+0\s+-\s+12/);
    const q = await run("query", "--run", "cli", "--scope", "all", "--limit", "5");
    assert.equal(q.out.trim().split("\n").length, 2 + 5 + 1);
    assert.match(q.out, /evicted/);
    assert.match(q.out, /more: --start-seq 5/);
    const s = await run("sample", "--run", "cli", "-n", "3", "--seed", "5", "--json");
    assert.equal(s.out.trim().split("\n").length, 3);
    assert.equal(JSON.parse(s.out.split("\n")[0]!).reuseCount, 1);
    const out = path.join(dir, "out.jsonl");
    const e = await run("export", "--run", "cli", "--scope", "all", "--out", out);
    assert.equal(e.code, 0, e.err);
    const exported = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: string; index: number; trajectory: unknown });
    assert.equal(exported.length, 12);
    // Export → append-file round trip into a new run: the same trajectories.
    fs.writeFileSync(path.join(dir, "rt.jsonl"), exported.map((x) => JSON.stringify({ step: x.step, trajectory: x.trajectory })).join("\n"));
    assert.equal((await run("append-file", path.join(dir, "rt.jsonl"), "--run", "cli-copy")).code, 0);
    const copy = await run("query", "--run", "cli-copy", "--json", "--limit", "100");
    assert.deepEqual(copy.out.trim().split("\n").map((l) => (JSON.parse(l) as { trajectory: unknown }).trajectory), exported.slice(-12).map((x) => x.trajectory));
    const f = await run("flush", "--run", "cli", "--reset-id", "ref-2");
    assert.match(f.out, /flushed 8; epoch 1/);
    assert.match((await run("runs")).out, /cli-copy\s+12\s+5120/);
  });
  it("reports errors with the status and a non-zero exit code", async () => {
    const bad = await run("sample", "--run", "$where", "-n", "1");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /INVALID_ARGUMENT: run_id:/);
    let err = "";
    const noToken = await replay(["--address", service.address, "runs"], { out: () => undefined, err: (t) => void (err += t) });
    assert.equal(noToken, 1);
    assert.match(err, /UNAUTHENTICATED/);
    assert.equal((await run("frobnicate")).code, 1);
    assert.equal(await valor(["nope"]), 2);
  });
});

function toJson(t: ReturnType<typeof trajectory>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(t, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as Record<string, unknown>;
}
