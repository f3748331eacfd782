// Trajectories <-> part documents. A part holds up to PART_MAX_BYTES of
// trajectories as columns: numbers and token ids packed little-endian into
// BSON binaries (4 bytes per token instead of a BSON array element of ~9-16
// bytes that FerretDB stores as JSON text), strings as arrays.
import { Binary } from "mongodb";
import type { Trajectory } from "../domain/types";

/** Well under MongoDB's 16 MiB document limit. */
export const PART_MAX_BYTES = 8 * 1024 * 1024;

export interface PartColumns {
  n: number;
  promptIds: string[];
  groupIds: string[];
  promptTexts: string[];
  responseTexts: string[];
  /** Float64 each. */
  rewards: Binary;
  policyVersions: Binary;
  /** NaN = absent (requests carrying NaN are refused). */
  refLogprobSums: Binary;
  refValues: Binary;
  createdAt: Binary;
  /** Uint32 lengths. */
  promptLens: Binary;
  responseLens: Binary;
  logprobLens: Binary;
  /** Uint32 token ids, concatenated. */
  promptTokens: Binary;
  responseTokens: Binary;
  /** Float32, concatenated. */
  logprobs: Binary;
}

/** Rough BSON size of a trajectory in a part. */
export function encodedSize(t: Trajectory): number {
  return (
    64 +
    4 * (t.promptTokenIds.length + t.responseTokenIds.length + t.responseLogprobs.length) +
    3 * (t.promptText.length + t.responseText.length) +
    t.promptId.length +
    t.groupId.length
  );
}

/** Splits trajectories into consecutive chunks of at most maxBytes each (a single large trajectory is a chunk of its own). */
export function splitParts(trajectories: readonly Trajectory[], maxBytes = PART_MAX_BYTES): Trajectory[][] {
  const chunks: Trajectory[][] = [];
  let current: Trajectory[] = [];
  let bytes = 0;
  for (const t of trajectories) {
    const size = encodedSize(t);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

const bin = (view: ArrayBufferView) => new Binary(Buffer.from(view.buffer, view.byteOffset, view.byteLength));

export function encodeColumns(ts: readonly Trajectory[]): PartColumns {
  const n = ts.length;
  const rewards = new Float64Array(n);
  const policyVersions = new Float64Array(n);
  const refLogprobSums = new Float64Array(n);
  const refValues = new Float64Array(n);
  const createdAt = new Float64Array(n);
  const promptLens = new Uint32Array(n);
  const responseLens = new Uint32Array(n);
  const logprobLens = new Uint32Array(n);
  let pTotal = 0;
  let rTotal = 0;
  let lTotal = 0;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    rewards[i] = t.reward;
    policyVersions[i] = Number(t.policyVersion);
    refLogprobSums[i] = t.refLogprobSum ?? NaN;
    refValues[i] = t.refValue ?? NaN;
    createdAt[i] = Number(t.createdAtUnixMs);
    promptLens[i] = t.promptTokenIds.length;
    responseLens[i] = t.responseTokenIds.length;
    logprobLens[i] = t.responseLogprobs.length;
    pTotal += t.promptTokenIds.length;
    rTotal += t.responseTokenIds.length;
    lTotal += t.responseLogprobs.length;
  }
  const promptTokens = new Uint32Array(pTotal);
  const responseTokens = new Uint32Array(rTotal);
  const logprobs = new Float32Array(lTotal);
  let p = 0;
  let r = 0;
  let l = 0;
  for (const t of ts) {
    promptTokens.set(t.promptTokenIds, p);
    p += t.promptTokenIds.length;
    responseTokens.set(t.responseTokenIds, r);
    r += t.responseTokenIds.length;
    logprobs.set(t.responseLogprobs, l);
    l += t.responseLogprobs.length;
  }
  return {
    n,
    promptIds: ts.map((t) => t.promptId),
    groupIds: ts.map((t) => t.groupId),
    promptTexts: ts.map((t) => t.promptText),
    responseTexts: ts.map((t) => t.responseText),
    rewards: bin(rewards),
    policyVersions: bin(policyVersions),
    refLogprobSums: bin(refLogprobSums),
    refValues: bin(refValues),
    createdAt: bin(createdAt),
    promptLens: bin(promptLens),
    responseLens: bin(responseLens),
    logprobLens: bin(logprobLens),
    promptTokens: bin(promptTokens),
    responseTokens: bin(responseTokens),
    logprobs: bin(logprobs),
  };
}

/** A copy of the binary's bytes in a fresh (aligned) ArrayBuffer. */
function bytes(b: Binary): ArrayBuffer {
  const view = b.buffer.subarray(0, b.position);
  const copy = new Uint8Array(view.length);
  copy.set(view);
  return copy.buffer;
}

export function decodeColumns(c: PartColumns): Trajectory[] {
  const rewards = new Float64Array(bytes(c.rewards));
  const policyVersions = new Float64Array(bytes(c.policyVersions));
  const refLogprobSums = new Float64Array(bytes(c.refLogprobSums));
  const refValues = new Float64Array(bytes(c.refValues));
  const createdAt = new Float64Array(bytes(c.createdAt));
  const promptLens = new Uint32Array(bytes(c.promptLens));
  const responseLens = new Uint32Array(bytes(c.responseLens));
  const logprobLens = new Uint32Array(bytes(c.logprobLens));
  const promptTokens = new Uint32Array(bytes(c.promptTokens));
  const responseTokens = new Uint32Array(bytes(c.responseTokens));
  const logprobs = new Float32Array(bytes(c.logprobs));
  const out: Trajectory[] = new Array(c.n);
  let p = 0;
  let r = 0;
  let l = 0;
  for (let i = 0; i < c.n; i++) {
    const pl = promptLens[i]!;
    const rl = responseLens[i]!;
    const ll = logprobLens[i]!;
    const refLogprobSum = refLogprobSums[i]!;
    const refValue = refValues[i]!;
    out[i] = {
      promptId: c.promptIds[i]!,
      groupId: c.groupIds[i]!,
      promptTokenIds: Array.from(promptTokens.subarray(p, p + pl)),
      responseTokenIds: Array.from(responseTokens.subarray(r, r + rl)),
      promptText: c.promptTexts[i]!,
      responseText: c.responseTexts[i]!,
      responseLogprobs: Array.from(logprobs.subarray(l, l + ll)),
      reward: rewards[i]!,
      policyVersion: BigInt(policyVersions[i]!),
      refLogprobSum: Number.isNaN(refLogprobSum) ? undefined : refLogprobSum,
      refValue: Number.isNaN(refValue) ? undefined : refValue,
      createdAtUnixMs: BigInt(createdAt[i]!),
    };
    p += pl;
    r += rl;
    l += ll;
  }
  return out;
}

export function packSeqs(seqs: readonly number[]): Binary {
  return bin(Float64Array.from(seqs));
}

export function unpackSeqs(b: Binary): number[] {
  return Array.from(new Float64Array(bytes(b)));
}
