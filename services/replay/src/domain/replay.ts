// The replay manager: one in-memory state per run (its whole FIFO buffer, its
// append manifests, its epoch), written through to the store before anything
// is acknowledged and rebuilt from the store when a run is first used or after
// a failed write.
//
// Concurrency: per run, appends are serialised by `appendLock` (so sequence
// numbers follow acknowledgement order and eviction is exact), draws by
// `sampleLock` (held until the draw's ledger insert settles); Flush,
// ConfigureRun and (re)loading take both. Appends and draws of one run proceed
// side by side: a draw sees the buffer as it was at that instant. Reads (stats,
// queries) run on the current state without locks.

//
// Failure rule: any write whose outcome is unknown (database down, connection
// reset, timeout) marks the run dirty; the next call on the run reloads it from
// the store first, so the memory never diverges from what the store holds.
// One process must own a run: the design has no cross-process coordination.
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from "../../../../shared/errors";
import { FifoBuffer, StepRanges } from "./buffer";
import { Mutex } from "./mutex";
import { bufferStats, manifestMayMatch, matches, type BufferStats, type TrajectoryFilter } from "./query";
import { drawPositions, Rng } from "./rng";
import type { ReplayStore } from "./store";
import { manifestId, type Entry, type Manifest, type Trajectory } from "./types";

export type TrajectoryStateName = "live" | "evicted" | "stale";

export interface StoredRecord {
  runId: string;
  step: number;
  index: number;
  seq: number;
  epoch: number;
  state: TrajectoryStateName;
  reuse: number;
  insertedAt: number;
  trajectory: Trajectory;
  encoded?: Uint8Array;
}

export interface RunSummary {
  runId: string;
  capacity: number;
  size: number;
  epoch: number;
  resetId: string;
  nextSeq: number;
}

interface RunState {
  runId: string;
  capacity: number;
  watermark: number;
  buffer: FifoBuffer;
  epoch: number;
  resetId: string;
  nextSeq: number;
  /** Every append of the run (all epochs), by first seq. */
  manifests: Manifest[];
  manifestById: Map<string, Manifest>;
  ranges: StepRanges;
  /** Sample calls acknowledged in this epoch; the next one is number sampleK. */
  sampleK: number;
  appendedTotal: number;
}

interface RunSlot {
  loaded: boolean;
  dirty: boolean;
  /** undefined: the run does not exist. */
  state: RunState | undefined;
  appendLock: Mutex;
  sampleLock: Mutex;
}

export interface AppendInput {
  runId: string;
  step: number;
  startIndex: number;
  trajectories: Trajectory[];
  expectedResetId: string;
}

export interface AppendOutcome {
  appended: number;
  duplicate: boolean;
  firstSeq: number;
  count: number;
  evicted: number;
  run: RunSummary;
}

export interface SampleInput {
  runId: string;
  batchSize: number;
  withReplacement: boolean;
  seed: bigint | undefined;
  minPolicyVersion: bigint | undefined;
}

export interface SampleDraw {
  runId: string;
  /** The drawn buffer entries, in draw order (with replacement, one may appear more than once). Read only. */
  entries: readonly Entry[];
  /** The reuse count of entries[i] including this draw (what the response reports). */
  reuse: readonly number[];
  eligible: number;
  run: RunSummary;
  /** Resolves once the draw is in the reuse ledger; rejects if it cannot be recorded (UnavailableError). */
  committed: Promise<void>;
  /** entries[i] as a record. */
  record(i: number): StoredRecord;
  /** Every entry as a record (one object each). */
  readonly records: StoredRecord[];
}

/** The ledger entry a draw needed already exists: another process served this run. Retryable. */
export class LedgerConflictError extends UnavailableError {
  constructor(runId: string, epoch: number, k: number) {
    super(`sample ledger entry ${k} of run ${JSON.stringify(runId)} epoch ${epoch} was written by another process; the draw was not recorded, retry`);
    this.name = "LedgerConflictError";
  }
}

export type Scope = "buffer" | "all";

const RETRY = Symbol("retry");
type Retry = typeof RETRY;

export interface ReplayOptions {
  defaultCapacity: number;
  /** Encodes a trajectory for the wire; when given, each buffered trajectory is encoded once and Sample reuses the bytes. */
  encode?: (t: Trajectory) => Uint8Array;
}

export class ReplayManager {
  private readonly slots = new Map<string, RunSlot>();

  constructor(
    private readonly store: ReplayStore,
    private readonly options: ReplayOptions,
  ) {}

  private slot(runId: string): RunSlot {
    let s = this.slots.get(runId);
    if (!s) {
      s = { loaded: false, dirty: false, state: undefined, appendLock: new Mutex(), sampleLock: new Mutex() };
      this.slots.set(runId, s);
    }
    return s;
  }

  private both<T>(slot: RunSlot, fn: () => Promise<T>): Promise<T> {
    // Always append lock first, then sample lock: no lock-order inversion.
    return slot.appendLock.run(() => slot.sampleLock.run(fn));
  }

  private async ensureLoaded(runId: string, slot: RunSlot): Promise<void> {
    while (!slot.loaded || slot.dirty) {
      await this.both(slot, async () => {
        if (!slot.loaded || slot.dirty) await this.reload(runId, slot);
      });
    }
  }

  /** Runs fn under the chosen lock(s) on a loaded, clean run; reloads and tries again when asked. */
  private async locked<T>(runId: string, which: "append" | "sample" | "both", fn: (slot: RunSlot) => Promise<T | Retry>): Promise<T> {
    const slot = this.slot(runId);
    for (;;) {
      await this.ensureLoaded(runId, slot);
      const body = async (): Promise<T | Retry> => (!slot.loaded || slot.dirty ? RETRY : fn(slot));
      const result =
        which === "append" ? await slot.appendLock.run(body) : which === "sample" ? await slot.sampleLock.run(body) : await this.both(slot, body);
      if (result !== RETRY) return result;
    }
  }

  /** The run's current state for reads (no lock: reads are synchronous over memory). */
  private async current(runId: string, fieldPath = "run_id"): Promise<RunState> {
    const slot = this.slot(runId);
    await this.ensureLoaded(runId, slot);
    if (!slot.state) throw unknownRun(runId, fieldPath);
    return slot.state;
  }

  /** Rebuilds a run from the store. Caller holds both locks. */
  private async reload(runId: string, slot: RunSlot): Promise<void> {
    const run = await this.store.getRun(runId);
    if (!run) {
      slot.state = undefined;
      slot.loaded = true;
      slot.dirty = false;
      return;
    }
    const [manifests, resets] = await Promise.all([this.store.listManifests(runId), this.store.listResets(runId)]);
    const lastReset = resets[resets.length - 1];
    const epoch = lastReset?.epoch ?? 0;

    // The buffer: the newest `capacity` trajectories of the epoch at or above the watermark.
    const chosen: Manifest[] = [];
    let need = run.capacity;
    for (let i = manifests.length - 1; i >= 0 && need > 0; i--) {
      const m = manifests[i]!;
      if (m.epoch !== epoch) continue;
      const last = m.firstSeq + m.count - 1;
      if (last < run.watermark) continue;
      chosen.push(m);
      need -= last - Math.max(m.firstSeq, run.watermark) + 1;
    }
    chosen.reverse();
    const buffer = new FifoBuffer(run.capacity);
    for (const m of chosen) {
      const trajectories = await this.store.readParts(m.parts);
      const entries: Entry[] = [];
      trajectories.forEach((trajectory, i) => {
        const seq = m.firstSeq + i;
        if (seq >= run.watermark) {
          entries.push({ step: m.step, index: m.startIndex + i, seq, epoch: m.epoch, insertedAt: m.insertedAt, reuse: 0, trajectory, encoded: this.options.encode?.(trajectory) });
        }
      });
      buffer.push(entries);
    }

    // Reuse counters: the sample ledger of this epoch, newest first, back to the draws that could touch the buffer.
    const sampleK = await this.countSamples(runId, epoch);
    const oldest = buffer.oldest()?.seq;
    if (oldest !== undefined) {
      for (let k = sampleK - 1; k >= 0; k--) {
        const doc = await this.store.getSample(runId, epoch, k);
        if (!doc || doc.headSeq < oldest) break;
        for (const seq of doc.seqs) {
          const e = buffer.findSeq(seq);
          if (e) e.reuse++;
        }
      }
    }

    const ranges = new StepRanges();
    let nextSeq = slot.state?.nextSeq ?? 0;
    let appendedTotal = 0;
    for (const m of manifests) {
      ranges.add(m.step, m.startIndex, m.count, m.id);
      nextSeq = Math.max(nextSeq, m.firstSeq + m.count);
      appendedTotal += m.count;
    }
    slot.state = {
      runId,
      capacity: run.capacity,
      watermark: run.watermark,
      buffer,
      epoch,
      resetId: lastReset?.resetId ?? "",
      nextSeq,
      manifests,
      manifestById: new Map(manifests.map((m) => [m.id, m])),
      ranges,
      sampleK,
      appendedTotal,
    };
    slot.loaded = true;
    slot.dirty = false;
  }

  /** Sample documents of an epoch are numbered 0, 1, 2, ... with no gaps: find the count by galloping then bisecting. */
  private async countSamples(runId: string, epoch: number): Promise<number> {
    const exists = async (k: number) => (await this.store.getSample(runId, epoch, k)) !== undefined;
    if (!(await exists(0))) return 0;
    let lo = 0;
    let hi = 1;
    while (await exists(hi)) {
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await exists(mid)) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  private newState(runId: string, capacity: number): RunState {
    return {
      runId,
      capacity,
      watermark: 0,
      buffer: new FifoBuffer(capacity),
      epoch: 0,
      resetId: "",
      nextSeq: 0,
      manifests: [],
      manifestById: new Map(),
      ranges: new StepRanges(),
      sampleK: 0,
      appendedTotal: 0,
    };
  }

  /** Marks the run dirty when a write fails, then rethrows. */
  private async write<T>(slot: RunSlot, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      slot.dirty = true;
      throw err;
    }
  }

  async configureRun(runId: string, capacity: number): Promise<{ run: RunSummary; created: boolean; evicted: number }> {
    return this.locked(runId, "both", async (slot) => {
      const st = slot.state;
      if (!st) {
        const outcome = await this.write(slot, () => this.store.insertRun({ runId, capacity, watermark: 0, createdAt: Date.now() }));
        if (outcome === "duplicate") {
          slot.dirty = true;
          return RETRY;
        }
        slot.state = this.newState(runId, capacity);
        return { run: summary(slot.state), created: true, evicted: 0 };
      }
      // Everything below the oldest survivor stays evicted even if the capacity grows.
      const over = Math.max(0, st.buffer.size - capacity);
      const watermark = st.buffer.size > over ? st.buffer.at(over).seq : st.nextSeq;
      await this.write(slot, () => this.store.updateRun(runId, capacity, watermark));
      st.watermark = watermark;
      st.capacity = capacity;
      const evicted = st.buffer.resize(capacity);
      return { run: summary(st), created: false, evicted };
    });
  }

  async listRuns(): Promise<RunSummary[]> {
    const runs = await this.store.listRuns();
    const out: RunSummary[] = [];
    for (const r of runs) {
      const slot = this.slot(r.runId);
      await this.ensureLoaded(r.runId, slot);
      if (slot.state) out.push(summary(slot.state));
    }
    return out;
  }

  async append(input: AppendInput): Promise<AppendOutcome> {
    const { runId, step, startIndex, trajectories } = input;
    const n = trajectories.length;
    return this.locked(runId, "append", async (slot) => {
      let st = slot.state;
      if (!st) {
        const outcome = await this.write(slot, () =>
          this.store.insertRun({ runId, capacity: this.options.defaultCapacity, watermark: 0, createdAt: Date.now() }),
        );
        if (outcome === "duplicate") {
          slot.dirty = true;
          return RETRY;
        }
        st = slot.state = this.newState(runId, this.options.defaultCapacity);
      }
      if (input.expectedResetId !== "" && input.expectedResetId !== st.resetId) {
        throw new FailedPreconditionError(
          `expected_reset_id ${JSON.stringify(input.expectedResetId)} is not the run's current reset (${JSON.stringify(st.resetId)}): the buffer was flushed since`,
        );
      }
      const check = st.ranges.check(step, startIndex, n);
      if (check.kind === "same") {
        const m = st.manifestById.get(check.manifestId)!;
        return { appended: 0, duplicate: true, firstSeq: m.firstSeq, count: m.count, evicted: 0, run: summary(st) };
      }
      if (check.kind === "overlap") {
        throw new FailedPreconditionError(
          `step ${step} indexes [${startIndex}, ${startIndex + n}) overlap the already appended [${check.start}, ${check.end}); retry an append with the same step, start_index and trajectories`,
        );
      }
      const id = manifestId(runId, step, startIndex);
      const firstSeq = st.nextSeq;
      st.nextSeq += n;
      const epoch = st.epoch;
      const writing = this.write(slot, () => this.store.writeParts(runId, id, trajectories));
      // Encode for Sample while the database works (the result is dropped if the write fails).
      const encoded = this.options.encode ? trajectories.map(this.options.encode) : undefined;
      const parts = await writing;
      const manifest: Manifest = { id, runId, step, startIndex, count: n, firstSeq, epoch, insertedAt: Date.now(), parts };
      const outcome = await this.write(slot, () => this.store.insertManifest(manifest));
      if (outcome === "duplicate") {
        // Committed by an attempt whose acknowledgement was lost: reload, then answer as a duplicate.
        slot.dirty = true;
        return RETRY;
      }
      st.manifests.push(manifest);
      st.manifestById.set(id, manifest);
      st.ranges.add(step, startIndex, n, id);
      st.appendedTotal += n;
      const entries = trajectories.map(
        (trajectory, i): Entry => ({ step, index: startIndex + i, seq: firstSeq + i, epoch, insertedAt: manifest.insertedAt, reuse: 0, trajectory, encoded: encoded?.[i] }),
      );
      const evicted = st.buffer.push(entries);
      return { appended: n, duplicate: false, firstSeq, count: n, evicted, run: summary(st) };
    });
  }

  /**
   * Draws, then records the draw in the ledger. Resolves with the draw as soon
   * as the ledger insert is on its way (one event-loop turn after it is issued),
   * so the caller can serialize and send while the database works; `committed`
   * settles when the insert does. Until it resolves the draw is not acknowledged:
   * the caller must not report success (an OK status) before it, and must report
   * failure if it rejects (the run is then dirty and reloads before its next
   * call, so the counters never include an unrecorded draw). The run's sample
   * lock is held until the insert settles, so ledger numbers stay dense. The
   * records' reuse counts include this draw; the in-memory counters (stats,
   * queries) count it once `committed` resolves.
   */
  async drawSample(input: SampleInput): Promise<SampleDraw> {
    const { runId } = input;
    let resolveDraw!: (d: SampleDraw) => void;
    const drawn = new Promise<SampleDraw>((resolve) => (resolveDraw = resolve));
    const held = this.locked(runId, "sample", async (slot): Promise<void> => {
      const st = slot.state;
      if (!st) throw unknownRun(runId, "run_id");
      const buffer = st.buffer;
      let pick: (p: number) => Entry;
      let eligible: number;
      if (input.minPolicyVersion !== undefined) {
        const min = input.minPolicyVersion;
        const idx: Entry[] = [];
        for (const e of buffer.entries()) if (e.trajectory.policyVersion >= min) idx.push(e);
        eligible = idx.length;
        pick = (p) => idx[p]!;
      } else {
        eligible = buffer.size;
        pick = (p) => buffer.at(p);
      }
      if (eligible === 0) {
        throw new FailedPreconditionError(
          input.minPolicyVersion !== undefined
            ? `run ${JSON.stringify(runId)} has no trajectory with policy_version >= ${input.minPolicyVersion} in its buffer`
            : `run ${JSON.stringify(runId)} has an empty buffer`,
        );
      }
      if (!input.withReplacement && input.batchSize > eligible) {
        throw new FailedPreconditionError(
          `batch_size ${input.batchSize} exceeds the ${eligible} eligible trajectories in the buffer; set with_replacement or ask for fewer`,
        );
      }
      const rng = new Rng(input.seed ?? Rng.randomSeed());
      const entries = drawPositions(rng, eligible, input.batchSize, input.withReplacement).map(pick);
      const k = st.sampleK;
      const epoch = st.epoch;
      const committed = this.write(slot, () => this.store.insertSample({ runId, epoch, k, headSeq: buffer.newest()!.seq, seqs: entries.map((e) => e.seq) })).then(
        (outcome) => {
          if (outcome === "duplicate") {
            // Another process wrote this ledger entry (two owners of one run): reload before the next call.
            slot.dirty = true;
            throw new LedgerConflictError(runId, epoch, k);
          }
          st.sampleK = k + 1;
          for (const e of entries) e.reuse++;
        },
      );
      // Handled here, so a caller that stops listening leaves no unhandled rejection; the lock waits for it.
      const settled = committed.then(
        () => undefined,
        () => undefined,
      );
      // The reuse counts as they will be once the draw is recorded (with replacement, an entry drawn twice counts twice).
      const reuse = new Array<number>(entries.length);
      if (input.withReplacement) {
        const times = new Map<Entry, number>();
        for (const e of entries) times.set(e, (times.get(e) ?? 0) + 1);
        for (let i = 0; i < entries.length; i++) reuse[i] = entries[i]!.reuse + times.get(entries[i]!)!;
      } else {
        for (let i = 0; i < entries.length; i++) reuse[i] = entries[i]!.reuse + 1;
      }
      const draw = new Draw(runId, entries, reuse, eligible, summary(st), committed);
      // Let the insert reach the database before the caller spends the thread on serializing.
      await new Promise<void>((resolve) => setImmediate(resolve));
      resolveDraw(draw);
      await settled;
    });
    return Promise.race([drawn, held.then(() => drawn)]);
  }

  /** Draws and waits until the draw is recorded (see drawSample); retries a draw whose ledger entry was taken. */
  async sample(input: SampleInput): Promise<{ records: StoredRecord[]; eligible: number; run: RunSummary }> {
    for (;;) {
      const draw = await this.drawSample(input);
      try {
        await draw.committed;
      } catch (err) {
        if (err instanceof LedgerConflictError) continue;
        throw err;
      }
      return { records: draw.records, eligible: draw.eligible, run: draw.run };
    }
  }

  async flush(runId: string, resetId: string): Promise<{ flushed: number; alreadyApplied: boolean; epoch: number; run: RunSummary }> {
    return this.locked(runId, "both", async (slot) => {
      const st = slot.state;
      if (!st) throw unknownRun(runId, "run_id");
      if (st.resetId === resetId) return { flushed: 0, alreadyApplied: true, epoch: st.epoch, run: summary(st) };
      const epoch = st.epoch + 1;
      const outcome = await this.write(slot, () => this.store.insertReset({ runId, resetId, epoch, at: Date.now() }));
      if (outcome === "duplicate") {
        // An earlier reset of this run (not the latest): nothing changes.
        const earlier = await this.store.getReset(runId, resetId);
        return { flushed: 0, alreadyApplied: true, epoch: earlier?.epoch ?? 0, run: summary(st) };
      }
      st.epoch = epoch;
      st.resetId = resetId;
      st.sampleK = 0;
      const flushed = st.buffer.clear();
      return { flushed, alreadyApplied: false, epoch, run: summary(st) };
    });
  }

  async stats(runId: string): Promise<{ run: RunSummary; stats: BufferStats; samplesDrawn: number; appendedTotal: number }> {
    const st = await this.current(runId);
    return { run: summary(st), stats: bufferStats(st.buffer), samplesDrawn: st.sampleK, appendedTotal: st.appendedTotal };
  }

  /** Trajectories matching the filter with seq > afterSeq, in seq order, as they are read. */
  async *scan(runId: string, scope: Scope, filter: TrajectoryFilter, afterSeq: number): AsyncGenerator<StoredRecord> {
    const st = await this.current(runId, "filter.run_id");
    if (scope === "buffer") {
      // A snapshot: appends during the scan do not shift it.
      const entries = [...st.buffer.entries()];
      for (const e of entries) {
        if (e.seq > afterSeq && matches(filter, e.step, e.insertedAt, e.trajectory)) yield liveRecord(runId, e);
      }
      return;
    }
    const manifests = st.manifests.slice();
    for (const m of manifests) {
      if (m.firstSeq + m.count - 1 <= afterSeq || !manifestMayMatch(filter, m)) continue;
      // From memory when the whole append is still in the buffer, else from the store.
      const live = Array.from({ length: m.count }, (_, i) => (m.epoch === st.epoch ? st.buffer.findSeq(m.firstSeq + i) : undefined));
      const trajectories = live.every((e) => e !== undefined) ? live.map((e) => e!.trajectory) : await this.store.readParts(m.parts);
      for (let i = 0; i < trajectories.length; i++) {
        const seq = m.firstSeq + i;
        if (seq <= afterSeq) continue;
        const t = trajectories[i]!;
        if (!matches(filter, m.step, m.insertedAt, t)) continue;
        const e = live[i];
        yield {
          runId,
          step: m.step,
          index: m.startIndex + i,
          seq,
          epoch: m.epoch,
          state: e ? "live" : m.epoch < st.epoch ? "stale" : "evicted",
          reuse: e?.reuse ?? 0,
          insertedAt: m.insertedAt,
          trajectory: t,
        };
      }
    }
  }

  async query(runId: string, scope: Scope, filter: TrajectoryFilter, afterSeq: number, limit: number): Promise<{ records: StoredRecord[]; hasMore: boolean }> {
    const records: StoredRecord[] = [];
    for await (const r of this.scan(runId, scope, filter, afterSeq)) {
      if (records.length === limit) return { records, hasMore: true };
      records.push(r);
    }
    return { records, hasMore: false };
  }
}

function unknownRun(runId: string, fieldPath: string): InvalidArgumentError {
  return new InvalidArgumentError(fieldPath, `unknown run ${JSON.stringify(runId)} (append to it or ConfigureRun first)`);
}

function summary(st: RunState): RunSummary {
  return { runId: st.runId, capacity: st.capacity, size: st.buffer.size, epoch: st.epoch, resetId: st.resetId, nextSeq: st.nextSeq };
}

function liveRecord(runId: string, e: Entry, reuse = e.reuse): StoredRecord {
  return { runId, step: e.step, index: e.index, seq: e.seq, epoch: e.epoch, state: "live", reuse, insertedAt: e.insertedAt, trajectory: e.trajectory, encoded: e.encoded };
}

class Draw implements SampleDraw {
  private all: StoredRecord[] | undefined;

  constructor(
    readonly runId: string,
    readonly entries: readonly Entry[],
    readonly reuse: readonly number[],
    readonly eligible: number,
    readonly run: RunSummary,
    readonly committed: Promise<void>,
  ) {}

  record(i: number): StoredRecord {
    return liveRecord(this.runId, this.entries[i]!, this.reuse[i]!);
  }

  get records(): StoredRecord[] {
    return (this.all ??= this.entries.map((_, i) => this.record(i)));
  }
}
