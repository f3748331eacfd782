// SampleResponse serialisation that splices in each trajectory's cached
// protobuf encoding (a trajectory never changes once appended) instead of
// encoding ~3.6 MB of token ids, log-probs and text again for every draw of
// 1,024.
//
// The bytes are exactly what the generated SampleResponse.encode writes (same
// fields, same order, defaults omitted), built in two passes: sizes first, then
// the bytes, written in place. A StoredTrajectory without cached bytes, or with a
// value the fast path does not cover (a negative int64/enum, a 64-bit value
// above 2^53 − 1), is encoded by the generated code and copied in.
//
// The service's Sample method serializes with `sampleResponseWriter`, which
// returns no bytes at all but the plan of the message: its `byteLength`, and a
// `copy(target, start)` that writes the message into grpc-js's own frame buffer.
// grpc-js's `serializeMessage` (server-interceptors.js, 1.14) calls the
// serializer, reads `byteLength`, allocates the frame (`Buffer.allocUnsafe(
// byteLength + 5)`), and calls `copy(frame, 5)`: so a draw of 1,024 (3.6 MB)
// writes its bytes once, straight into the frame, instead of into a buffer of
// ours that grpc-js then copies again. The plan holds only immutable data (the
// cached encodings, numbers), so it is correct whenever it is copied, by any
// number of concurrent calls. It is a handful of arrays (numbers in one
// Float64Array), not an object per trajectory: a draw's garbage stays small, so
// little of it is promoted to the old generation, which is what sets off the
// service's major GCs. A grpc-js that used the result any other way
// fails loudly (reading `length` throws, so no TypedArray/Buffer conversion can
// silently copy nothing): the test "the in-place Sample writer over grpc-js"
// checks the installed version byte for byte under concurrent calls.
// `serializeSampleResponse` returns a plain Buffer (tests, other callers).
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { RunInfo, SampleResponse, StoredTrajectory, TrajectoryState } from "../../../../shared/gen/valor/replay/v1/replay.pb";

export const ENCODED_TRAJECTORY = Symbol("encodedTrajectory");

type WithEncoded = StoredTrajectory & { [ENCODED_TRAJECTORY]?: Uint8Array };

const TAG_TRAJECTORIES = (1 << 3) | 2; // SampleResponse.trajectories = 1
const TAG_ELIGIBLE = (2 << 3) | 0; // SampleResponse.eligible = 2
const TAG_RUN = (3 << 3) | 2; // SampleResponse.run = 3
// StoredTrajectory fields 1 … 9 (all tags fit in one byte).
const TAG_RUN_ID = (1 << 3) | 2;
const TAG_STEP = (2 << 3) | 0;
const TAG_INDEX = (3 << 3) | 0;
const TAG_SEQ = (4 << 3) | 0;
const TAG_EPOCH = (5 << 3) | 0;
const TAG_STATE = (6 << 3) | 0;
const TAG_REUSE = (7 << 3) | 0;
const TAG_INSERTED_AT = (8 << 3) | 0;
const TAG_TRAJECTORY = (9 << 3) | 2;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes of the varint of a non-negative safe integer. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

const u64 = (v: bigint): number | undefined => (v >= 0n && v <= MAX_SAFE ? Number(v) : undefined);
const isUint = (v: number) => Number.isSafeInteger(v) && v >= 0;

// Per item, in `nums` (stride 8): the StoredTrajectory's numeric fields and its message size.
const STEP = 0;
const INDEX = 1;
const SEQ = 2;
const EPOCH = 3;
const STATE = 4;
const REUSE = 5;
const INSERTED_AT = 6;
const SIZE = 7;
const STRIDE = 8;

/**
 * Pass 1, item by item: a "fast" item (numeric fields as safe non-negative integers, and the
 * trajectory's cached bytes) is kept as numbers and written field by field; any other item as
 * its generated encoding, copied as is.
 */
class PlanBuilder {
  readonly nums: Float64Array;
  /** Fast item: the trajectory's cached bytes; other: the whole StoredTrajectory encoding. */
  readonly bytes: Uint8Array[];
  /** Fast item: the run id's UTF-8 bytes (shared); other: undefined. */
  readonly runIds: Array<Buffer | undefined>;
  total = 0;

  constructor(readonly n: number) {
    this.nums = new Float64Array(n * STRIDE);
    this.bytes = new Array<Uint8Array>(n);
    this.runIds = new Array<Buffer | undefined>(n);
  }

  fast(i: number, runId: Buffer, step: number, index: number, seq: number, epoch: number, state: number, reuse: number, insertedAt: number, cached: Uint8Array): void {
    let size = 0;
    if (runId.length !== 0) size += 1 + varintSize(runId.length) + runId.length;
    if (step !== 0) size += 1 + varintSize(step);
    if (index !== 0) size += 1 + varintSize(index);
    if (seq !== 0) size += 1 + varintSize(seq);
    if (epoch !== 0) size += 1 + varintSize(epoch);
    if (state !== 0) size += 1 + varintSize(state);
    if (reuse !== 0) size += 1 + varintSize(reuse);
    if (insertedAt !== 0) size += 1 + varintSize(insertedAt);
    size += 1 + varintSize(cached.length) + cached.length;
    const o = i * STRIDE;
    const nums = this.nums;
    nums[o + STEP] = step;
    nums[o + INDEX] = index;
    nums[o + SEQ] = seq;
    nums[o + EPOCH] = epoch;
    nums[o + STATE] = state;
    nums[o + REUSE] = reuse;
    nums[o + INSERTED_AT] = insertedAt;
    nums[o + SIZE] = size;
    this.bytes[i] = cached;
    this.runIds[i] = runId;
    this.total += 1 + varintSize(size) + size;
  }

  encoded(i: number, message: Uint8Array): void {
    this.bytes[i] = message;
    this.total += 1 + varintSize(message.length) + message.length;
  }

  /** Adds the trailing fields (small: the generated code writes them). */
  finish(eligible: number, run: RunInfo | undefined): SampleResponseBytes {
    const tail = new BinaryWriter();
    if (eligible !== 0) tail.uint32(TAG_ELIGIBLE).uint32(eligible);
    if (run !== undefined) RunInfo.encode(run, tail.uint32(TAG_RUN).fork()).join();
    const tailBytes = tail.finish();
    return new SampleResponseBytes(this.total + tailBytes.length, this, tailBytes);
  }
}

/** Every record of a draw has the same run id: encode it once. */
function runIdEncoder(): (s: string) => Buffer {
  let lastId = "";
  let lastBytes: Buffer = Buffer.alloc(0);
  return (s) => (s === lastId ? lastBytes : ((lastId = s), (lastBytes = Buffer.from(s, "utf8"))));
}

/** A SampleResponse measured and ready to be written into any buffer (see the top of the file). */
export class SampleResponseBytes {
  constructor(
    readonly byteLength: number,
    private readonly items: PlanBuilder,
    private readonly tail: Uint8Array,
  ) {}

  /** Writes the message at `target[targetStart …]`, as Buffer.prototype.copy would; returns the bytes written. */
  copy(target: Uint8Array, targetStart = 0): number {
    if (targetStart < 0 || targetStart + this.byteLength > target.length) {
      throw new RangeError(`SampleResponse: ${this.byteLength} bytes do not fit at ${targetStart} in ${target.length}`);
    }
    const buf = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.length);
    const { n, nums, bytes, runIds } = this.items;
    let pos = targetStart;
    for (let i = 0; i < n; i++) {
      buf[pos++] = TAG_TRAJECTORIES;
      const b = bytes[i]!;
      const id = runIds[i];
      if (id === undefined) {
        pos = writeVarint(buf, pos, b.length);
        buf.set(b, pos);
        pos += b.length;
        continue;
      }
      const o = i * STRIDE;
      pos = writeVarint(buf, pos, nums[o + SIZE]!);
      if (id.length !== 0) {
        buf[pos++] = TAG_RUN_ID;
        pos = writeVarint(buf, pos, id.length);
        for (let j = 0; j < id.length; j++) buf[pos++] = id[j]!;
      }
      let v: number;
      if ((v = nums[o + STEP]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_STEP), pos + 1), v);
      if ((v = nums[o + INDEX]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_INDEX), pos + 1), v);
      if ((v = nums[o + SEQ]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_SEQ), pos + 1), v);
      if ((v = nums[o + EPOCH]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_EPOCH), pos + 1), v);
      if ((v = nums[o + STATE]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_STATE), pos + 1), v);
      if ((v = nums[o + REUSE]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_REUSE), pos + 1), v);
      if ((v = nums[o + INSERTED_AT]!) !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_INSERTED_AT), pos + 1), v);
      buf[pos++] = TAG_TRAJECTORY;
      pos = writeVarint(buf, pos, b.length);
      buf.set(b, pos);
      pos += b.length;
    }
    buf.set(this.tail, pos);
    pos += this.tail.length;
    if (pos - targetStart !== this.byteLength) throw new Error(`SampleResponse serializer: wrote ${pos - targetStart} bytes, sized ${this.byteLength}`);
    return this.byteLength;
  }

  /** Not a byte array: anything that would read it as one (TypedArray.set, Buffer.from, concat) fails here instead of copying nothing. */
  get length(): never {
    throw new TypeError("SampleResponseBytes is not a byte array: call copy(target, start)");
  }
}

/** Measures a SampleResponse (pass 1: every item's size, fast fields or the generated encoding). */
export function planSampleResponse(res: SampleResponse): SampleResponseBytes {
  const runIdBytes = runIdEncoder();
  const plan = new PlanBuilder(res.trajectories.length);
  for (let i = 0; i < plan.n; i++) {
    const st = res.trajectories[i] as WithEncoded;
    const cached = st[ENCODED_TRAJECTORY];
    const step = u64(st.step);
    const seq = u64(st.seq);
    const epoch = u64(st.epoch);
    const insertedAt = u64(st.insertedAtUnixMs);
    if (
      cached !== undefined &&
      step !== undefined &&
      seq !== undefined &&
      epoch !== undefined &&
      insertedAt !== undefined &&
      isUint(st.state) &&
      isUint(st.index) &&
      isUint(st.reuseCount)
    ) {
      plan.fast(i, runIdBytes(st.runId), step, st.index, seq, epoch, st.state, st.reuseCount, insertedAt, cached);
    } else {
      plan.encoded(i, StoredTrajectory.encode(st).finish());
    }
  }
  return plan.finish(res.eligible, res.run);
}

/** One drawn trajectory as the service holds it (a buffer entry): plain numbers and, when cached, its encoding. */
export interface DrawnTrajectory {
  step: number;
  index: number;
  seq: number;
  epoch: number;
  insertedAt: number;
  encoded?: Uint8Array;
}

const PLAN = Symbol("sampleResponsePlan");

/**
 * A SampleResponse of live trajectories of one run, measured at once from the draw's plain
 * numbers (no StoredTrajectory objects, no BigInts): `reuse[i]` is the reuse count to report
 * for `drawn[i]`. `trajectories` is built only if something reads it; sampleResponseWriter
 * uses the plan. `stored(i)` makes the i-th StoredTrajectory (for a trajectory without a
 * cached encoding, and for `trajectories`).
 */
export function drawnSampleResponse(
  runId: string,
  drawn: readonly DrawnTrajectory[],
  reuse: readonly number[],
  eligible: number,
  run: RunInfo | undefined,
  stored: (i: number) => StoredTrajectory,
): SampleResponse {
  const runIdBytes = Buffer.from(runId, "utf8");
  const live = TrajectoryState.TRAJECTORY_STATE_LIVE;
  const plan = new PlanBuilder(drawn.length);
  for (let i = 0; i < plan.n; i++) {
    const d = drawn[i]!;
    const r = reuse[i]!;
    if (d.encoded !== undefined && isUint(d.step) && isUint(d.index) && isUint(d.seq) && isUint(d.epoch) && isUint(r) && isUint(d.insertedAt)) {
      plan.fast(i, runIdBytes, d.step, d.index, d.seq, d.epoch, live, r, d.insertedAt, d.encoded);
    } else {
      plan.encoded(i, StoredTrajectory.encode(stored(i)).finish());
    }
  }
  let trajectories: StoredTrajectory[] | undefined;
  return {
    eligible,
    run,
    get trajectories(): StoredTrajectory[] {
      return (trajectories ??= drawn.map((_, i) => stored(i)));
    },
    [PLAN]: plan.finish(eligible, run),
  } as SampleResponse;
}

/** The service's Sample serializer: the plan, which grpc-js writes into its frame (see the top of the file). */
export function sampleResponseWriter(res: SampleResponse): Buffer {
  const plan = (res as SampleResponse & { [PLAN]?: SampleResponseBytes })[PLAN] ?? planSampleResponse(res);
  return plan as unknown as Buffer;
}

/** The bytes of a SampleResponse, in a buffer of their own. */
export function serializeSampleResponse(res: SampleResponse): Buffer {
  const plan = planSampleResponse(res);
  const buf = Buffer.allocUnsafe(plan.byteLength);
  plan.copy(buf, 0);
  return buf;
}
