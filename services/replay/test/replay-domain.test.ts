// Unit tests of the pure parts: FIFO buffer, step ranges, the seeded sampler
// (uniformity by chi-square), the part codec, the manager over an in-memory
// store (exact eviction, reload, reuse counters, idempotency, draws handed over
// before their ledger insert is acknowledged), the
// Sample serializer and in-place writer (over grpc-js), and Sample over gRPC on
// an in-memory store (the OK status waits for the ledger insert).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  status,
  type ClientReadableStream,
  type ServerWritableStream,
  type StatusObject,
} from "@grpc/grpc-js";
import { UnavailableError } from "../../../shared/errors";
import {
  ReplayServiceClient,
  ReplayServiceService,
  SampleResponse,
  Trajectory as TrajectoryMessage,
  type SampleRequest,
  type StoredTrajectory,
} from "../../../shared/gen/valor/replay/v1/replay.pb";
import { unary } from "../../../shared/grpc/client";
import { createLogger } from "../../../shared/telemetry/logger";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { rejectsWithStatus } from "../../../shared/testing/grpc-assert";
import { loadReplayConfig } from "../src/config";
import { FifoBuffer, StepRanges } from "../src/domain/buffer";
import { drawnSampleResponse, ENCODED_TRAJECTORY, planSampleResponse, sampleResponseWriter, serializeSampleResponse } from "../src/handlers/sample-serializer";
import { ReplayManager } from "../src/domain/replay";
import { startReplayServer } from "../src/server";
import { drawPositions, Rng } from "../src/domain/rng";
import type { InsertOutcome, ReplayStore } from "../src/domain/store";
import { resetDocId, sampleDocId, type Entry, type Manifest, type ResetDoc, type RunDoc, type SampleDoc, type Trajectory } from "../src/domain/types";
import { decodeColumns, encodeColumns, splitParts } from "../src/store/codec";

const entry = (seq: number): Entry => ({ step: 0, index: seq, seq, epoch: 0, insertedAt: 0, reuse: 0, trajectory: traj(seq) });

function traj(i: number, extra: Partial<Trajectory> = {}): Trajectory {
  return {
    promptId: `p${i % 7}`,
    groupId: `g${i % 3}`,
    promptTokenIds: [1, 2, i],
    responseTokenIds: [i, i + 1],
    promptText: `prompt ${i}`,
    responseText: `response ${i} ✓`,
    responseLogprobs: [-0.5, -0.25],
    reward: i % 2,
    policyVersion: BigInt(i % 4),
    refLogprobSum: i % 5 === 0 ? undefined : -1.5 * i,
    refValue: i % 3 === 0 ? undefined : 0.25,
    createdAtUnixMs: BigInt(1_700_000_000_000 + i),
    ...extra,
  };
}

/** Chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe("FifoBuffer", () => {
  it("evicts exactly the oldest beyond capacity, in any batch sizes (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), (capacity, batches) => {
        const b = new FifoBuffer(capacity);
        let seq = 0;
        let evicted = 0;
        for (const n of batches) evicted += b.push(Array.from({ length: n }, () => entry(seq++)));
        const expected = Array.from({ length: Math.min(capacity, seq) }, (_, i) => seq - Math.min(capacity, seq) + i);
        assert.deepEqual([...b.entries()].map((e) => e.seq), expected);
        assert.equal(evicted, seq - expected.length);
        for (let i = 0; i < b.size; i++) assert.equal(b.at(i).seq, expected[i]);
        if (seq > 0) assert.equal(b.findSeq(seq - 1)?.seq, seq - 1);
        assert.equal(b.findSeq(seq - expected.length - 1), undefined);
      }),
    );
  });
  it("shrinks and grows; refuses out-of-order seqs", () => {
    const b = new FifoBuffer(10);
    b.push(Array.from({ length: 10 }, (_, i) => entry(i)));
    assert.equal(b.resize(4), 6);
    assert.deepEqual([...b.entries()].map((e) => e.seq), [6, 7, 8, 9]);
    assert.equal(b.resize(8), 0);
    assert.throws(() => b.push([entry(3)]));
  });
  it("step ranges: same, overlap, new", () => {
    const r = new StepRanges();
    r.add(1, 0, 10, "a");
    assert.deepEqual(r.check(1, 0, 10), { kind: "same", manifestId: "a" });
    assert.deepEqual(r.check(1, 5, 10), { kind: "overlap", start: 0, end: 10 });
    assert.deepEqual(r.check(1, 10, 10), { kind: "new" });
    assert.deepEqual(r.check(2, 0, 10), { kind: "new" });
  });
});

describe("sampler", () => {
  it("is reproducible from a seed", () => {
    assert.deepEqual(drawPositions(new Rng(42n), 1000, 16, false), drawPositions(new Rng(42n), 1000, 16, false));
    assert.notDeepEqual(drawPositions(new Rng(42n), 1000, 16, false), drawPositions(new Rng(43n), 1000, 16, false));
  });
  it("draws without replacement: distinct positions in range (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 300 }), (seed, n, k0) => {
        const k = Math.min(n, k0);
        const p = drawPositions(new Rng(seed), n, k, false);
        assert.equal(new Set(p).size, k);
        for (const x of p) assert.ok(x >= 0 && x < n);
      }),
    );
  });
  it("is uniform: chi-square over 64 positions, 20,000 batches of 16 without replacement (fixed seed)", () => {
    const n = 64;
    const counts = new Array<number>(n).fill(0);
    const rng = new Rng(20_240_601n);
    for (let b = 0; b < 20_000; b++) for (const p of drawPositions(rng, n, 16, false)) counts[p]!++;
    // df = 63: the 0.999 quantile is 103.4.
    assert.ok(chiSquare(counts) < 103.4, `chi2 = ${chiSquare(counts)}`);
  });
  it("is uniform over ordered pairs (first two draws) too", () => {
    const n = 8;
    const counts = new Array<number>(n * n).fill(0);
    const rng = new Rng(7n);
    for (let b = 0; b < 56_000; b++) {
      const [a, c] = drawPositions(rng, n, 2, false);
      counts[a! * n + c!]!++;
    }
    const offDiagonal = counts.filter((_, i) => Math.floor(i / n) !== i % n);
    assert.equal(offDiagonal.length, 56);
    // df = 55: the 0.999 quantile is 93.2.
    assert.ok(chiSquare(offDiagonal) < 93.2, `chi2 = ${chiSquare(offDiagonal)}`);
  });
});

describe("part codec", () => {
  it("round-trips every field, optional ones included", () => {
    const ts = Array.from({ length: 25 }, (_, i) => traj(i));
    ts.push(traj(99, { promptTokenIds: [], responseLogprobs: [], promptText: "", groupId: "" }));
    assert.deepEqual(decodeColumns(encodeColumns(ts)), ts);
  });
  it("splits by size, keeping order", () => {
    const big = Array.from({ length: 10 }, (_, i) => traj(i, { responseTokenIds: new Array(1000).fill(i) }));
    const parts = splitParts(big, 9_000);
    assert.ok(parts.length > 1);
    assert.deepEqual(parts.flat(), big);
  });
});

/** The ReplayStore contract in memory, with a switch that makes every call fail (a database outage). */
export class MemoryStore implements ReplayStore {
  runs = new Map<string, RunDoc>();
  parts = new Map<string, Trajectory[]>();
  manifests = new Map<string, Manifest>();
  resets = new Map<string, ResetDoc>();
  samples = new Map<string, SampleDoc>();
  down = false;
  private n = 0;
  private async gate() {
    await Promise.resolve();
    if (this.down) throw new Error("database down");
  }
  private async put<T>(m: Map<string, T>, id: string, v: T): Promise<InsertOutcome> {
    await this.gate();
    if (m.has(id)) return "duplicate";
    m.set(id, structuredClone(v));
    return "inserted";
  }
  async getRun(id: string) {
    await this.gate();
    return this.runs.get(id);
  }
  insertRun(d: RunDoc) {
    return this.put(this.runs, d.runId, d);
  }
  async updateRun(id: string, capacity: number, watermark: number) {
    await this.gate();
    this.runs.set(id, { ...this.runs.get(id)!, capacity, watermark });
  }
  async listRuns() {
    await this.gate();
    return [...this.runs.values()];
  }
  async listManifests(runId: string) {
    await this.gate();
    return [...this.manifests.values()].filter((m) => m.runId === runId).sort((a, b) => a.firstSeq - b.firstSeq);
  }
  async listResets(runId: string) {
    await this.gate();
    return [...this.resets.values()].filter((r) => r.runId === runId).sort((a, b) => a.epoch - b.epoch);
  }
  async writeParts(_runId: string, manifestId: string, ts: readonly Trajectory[]) {
    await this.gate();
    const id = `${manifestId} ${this.n++}`;
    this.parts.set(id, structuredClone([...ts]));
    return [id];
  }
  insertManifest(m: Manifest) {
    return this.put(this.manifests, m.id, m);
  }
  async getManifest(id: string) {
    await this.gate();
    return this.manifests.get(id);
  }
  async readParts(ids: readonly string[]) {
    await this.gate();
    return ids.flatMap((id) => structuredClone(this.parts.get(id)!));
  }
  insertReset(d: ResetDoc) {
    return this.put(this.resets, resetDocId(d.runId, d.resetId), d);
  }
  async getReset(runId: string, resetId: string) {
    await this.gate();
    return this.resets.get(resetDocId(runId, resetId));
  }
  insertSample(d: SampleDoc) {
    return this.put(this.samples, sampleDocId(d.runId, d.epoch, d.k), d);
  }
  async getSample(runId: string, epoch: number, k: number) {
    await this.gate();
    return this.samples.get(sampleDocId(runId, epoch, k));
  }
}

const batch = (step: number, n: number) => Array.from({ length: n }, (_, i) => traj(step * 1000 + i));

/** A MemoryStore whose ledger inserts, while `holding`, wait for release(): then they go through, or fail as an outage would. */
class SlowLedgerStore extends MemoryStore {
  holding = false;
  held = 0;
  private waiting: Array<(fail: boolean) => void> = [];
  override async insertSample(d: SampleDoc): Promise<InsertOutcome> {
    if (this.holding) {
      this.held++;
      const fail = await new Promise<boolean>((resolve) => this.waiting.push(resolve));
      if (fail) throw new UnavailableError("database unavailable; retry later");
    }
    return super.insertSample(d);
  }
  release(fail = false): void {
    this.holding = false;
    for (const w of this.waiting.splice(0)) w(fail);
  }
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await tick(2);
  assert.ok(cond(), `condition not reached within ${timeoutMs} ms`);
}

describe("ReplayManager over an in-memory store", () => {
  it("keeps exactly the newest M, and a fresh manager (a restart) rebuilds the same buffer and reuse counters", async () => {
    const store = new MemoryStore();
    const a = new ReplayManager(store, { defaultCapacity: 30 });
    for (let step = 0; step < 10; step++) await a.append({ runId: "r", step, startIndex: 0, trajectories: batch(step, 7), expectedResetId: "" });
    for (let s = 0; s < 20; s++) await a.sample({ runId: "r", batchSize: 5, withReplacement: false, seed: BigInt(s), minPolicyVersion: undefined });
    const before = await a.query("r", "buffer", {}, -1, 1000);
    assert.deepEqual(before.records.map((r) => r.seq), Array.from({ length: 30 }, (_, i) => 40 + i));
    assert.equal(before.records.reduce((s, r) => s + r.reuse, 0), 100);
    const b = new ReplayManager(store, { defaultCapacity: 30 });
    const after = await b.query("r", "buffer", {}, -1, 1000);
    assert.deepEqual(after.records.map((r) => [r.seq, r.reuse]), before.records.map((r) => [r.seq, r.reuse]));
    assert.deepEqual((await b.stats("r")).samplesDrawn, 20);
  });
  it("does not bring evicted trajectories back when the capacity grows, even after a restart", async () => {
    const store = new MemoryStore();
    const a = new ReplayManager(store, { defaultCapacity: 10 });
    await a.append({ runId: "r", step: 1, startIndex: 0, trajectories: batch(1, 25), expectedResetId: "" });
    const grown = await a.configureRun("r", 100);
    assert.equal(grown.run.size, 10);
    const b = new ReplayManager(store, { defaultCapacity: 10 });
    assert.equal((await b.stats("r")).run.size, 10);
    assert.equal((await b.stats("r")).stats.oldestSeq, 15);
    const shrunk = await b.configureRun("r", 4);
    assert.equal(shrunk.evicted, 6);
    assert.equal((await new ReplayManager(store, { defaultCapacity: 10 }).stats("r")).stats.oldestSeq, 21);
  });
  it("answers a retried append as a duplicate, refuses overlaps, and survives an outage mid-append", async () => {
    const store = new MemoryStore();
    const m = new ReplayManager(store, { defaultCapacity: 100 });
    const first = await m.append({ runId: "r", step: 3, startIndex: 0, trajectories: batch(3, 5), expectedResetId: "" });
    const again = await m.append({ runId: "r", step: 3, startIndex: 0, trajectories: batch(3, 5), expectedResetId: "" });
    assert.equal(again.duplicate, true);
    assert.equal(again.firstSeq, first.firstSeq);
    await assert.rejects(m.append({ runId: "r", step: 3, startIndex: 2, trajectories: batch(3, 5), expectedResetId: "" }), /overlap/);
    store.down = true;
    await assert.rejects(m.append({ runId: "r", step: 4, startIndex: 0, trajectories: batch(4, 5), expectedResetId: "" }), /down/);
    store.down = false;
    const retried = await m.append({ runId: "r", step: 4, startIndex: 0, trajectories: batch(4, 5), expectedResetId: "" });
    assert.equal(retried.duplicate, false);
    assert.equal((await m.stats("r")).run.size, 10);
  });
  it("flush marks the buffer stale once per reset id; history keeps every trajectory", async () => {
    const store = new MemoryStore();
    const m = new ReplayManager(store, { defaultCapacity: 100 });
    await m.append({ runId: "r", step: 1, startIndex: 0, trajectories: batch(1, 5), expectedResetId: "" });
    const f = await m.flush("r", "ref-2");
    assert.deepEqual([f.flushed, f.alreadyApplied, f.epoch], [5, false, 1]);
    assert.equal((await m.flush("r", "ref-2")).alreadyApplied, true);
    await m.append({ runId: "r", step: 2, startIndex: 0, trajectories: batch(2, 3), expectedResetId: "ref-2" });
    await assert.rejects(m.append({ runId: "r", step: 3, startIndex: 0, trajectories: batch(3, 3), expectedResetId: "ref-1" }), /flushed/);
    const all = await m.query("r", "all", {}, -1, 100);
    assert.deepEqual(all.records.map((r) => r.state), ["stale", "stale", "stale", "stale", "stale", "live", "live", "live"]);
    const reloaded = new ReplayManager(store, { defaultCapacity: 100 });
    assert.deepEqual((await reloaded.stats("r")).run, { runId: "r", capacity: 100, size: 3, epoch: 1, resetId: "ref-2", nextSeq: 8 });
  });
  it("hands a draw over before its ledger insert is acknowledged, counts it only once it is, and forgets it if the insert fails", async () => {
    const store = new SlowLedgerStore();
    const m = new ReplayManager(store, { defaultCapacity: 100 });
    await m.append({ runId: "r", step: 1, startIndex: 0, trajectories: batch(1, 10), expectedResetId: "" });
    const draw = (seed: bigint, batchSize = 4, withReplacement = false) =>
      m.drawSample({ runId: "r", batchSize, withReplacement, seed, minPolicyVersion: undefined });
    const totalReuse = async (mgr = m) => (await mgr.query("r", "buffer", {}, -1, 100)).records.reduce((s, r) => s + r.reuse, 0);

    store.holding = true;
    const first = await draw(1n);
    let settled = false;
    void first.committed.then(
      () => (settled = true),
      () => (settled = true),
    );
    await tick(5);
    assert.equal(store.held, 1);
    assert.equal(settled, false);
    assert.deepEqual(first.records.map((r) => r.reuse), [1, 1, 1, 1], "the records' counts include this draw");
    // Not acknowledged yet: neither the ledger nor the counters show it.
    assert.equal(store.samples.size, 0);
    assert.equal((await m.stats("r")).samplesDrawn, 0);
    assert.equal(await totalReuse(), 0);
    // The next draw of the run waits until the first is recorded (ledger numbers stay dense).
    let secondDrawn = false;
    const second = draw(2n, 30, true).then((d) => ((secondDrawn = true), d));
    await tick(10);
    assert.equal(secondDrawn, false);
    store.release();
    await first.committed;
    const d2 = await second;
    await d2.committed;
    assert.deepEqual([...store.samples.keys()], ["r 0 0", "r 0 1"]);
    // With replacement, a trajectory drawn twice reports both draws, as the counters do afterwards.
    const counts = new Map((await m.query("r", "buffer", {}, -1, 100)).records.map((r) => [r.seq, r.reuse]));
    for (const r of d2.records) assert.equal(r.reuse, counts.get(r.seq), `seq ${r.seq}`);
    assert.equal(await totalReuse(), 34);
    assert.equal((await m.stats("r")).samplesDrawn, 2);

    // A ledger insert that fails: the draw was handed over, but `committed` rejects and nothing counts it.
    store.holding = true;
    const failed = await draw(3n);
    store.release(true);
    await assert.rejects(failed.committed, UnavailableError);
    assert.equal((await m.stats("r")).samplesDrawn, 2);
    assert.equal(await totalReuse(), 34);
    const restarted = new ReplayManager(store, { defaultCapacity: 100 });
    assert.equal((await restarted.stats("r")).samplesDrawn, 2);
    assert.equal(await totalReuse(restarted), 34);
    // sample() waits for the insert; the next draw takes the next ledger number.
    const third = await m.sample({ runId: "r", batchSize: 2, withReplacement: false, seed: 4n, minPolicyVersion: undefined });
    assert.equal(third.records.length, 2);
    assert.ok(store.samples.has("r 0 2"));
  });
});

describe("Sample serializer", () => {
  it("splices cached trajectory bytes into a valid SampleResponse, equal to the generated encoding", () => {
    const stored = Array.from({ length: 5 }, (_, i) => {
      const s = { runId: "r", step: 3n, index: i, seq: BigInt(10 + i), epoch: 1n, state: 1, reuseCount: i, insertedAtUnixMs: 17n, trajectory: traj(i) };
      if (i % 2 === 0) Object.defineProperty(s, ENCODED_TRAJECTORY, { value: TrajectoryMessage.encode(s.trajectory).finish() });
      return s;
    });
    const res = { trajectories: stored, eligible: 40, run: { runId: "r", capacity: 40, size: 40, epoch: 1n, resetId: "x", nextSeq: 99n } };
    assert.deepEqual(SampleResponse.decode(serializeSampleResponse(res)), SampleResponse.decode(SampleResponse.encode(res).finish()));
  });

  it("writes exactly the generated encoding's bytes: defaults omitted, multi-byte varints, non-ASCII run ids, fallbacks", () => {
    const cases: Array<Partial<StoredTrajectory>> = [
      {},
      { runId: "", step: 0n, index: 0, seq: 0n, epoch: 0n, state: 0, reuseCount: 0, insertedAtUnixMs: 0n },
      { runId: "rün/é#1", step: 127n, index: 128, seq: 16_383n, epoch: 16_384n, state: 2, reuseCount: 300, insertedAtUnixMs: 1_700_000_000_123n },
      { step: BigInt(Number.MAX_SAFE_INTEGER), seq: 2n ** 53n - 2n, index: 0xffff_ffff, reuseCount: 0xffff_ffff },
      // Outside the fast path: generated encoder.
      { seq: 2n ** 60n, insertedAtUnixMs: -5n },
      { state: -1 },
    ];
    for (const withRun of [true, false]) {
      const stored = cases.flatMap((c, i) =>
        [true, false].map((cache) => {
          const s: StoredTrajectory = { runId: "r", step: 3n, index: i, seq: BigInt(10 + i), epoch: 1n, state: 1, reuseCount: i, insertedAtUnixMs: 17n, trajectory: traj(i), ...c };
          if (cache) Object.defineProperty(s, ENCODED_TRAJECTORY, { value: TrajectoryMessage.encode(s.trajectory!).finish() });
          return s;
        }),
      );
      const res = { trajectories: stored, eligible: withRun ? 40 : 0, run: withRun ? { runId: "r", capacity: 40, size: 40, epoch: 1n, resetId: "x", nextSeq: 99n } : undefined };
      assert.deepEqual(serializeSampleResponse(res), Buffer.from(SampleResponse.encode(res).finish()));
    }
    assert.deepEqual(serializeSampleResponse({ trajectories: [], eligible: 0, run: undefined }), Buffer.alloc(0));
  });

  it("the in-place writer has the serializer's bytes at any offset, and refuses to be read as a byte array", () => {
    const stored = Array.from({ length: 6 }, (_, i) => {
      const s: StoredTrajectory = { runId: "r", step: 3n, index: i, seq: BigInt(10 + i), epoch: 1n, state: 1, reuseCount: i, insertedAtUnixMs: 17n, trajectory: traj(i) };
      if (i % 2 === 0) Object.defineProperty(s, ENCODED_TRAJECTORY, { value: TrajectoryMessage.encode(s.trajectory!).finish() });
      return s;
    });
    const res = { trajectories: stored, eligible: 6, run: { runId: "r", capacity: 40, size: 40, epoch: 1n, resetId: "x", nextSeq: 99n } };
    const plan = planSampleResponse(res);
    const frame = Buffer.alloc(plan.byteLength + 7, 0xee);
    assert.equal(plan.copy(frame, 5), plan.byteLength);
    assert.deepEqual(frame.subarray(5, 5 + plan.byteLength), Buffer.from(SampleResponse.encode(res).finish()));
    assert.deepEqual([...frame.subarray(0, 5), ...frame.subarray(5 + plan.byteLength)], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    assert.throws(() => plan.copy(Buffer.alloc(plan.byteLength), 1), RangeError);
    assert.throws(() => new Uint8Array(10).set(plan as unknown as Uint8Array), TypeError);
    assert.throws(() => Buffer.from(plan as unknown as Uint8Array), TypeError);
    assert.throws(() => Buffer.concat([plan as unknown as Uint8Array]), TypeError);
  });

  it("a response planned from a draw's plain numbers has the generated encoding's bytes, with or without cached trajectories", () => {
    for (const runId of ["run-1", "rün/é#1", ""]) {
      const drawn = Array.from({ length: 7 }, (_, i) => ({
        step: [0, 1, 127, 128, 16_384, Number.MAX_SAFE_INTEGER, 5][i]!,
        index: [0, 300, 0xffff_ffff, 2, 3, 4, 5][i]!,
        seq: 1000 + i * 70_000,
        epoch: i % 3,
        insertedAt: 1_700_000_000_000 + i,
        trajectory: traj(i),
        encoded: i % 3 === 2 ? undefined : TrajectoryMessage.encode(traj(i)).finish(),
      }));
      const reuse = [1, 2, 300, 1, 1, 0, 1];
      const stored = (i: number): StoredTrajectory => {
        const d = drawn[i]!;
        return { runId, step: BigInt(d.step), index: d.index, seq: BigInt(d.seq), epoch: BigInt(d.epoch), state: 1, reuseCount: reuse[i]!, insertedAtUnixMs: BigInt(d.insertedAt), trajectory: d.trajectory };
      };
      const run = { runId: "run-1", capacity: 40, size: 40, epoch: 2n, resetId: "x", nextSeq: 99n };
      const res = drawnSampleResponse(runId, drawn, reuse, 40, run, stored);
      const expected = Buffer.from(SampleResponse.encode({ trajectories: drawn.map((_, i) => stored(i)), eligible: 40, run }).finish());
      const plan = sampleResponseWriter(res) as unknown as { byteLength: number; copy(t: Buffer, at: number): number };
      const out = Buffer.alloc(plan.byteLength);
      plan.copy(out, 0);
      assert.deepEqual(out, expected, `run id ${JSON.stringify(runId)}`);
      // Read as a plain SampleResponse, it holds the same trajectories.
      assert.deepEqual(serializeSampleResponse(res), expected);
      assert.deepEqual(res.trajectories, drawn.map((_, i) => stored(i)));
    }
  });

  it("the in-place Sample writer over grpc-js: every response byte for byte, concurrent calls, unary and streaming registrations", async () => {
    // Responses of ~200 kB, different per seed; the handlers answer in a scrambled order so
    // several are written while others are in flight.
    const big = (seed: number): SampleResponse => ({
      trajectories: Array.from({ length: 40 }, (_, i) => {
        const t = traj(seed * 100 + i, { promptText: `${seed}`.repeat(1200 + i), responseLogprobs: [-seed, -i] });
        const s: StoredTrajectory = { runId: `run-${seed}`, step: BigInt(seed), index: i, seq: BigInt(seed * 1000 + i), epoch: 0n, state: 1, reuseCount: seed, insertedAtUnixMs: 1n, trajectory: t };
        Object.defineProperty(s, ENCODED_TRAJECTORY, { value: TrajectoryMessage.encode(t).finish() });
        return s;
      }),
      eligible: seed,
      run: undefined,
    });
    const delay = (seed: number) => (seed * 7) % 5;
    const servers: Server[] = [];
    const ports: number[] = [];
    for (const streaming of [false, true]) {
      const server = new Server();
      const method = { ...ReplayServiceService.sample, responseSerialize: sampleResponseWriter, responseStream: streaming };
      server.addService({ ...ReplayServiceService, sample: method }, {
        sample: streaming
          ? (call: ServerWritableStream<{ seed?: bigint }, SampleResponse>) => {
              const seed = Number(call.request.seed);
              setTimeout(() => {
                call.write(big(seed));
                setTimeout(() => call.end(), delay(seed + 1));
              }, delay(seed));
            }
          : (call: { request: { seed?: bigint } }, cb: (e: null, r: SampleResponse) => void) => {
              const seed = Number(call.request.seed);
              setTimeout(() => cb(null, big(seed)), delay(seed));
            },
      } as never);
      servers.push(server);
      ports.push(await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))));
    }
    const Raw = makeGenericClientConstructor({ sample: { ...ReplayServiceService.sample, responseDeserialize: (b: Buffer) => b } }, "valor.replay.v1.ReplayService");
    const clients = ports.map(
      (port) =>
        new Raw(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as {
          sample: (req: unknown, cb: (e: Error | null, r: Buffer) => void) => void;
          close(): void;
        },
    );
    try {
      for (const client of clients) {
        const seeds = Array.from({ length: 24 }, (_, i) => i + 1);
        const got = await Promise.all(
          seeds.map((seed) => new Promise<Buffer>((resolve, reject) => client.sample({ runId: "r", batchSize: 40, seed: BigInt(seed) }, (e, r) => (e ? reject(e) : resolve(r))))),
        );
        got.forEach((bytes, i) => assert.deepEqual(bytes, Buffer.from(SampleResponse.encode(big(seeds[i]!)).finish()), `response of seed ${seeds[i]}`));
      }
    } finally {
      for (const c of clients) c.close();
      for (const server of servers) server.forceShutdown();
    }
  });
});

describe("Sample over gRPC (the service on an in-memory store)", () => {
  it("sends the draw while its ledger insert is in flight, and ends OK only once the insert is acknowledged, UNAVAILABLE if it fails", async () => {
    const store = new SlowLedgerStore();
    const service = await startReplayServer({
      config: loadReplayConfig({ GRPC_PORT: "0", METRICS_PORT: "-1", LOG_LEVEL: "silent" }),
      logger: createLogger("replay-test", "silent"),
      metrics: createRpcMetrics("replay-test"),
      store,
      closers: [],
    });
    const address = `127.0.0.1:${service.grpcPort}`;
    const client = new ReplayServiceClient(address, credentials.createInsecure());
    // The same method read as a stream, to see when the message and the status arrive.
    const Watch = makeGenericClientConstructor({ sample: { ...ReplayServiceService.sample, responseStream: true } }, "valor.replay.v1.ReplayService");
    const watch = new Watch(address, credentials.createInsecure()) as unknown as {
      sample(req: SampleRequest): ClientReadableStream<SampleResponse>;
      close(): void;
    };
    const observe = (seed: bigint) => {
      const call = watch.sample({ runId: "g", batchSize: 3, withReplacement: false, seed });
      const messages: SampleResponse[] = [];
      call.on("data", (m: SampleResponse) => messages.push(m));
      call.on("error", () => undefined);
      let ended = false;
      const ending = new Promise<StatusObject>((resolve) => call.on("status", resolve)).then((s) => ((ended = true), s));
      return { messages, ending, ended: () => ended };
    };
    try {
      await unary(client.append.bind(client), { runId: "g", step: 1n, startIndex: 0, trajectories: batch(1, 10), expectedResetId: "" });

      store.holding = true;
      const ok = observe(1n);
      await until(() => ok.messages.length === 1);
      await tick(20);
      assert.equal(ok.ended(), false, "no status while the ledger insert is pending");
      assert.equal(store.samples.size, 0);
      store.release();
      assert.equal((await ok.ending).code, status.OK);
      assert.deepEqual(ok.messages[0]!.trajectories.map((t) => t.reuseCount), [1, 1, 1]);

      // The insert fails after the message went out: the call ends UNAVAILABLE ...
      store.holding = true;
      const failed = observe(2n);
      await until(() => failed.messages.length === 1);
      store.release(true);
      assert.equal((await failed.ending).code, status.UNAVAILABLE);
      // ... and a unary client gets the error, not the draw.
      store.holding = true;
      const call = unary(client.sample.bind(client), { runId: "g", batchSize: 3, withReplacement: false, seed: 3n });
      await until(() => store.held === 3);
      store.release(true);
      await rejectsWithStatus(call, status.UNAVAILABLE);

      // Only the acknowledged draw counts, and the service goes on drawing.
      const stats = await unary(client.getStats.bind(client), { runId: "g" });
      assert.equal(stats.samplesDrawn, 1n);
      assert.deepEqual(stats.reuseHistogram, [
        { reuseCount: 0, trajectories: 7 },
        { reuseCount: 1, trajectories: 3 },
      ]);
      const next = await unary(client.sample.bind(client), { runId: "g", batchSize: 10, withReplacement: false, seed: 4n });
      assert.equal(next.trajectories.length, 10);
      assert.equal((await unary(client.getStats.bind(client), { runId: "g" })).samplesDrawn, 2n);
    } finally {
      client.close();
      watch.close();
      await service.stop("test over");
    }
  });
});
