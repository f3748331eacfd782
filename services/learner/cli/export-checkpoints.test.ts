// `valor export-checkpoints` against a real database: checkpoints saved by the
// learner's CheckpointStore come back as their params, byte for byte.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { CheckpointStore } from "../src/store/checkpoint-store";
import { main } from "./export-checkpoints";

const N = 1000;
let db: TestDatabase;
let out: string;

const state = (step: number) => {
  const fill = (k: number) => Float32Array.from({ length: N }, (_, i) => step * 1000 + k * 0.5 + i * 1e-3);
  return { step: BigInt(step), params: fill(0), adamM: fill(1), adamV: fill(2), adamStep: step };
};

before(async () => {
  db = await openTestDatabase();
  out = fs.mkdtempSync(path.join(os.tmpdir(), "valor-export-"));
  const store = new CheckpointStore(db.client.db(db.database));
  for (const step of [1, 2, 3, 4]) await store.save("run-a", state(step), undefined);
  await store.save("run-b", state(7), undefined);
});

after(async () => {
  await db?.close();
  fs.rmSync(out, { recursive: true, force: true });
});

const run = (...args: string[]) => main([...args, "--mongodb-uri", db.uri, "--database", db.database, "--out", out]);

it("writes the params of every step that --every divides, with sha256 and step", async () => {
  assert.equal(await run("--run", "run-a", "run-b", "--every", "2"), 0);
  assert.deepEqual(fs.readdirSync(path.join(out, "run-a")).sort(), ["step-2.bin", "step-2.json", "step-4.bin", "step-4.json"]);
  assert.equal(fs.existsSync(path.join(out, "run-b")), false);
  const bin = fs.readFileSync(path.join(out, "run-a", "step-4.bin"));
  assert.deepEqual(new Float32Array(bin.buffer, bin.byteOffset, N), state(4).params);
  const info = JSON.parse(fs.readFileSync(path.join(out, "run-a", "step-4.json"), "utf8"));
  assert.deepEqual({ ...info, checkpoint_sha256: undefined }, {
    run_id: "run-a",
    step: 4,
    n_params: N,
    sha256: createHash("sha256").update(bin).digest("hex"),
    checkpoint_sha256: undefined,
    adam_step: 4,
  });
});

it("exports exactly the listed steps and refuses a step that is not stored", async () => {
  assert.equal(await run("--run", "run-b", "--steps", "7"), 0);
  assert.ok(fs.existsSync(path.join(out, "run-b", "step-7.bin")));
  assert.equal(await run("--run", "run-a", "--steps", "1,9"), 2);
  assert.equal(fs.existsSync(path.join(out, "run-a", "step-1.bin")), false);
  assert.equal(await run("--run", "missing"), 2);
});
