// SampleResponse serialisation that splices in each trajectory's cached
// protobuf encoding (a trajectory never changes once appended) instead of
// encoding ~3.6 MB of token ids, log-probs and text again for every draw of
// 1,024.
//
// The bytes are exactly what the generated SampleResponse.encode writes (same
// fields, same order, defaults omitted), built in two passes: sizes first, then
// one Buffer of exactly that size, filled in place. The generated
// BinaryWriter instead grows a buffer by doubling from 128 bytes and copies the
// result once more at finish(): ~12 MB of short-lived allocations and copies per
// 3.6 MB response, against 3.6 MB here (grpc-js then copies it once into its
// frame). A StoredTrajectory without cached bytes, or with a value the fast path
// does not cover (a negative int64/enum, a 64-bit value above 2^53 − 1), is
// encoded by the generated code and copied in.
//
// Responses of 64 KiB … 16 MiB are written into one reused scratch buffer (grown
// by doubling, never shrunk), so a draw of 1,024 allocates nothing of 3.6 MB
// itself. This relies on grpc-js copying the serializer's result at once:
// `serializeMessage` (server-interceptors.js, 1.14) calls `serialize`, then
// `Buffer.allocUnsafe(length + 5)` and `copy` into its frame in the same
// synchronous step, and never keeps the returned buffer. The test "a reused
// serializer buffer survives concurrent Sample calls over grpc-js" checks that on
// the installed version (concurrent calls, every response checked byte for byte);
// a grpc-js that kept the buffer (e.g. async compression) would fail it.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { RunInfo, SampleResponse, StoredTrajectory } from "../../../../shared/gen/valor/replay/v1/replay.pb";

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

/** The numeric fields of one StoredTrajectory as safe non-negative integers, or undefined (use the generated encoder). */
interface Fast {
  runId: string;
  runIdBytes: number;
  step: number;
  index: number;
  seq: number;
  epoch: number;
  state: number;
  reuse: number;
  insertedAt: number;
  cached: Uint8Array;
  /** Length of the StoredTrajectory message. */
  size: number;
}

const u64 = (v: bigint): number | undefined => (v >= 0n && v <= MAX_SAFE ? Number(v) : undefined);

function fastFields(st: WithEncoded, runIdBytes: (s: string) => number): Fast | undefined {
  const cached = st[ENCODED_TRAJECTORY];
  if (!cached) return undefined;
  const step = u64(st.step);
  const seq = u64(st.seq);
  const epoch = u64(st.epoch);
  const insertedAt = u64(st.insertedAtUnixMs);
  if (step === undefined || seq === undefined || epoch === undefined || insertedAt === undefined) return undefined;
  const ok = (v: number) => Number.isSafeInteger(v) && v >= 0;
  if (!ok(st.state) || !ok(st.index) || !ok(st.reuseCount)) return undefined;
  const idBytes = st.runId === "" ? 0 : runIdBytes(st.runId);
  let size = 0;
  if (st.runId !== "") size += 1 + varintSize(idBytes) + idBytes;
  if (step !== 0) size += 1 + varintSize(step);
  if (st.index !== 0) size += 1 + varintSize(st.index);
  if (seq !== 0) size += 1 + varintSize(seq);
  if (epoch !== 0) size += 1 + varintSize(epoch);
  if (st.state !== 0) size += 1 + varintSize(st.state);
  if (st.reuseCount !== 0) size += 1 + varintSize(st.reuseCount);
  if (insertedAt !== 0) size += 1 + varintSize(insertedAt);
  size += 1 + varintSize(cached.length) + cached.length;
  return { runId: st.runId, runIdBytes: idBytes, step, index: st.index, seq, epoch, state: st.state, reuse: st.reuseCount, insertedAt, cached, size };
}

function writeFast(buf: Buffer, pos: number, f: Fast): number {
  if (f.runId !== "") {
    buf[pos++] = TAG_RUN_ID;
    pos = writeVarint(buf, pos, f.runIdBytes);
    pos += buf.write(f.runId, pos, f.runIdBytes, "utf8");
  }
  if (f.step !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_STEP), pos + 1), f.step);
  if (f.index !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_INDEX), pos + 1), f.index);
  if (f.seq !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_SEQ), pos + 1), f.seq);
  if (f.epoch !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_EPOCH), pos + 1), f.epoch);
  if (f.state !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_STATE), pos + 1), f.state);
  if (f.reuse !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_REUSE), pos + 1), f.reuse);
  if (f.insertedAt !== 0) pos = writeVarint(buf, ((buf[pos] = TAG_INSERTED_AT), pos + 1), f.insertedAt);
  buf[pos++] = TAG_TRAJECTORY;
  pos = writeVarint(buf, pos, f.cached.length);
  buf.set(f.cached, pos);
  return pos + f.cached.length;
}

const SCRATCH_MIN = 64 * 1024;
const SCRATCH_MAX = 16 * 1024 * 1024;
let scratch: Buffer | undefined;

/** A buffer of `size` bytes to serialize into: a view of the reused scratch for large responses (see above). */
function responseBuffer(size: number): Buffer {
  if (size < SCRATCH_MIN || size > SCRATCH_MAX) return Buffer.allocUnsafe(size);
  if (!scratch || scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, Math.max(size, 2 * (scratch?.length ?? 0))));
  return scratch.subarray(0, size);
}

/** The bytes of a SampleResponse. A large result is only valid until the next call: the caller must copy it first (grpc-js does). */
export function serializeSampleResponse(res: SampleResponse): Buffer {
  // Every record of a draw has the same run id: measure its UTF-8 length once.
  let lastId = "";
  let lastIdBytes = 0;
  const runIdBytes = (s: string) => (s === lastId ? lastIdBytes : ((lastId = s), (lastIdBytes = Buffer.byteLength(s, "utf8"))));

  // Pass 1: every item's bytes (fast fields, or the generated encoding), and the total.
  const items: Array<Fast | Uint8Array> = new Array(res.trajectories.length);
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const st = res.trajectories[i] as WithEncoded;
    const item = fastFields(st, runIdBytes) ?? StoredTrajectory.encode(st).finish();
    const len = item instanceof Uint8Array ? item.length : item.size;
    items[i] = item;
    total += 1 + varintSize(len) + len;
  }
  // The trailing fields are small: the generated code writes them.
  const tail = new BinaryWriter();
  if (res.eligible !== 0) tail.uint32(TAG_ELIGIBLE).uint32(res.eligible);
  if (res.run !== undefined) RunInfo.encode(res.run, tail.uint32(TAG_RUN).fork()).join();
  const tailBytes = tail.finish();

  // Pass 2: one buffer of exactly the message's size.
  const buf = responseBuffer(total + tailBytes.length);
  let pos = 0;
  for (const item of items) {
    buf[pos++] = TAG_TRAJECTORIES;
    if (item instanceof Uint8Array) {
      pos = writeVarint(buf, pos, item.length);
      buf.set(item, pos);
      pos += item.length;
    } else {
      pos = writeVarint(buf, pos, item.size);
      pos = writeFast(buf, pos, item);
    }
  }
  buf.set(tailBytes, pos);
  pos += tailBytes.length;
  if (pos !== buf.length) throw new Error(`SampleResponse serializer: wrote ${pos} bytes, sized ${buf.length}`);
  return buf;
}
