// Unit tests of the pure parts: FIFO buffer, step ranges, the seeded sampler
// (uniformity by chi-square), the part codec, and the manager over an
// in-memory store (exact eviction, reload, reuse counters, idempotency).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { credentials, makeGenericClientConstructor, Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { ReplayServiceService, SampleResponse, Trajectory as TrajectoryMessage, type StoredTrajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { FifoBuffer, StepRanges } from "../src/domain/buffer";
import { ENCODED_TRAJECTORY, serializeSampleResponse } from "../src/handlers/sample-serializer";
import { ReplayManager } from "../src/domain/replay";
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

  it("a reused serializer buffer survives concurrent Sample calls over grpc-js (the transport copies it at once)", async () => {
    // Responses of ~200 kB (inside the scratch range), different per seed; the handler answers
    // in a scrambled order so several responses are serialized while others are in flight.
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
    const server = new Server();
    server.addService({ ...ReplayServiceService, sample: { ...ReplayServiceService.sample, responseSerialize: serializeSampleResponse } }, {
      sample: (call: ServerUnaryCall<{ seed?: bigint }, SampleResponse>, cb: sendUnaryData<SampleResponse>) => {
        const seed = Number(call.request.seed);
        setTimeout(() => cb(null, big(seed)), (seed * 7) % 5);
      },
    } as never);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const Raw = makeGenericClientConstructor({ sample: { ...ReplayServiceService.sample, responseDeserialize: (b: Buffer) => b } }, "valor.replay.v1.ReplayService");
    const client = new Raw(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as {
      sample: (req: unknown, cb: (e: Error | null, r: Buffer) => void) => void;
      close(): void;
    };
    try {
      const seeds = Array.from({ length: 24 }, (_, i) => i + 1);
      const got = await Promise.all(
        seeds.map((seed) => new Promise<Buffer>((resolve, reject) => client.sample({ runId: "r", batchSize: 40, seed: BigInt(seed) }, (e, r) => (e ? reject(e) : resolve(r))))),
      );
      got.forEach((bytes, i) => assert.deepEqual(bytes, Buffer.from(SampleResponse.encode(big(seeds[i]!)).finish()), `response of seed ${seeds[i]}`));
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
