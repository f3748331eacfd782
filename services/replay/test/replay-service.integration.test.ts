// The real replay service process against a real database (FerretDB, or
// MONGODB_URI), called through the generated client.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, status } from "@grpc/grpc-js";
import {
  ReplayServiceClient,
  Scope,
  TrajectoryState,
  View,
  type ExportResponse,
  type Filter,
  type QueryRequest,
} from "../../../shared/gen/valor/replay/v1/replay.pb";
import { checkHealth, listServicesByReflection, unary } from "../../../shared/grpc/client";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { api, batch, rejects, trajectory } from "./helpers";

let db: TestDatabase;
let service: ServiceProcess;
let client: ReplayServiceClient;
let r: ReturnType<typeof api>;

const filter = (f: Partial<Filter>): Filter => ({ runId: "", scope: Scope.SCOPE_UNSPECIFIED, promptId: "", groupId: "", ...f });
const query = (req: Partial<QueryRequest>) => unary(client.query.bind(client), { view: View.VIEW_UNSPECIFIED, limit: 0, afterSeq: 0n, startSeq: 0n, ...req });

before(async () => {
  db = await openTestDatabase();
  service = await startServiceProcess("replay", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: "500",
    REPLAY_DEFAULT_CAPACITY: "64",
    REPLAY_MAX_APPEND_BATCH: "2048",
  });
  client = new ReplayServiceClient(service.address, credentials.createInsecure());
  r = api(client);
});

after(async () => {
  client?.close();
  await service?.stop();
  await db?.close();
});

describe("serving", () => {
  it("reports SERVING through grpc.health.v1 and lists itself through reflection", async () => {
    assert.equal(await checkHealth(service.address, "valor.replay.v1.ReplayService"), "SERVING");
    assert.ok((await listServicesByReflection(service.address)).includes("valor.replay.v1.ReplayService"));
  });
});

describe("append", () => {
  it("stores a batch, creating the run with the default capacity; a retry is a duplicate and stores nothing", async () => {
    const first = await r.append("idem", 1, batch(1, 10));
    assert.deepEqual([first.appended, first.duplicate, first.firstSeq, first.count, first.run?.capacity], [10, false, 0n, 10, 64]);
    for (let i = 0; i < 3; i++) {
      const retry = await r.append("idem", 1, batch(1, 10));
      assert.deepEqual([retry.appended, retry.duplicate, retry.firstSeq, retry.count], [0, true, 0n, 10]);
    }
    // The next slice of the same step is new; an overlapping one is refused.
    assert.equal((await r.append("idem", 1, batch(1, 5, 10), 10)).appended, 5);
    await rejects(r.append("idem", 1, batch(1, 10, 5), 5), status.FAILED_PRECONDITION);
    const s = await r.stats("idem");
    assert.equal(s.run?.size, 15);
    assert.equal(s.appendedTotal, 15n);
    const all = await r.all("idem");
    assert.deepEqual(all.map((t) => [t.step, t.index, t.seq]), Array.from({ length: 15 }, (_, i) => [1n, i, BigInt(i)]));
  });

  it("evicts exactly the oldest at M under concurrent appenders (with retries), and every append is stored once", async () => {
    await r.configure("fifo", 100);
    const appenders = 8;
    const perAppender = 6;
    const size = 10;
    const acks: Array<{ step: number; firstSeq: bigint }> = [];
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let k = 0; k < perAppender; k++) {
          const step = a * 100 + k;
          const res = await r.append("fifo", step, batch(step, size));
          assert.equal(res.duplicate, false);
          acks.push({ step, firstSeq: res.firstSeq });
          // A retry racing the other appenders is still a duplicate.
          assert.equal((await r.append("fifo", step, batch(step, size))).duplicate, true);
        }
      }),
    );
    const total = appenders * perAppender * size;
    // Sequence numbers: disjoint blocks covering [0, total).
    const starts = acks.map((a) => Number(a.firstSeq)).sort((x, y) => x - y);
    assert.deepEqual(starts, Array.from({ length: appenders * perAppender }, (_, i) => i * size));
    const buffer = await r.all("fifo", Scope.SCOPE_BUFFER);
    assert.deepEqual(buffer.map((t) => Number(t.seq)), Array.from({ length: 100 }, (_, i) => total - 100 + i));
    const history = await r.all("fifo");
    assert.equal(history.length, total);
    assert.equal(new Set(history.map((t) => `${t.step}/${t.index}`)).size, total);
    assert.equal(history.filter((t) => t.state === TrajectoryState.TRAJECTORY_STATE_LIVE).length, 100);
    assert.ok(history.slice(0, total - 100).every((t) => t.state === TrajectoryState.TRAJECTORY_STATE_EVICTED));
    // Each acknowledged block holds its own step's trajectories, in index order.
    const bySeq = new Map(history.map((t) => [Number(t.seq), t]));
    for (const a of acks) {
      for (let i = 0; i < size; i++) assert.deepEqual([bySeq.get(Number(a.firstSeq) + i)?.step, bySeq.get(Number(a.firstSeq) + i)?.index], [BigInt(a.step), i]);
    }
    const s = await r.stats("fifo");
    assert.deepEqual([s.run?.size, s.appendedTotal, s.oldestSeq, s.newestSeq], [100, BigInt(total), BigInt(total - 100), BigInt(total - 1)]);
  });
});

describe("sample", () => {
  it("draws uniformly (chi-square over 300 seeded draws of 10 from 40) and counts every draw in the reuse counters", async () => {
    await r.configure("uni", 40);
    await r.append("uni", 1, batch(1, 40));
    const counts = new Map<bigint, number>();
    for (let s = 0; s < 300; s++) {
      const res = await r.sample("uni", 10, 1000 + s);
      assert.equal(res.trajectories.length, 10);
      assert.equal(new Set(res.trajectories.map((t) => t.seq)).size, 10, "without replacement: distinct");
      for (const t of res.trajectories) counts.set(t.seq, (counts.get(t.seq) ?? 0) + 1);
    }
    assert.equal(counts.size, 40);
    const expected = 75;
    const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    // df = 39: the 0.999 quantile is 72.1; the seeds are fixed, so this is deterministic.
    assert.ok(chi2 < 72.1, `chi2 = ${chi2}`);
    const buffer = await r.all("uni", Scope.SCOPE_BUFFER);
    for (const t of buffer) assert.equal(t.reuseCount, counts.get(t.seq));
    const s = await r.stats("uni");
    assert.equal(s.samplesDrawn, 300n);
    assert.equal(s.reuseHistogram.reduce((acc, b) => acc + b.reuseCount * b.trajectories, 0), 3000);
  });
  it("is reproducible from a seed, supports replacement and a policy-version floor, and refuses what it cannot draw", async () => {
    const a = await r.sample("uni", 5, 7);
    const b = await r.sample("uni", 5, 7);
    assert.deepEqual(a.trajectories.map((t) => t.seq), b.trajectories.map((t) => t.seq));
    assert.equal((await r.sample("uni", 100, 1, true)).trajectories.length, 100);
    await rejects(r.sample("uni", 41), status.FAILED_PRECONDITION);
    const recent = await unary(client.sample.bind(client), { runId: "uni", batchSize: 5, withReplacement: false, minPolicyVersion: 102n });
    assert.equal(recent.eligible, 20);
    assert.ok(recent.trajectories.every((t) => t.trajectory!.policyVersion >= 102n));
    // Full trajectories come back as appended.
    const full = (await r.sample("uni", 1, 3)).trajectories[0]!;
    assert.deepEqual(full.trajectory, trajectory(1000 + full.index));
  });
});

describe("stats, query, export", () => {
  it("summarises the buffer", async () => {
    await r.configure("q", 1000);
    await r.append("q", 1, batch(1, 30));
    await r.append("q", 2, batch(2, 30));
    const s = await r.stats("q");
    const rewards = [...batch(1, 30), ...batch(2, 30)].map((t) => t.reward);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    assert.ok(Math.abs(s.rewardMean - mean) < 1e-12);
    assert.deepEqual([s.rewardMin, s.rewardMax], [0, 1]);
    assert.deepEqual(s.versions.map((v) => [v.policyVersion, v.trajectories]), [[100n, 10], [101n, 10], [102n, 10], [200n, 10], [201n, 10], [202n, 10]]);
    assert.deepEqual(s.reuseHistogram, [{ reuseCount: 0, trajectories: 60 }]);
  });
  it("filters by policy version, prompt, group, reward, step and time, and pages", async () => {
    const f = (x: Partial<Filter>) => query({ filter: filter({ runId: "q", ...x }), limit: 1000 });
    assert.equal((await f({ minPolicyVersion: 101n, maxPolicyVersion: 200n })).trajectories.length, 30);
    assert.ok((await f({ promptId: "prompt-3" })).trajectories.every((t) => t.trajectory!.promptId === "prompt-3"));
    assert.equal((await f({ promptId: "prompt-3" })).trajectories.length, 12);
    assert.equal((await f({ groupId: "group-250" })).trajectories.length, 4);
    assert.equal((await f({ minReward: 0.5 })).trajectories.length, 20);
    assert.equal((await f({ minStep: 2n, maxStep: 2n })).trajectories.length, 30);
    assert.equal((await f({ insertedAfterUnixMs: BigInt(Date.now() + 60_000) })).trajectories.length, 0);
    assert.equal((await f({ insertedBeforeUnixMs: BigInt(Date.now()) })).trajectories.length, 60);
    const p1 = await query({ filter: filter({ runId: "q" }), limit: 25, view: View.VIEW_METADATA });
    assert.deepEqual([p1.trajectories.length, p1.hasMore, p1.nextAfterSeq], [25, true, 24n]);
    assert.deepEqual(p1.trajectories[0]!.trajectory!.responseTokenIds, []);
    const p3 = await query({ filter: filter({ runId: "q" }), limit: 25, afterSeq: 49n });
    assert.deepEqual([p3.trajectories.length, p3.hasMore], [10, false]);
    // Paging one row at a time visits every row once: the first row has seq 0,
    // which after_seq cannot continue from (it used to repeat forever).
    const seen: bigint[] = [];
    let startSeq = 0n;
    for (let pages = 0; pages < 100; pages++) {
      const page = await query({ filter: filter({ runId: "q" }), limit: 1, view: View.VIEW_SUMMARY, startSeq });
      seen.push(...page.trajectories.map((t) => t.seq));
      if (!page.hasMore) break;
      assert.ok(page.nextStartSeq > startSeq, "the cursor moves forward");
      startSeq = page.nextStartSeq;
    }
    assert.equal(seen.length, 60);
    assert.equal(new Set(seen).size, 60);
    const summary = await query({ filter: filter({ runId: "q" }), limit: 1, view: View.VIEW_SUMMARY });
    assert.equal(summary.trajectories[0]!.trajectory, undefined);
  });
  it("exports as a server stream, in insertion order", async () => {
    const got = await new Promise<ExportResponse[]>((resolve, reject) => {
      const out: ExportResponse[] = [];
      const stream = client.export({ filter: filter({ runId: "q", scope: Scope.SCOPE_ALL, minReward: 1 }), view: View.VIEW_FULL });
      stream.on("data", (m: ExportResponse) => out.push(m));
      stream.on("end", () => resolve(out));
      stream.on("error", reject);
    });
    assert.equal(got.length, 20);
    const seqs = got.map((m) => Number(m.trajectory!.seq));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.ok(got.every((m) => m.trajectory!.trajectory!.reward === 1));
  });
});

describe("flush", () => {
  it("marks the buffer stale once per reset id; appends can be fenced on the reset", async () => {
    await r.append("fl", 1, batch(1, 8));
    await r.sample("fl", 4, 1);
    const f = await r.flush("fl", "ref-v2");
    assert.deepEqual([f.flushed, f.alreadyApplied, f.epoch, f.run?.size], [8, false, 1n, 0]);
    const again = await r.flush("fl", "ref-v2");
    assert.deepEqual([again.flushed, again.alreadyApplied], [0, true]);
    await rejects(r.sample("fl", 1), status.FAILED_PRECONDITION);
    await rejects(r.append("fl", 2, batch(2, 4), 0, "ref-v1"), status.FAILED_PRECONDITION);
    assert.equal((await r.append("fl", 2, batch(2, 4), 0, "ref-v2")).appended, 4);
    const history = await r.all("fl");
    assert.deepEqual(history.map((t) => t.state), [...new Array(8).fill(TrajectoryState.TRAJECTORY_STATE_STALE), ...new Array(4).fill(TrajectoryState.TRAJECTORY_STATE_LIVE)]);
    const s = await r.stats("fl");
    assert.deepEqual([s.run?.epoch, s.run?.resetId, s.samplesDrawn, s.appendedTotal], [1n, "ref-v2", 0n, 12n]);
  });
});

describe("bad input", () => {
  const good = trajectory(1);
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ["empty run id", () => r.append("", 1, [good]), "run_id"],
    ["run id $where", () => r.append("$where", 1, [good]), "run_id"],
    ["run id with a dot", () => r.append("a.b", 1, [good]), "run_id"],
    ["prompt id $function", () => r.append("bad", 1, [trajectory(1, { promptId: "$function" })]), "trajectories[0].prompt_id"],
    ["group id with a dot", () => r.append("bad", 1, [good, trajectory(2, { groupId: "g.x" })]), "trajectories[1].group_id"],
    ["logprobs shorter than the response", () => r.append("bad", 1, [trajectory(1, { responseLogprobs: [-1] })]), "trajectories[0].response_logprobs"],
    ["logprobs longer than the response", () => r.append("bad", 1, [trajectory(1, { responseLogprobs: [-1, -1, -1, -1, -1] })]), "trajectories[0].response_logprobs"],
    ["NaN logprob", () => r.append("bad", 1, [trajectory(1, { responseLogprobs: [-1, NaN, -1, -1] })]), "trajectories[0].response_logprobs[1]"],
    ["empty response", () => r.append("bad", 1, [trajectory(1, { responseTokenIds: [], responseLogprobs: [] })]), "trajectories[0].response_token_ids"],
    ["infinite reward", () => r.append("bad", 1, [trajectory(1, { reward: Infinity })]), "trajectories[0].reward"],
    ["NaN reference statistic", () => r.append("bad", 1, [trajectory(1, { refValue: NaN })]), "trajectories[0].ref_value"],
    ["no trajectories", () => r.append("bad", 1, []), "trajectories"],
    ["too many trajectories", () => r.append("bad", 1, batch(1, 2049)), "trajectories"],
    ["step beyond 2^53", () => r.append("bad", 2 ** 60, [good]), "step"],
    ["fence id $ne", () => r.append("bad", 1, [good], 0, "$ne"), "expected_reset_id"],
    ["capacity 0", () => r.configure("bad", 0), "capacity"],
    ["capacity -5", () => r.configure("bad", -5), "capacity"],
    ["capacity over the limit", () => r.configure("bad", 10_000_001), "capacity"],
    ["sample an unknown run", () => r.sample("no-such-run", 4), "run_id"],
    ["sample batch 0", () => r.sample("uni", 0), "batch_size"],
    ["stats of an unknown run", () => r.stats("no-such-run"), "run_id"],
    ["flush an unknown run", () => r.flush("no-such-run", "x"), "run_id"],
    ["reset id $where", () => r.flush("uni", "$where"), "reset_id"],
    ["query without a filter", () => query({}), "filter"],
    ["query run id $where", () => query({ filter: filter({ runId: "$where" }) }), "filter.run_id"],
    ["query prompt id {$ne:null}", () => query({ filter: filter({ runId: "q", promptId: '{"$ne":null}' }) }), "filter.prompt_id"],
    ["query group id a.$b", () => query({ filter: filter({ runId: "q", groupId: "a.$b" }) }), "filter.group_id"],
    ["query an unknown run", () => query({ filter: filter({ runId: "no-such-run" }) }), "filter.run_id"],
    ["query version range inverted", () => query({ filter: filter({ runId: "q", minPolicyVersion: 5n, maxPolicyVersion: 4n }) }), "filter.max_policy_version"],
    ["query NaN reward bound", () => query({ filter: filter({ runId: "q", minReward: NaN }) }), "filter.min_reward"],
    ["query unknown scope", () => query({ filter: filter({ runId: "q", scope: 9 as Scope }) }), "filter.scope"],
    ["query limit over the maximum", () => query({ filter: filter({ runId: "q" }), limit: 10_001 }), "limit"],
  ];
  for (const [name, call, fieldPath] of cases) {
    it(`${name} → INVALID_ARGUMENT at ${fieldPath}`, async () => {
      await rejects(call(), status.INVALID_ARGUMENT, fieldPath);
    });
  }
  it("nothing was stored by the refused appends", async () => {
    await rejects(r.stats("bad"), status.INVALID_ARGUMENT, "run_id");
  });
});
