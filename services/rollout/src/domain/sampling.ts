// Token sampling: temperature and nucleus (top-p) over one row of logits, with
// a per-sequence random stream so a sample depends only on its own seed.
import { fnv1a32 } from "../../../../shared/random";

/** Derives independent 32-bit seeds from (request seed, prompt, sample). */
export function seedFor(...parts: Array<string | number | bigint>): number {
  return fnv1a32(parts.join(":"));
}

/** log-softmax of a row at temperature 1: the log-probability the learner's ratio uses. */
export function logSoftmaxAt(logits: Float32Array, offset: number, size: number, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += Math.exp(logits[offset + i]! - max);
  return logits[offset + token]! - max - Math.log(sum);
}

export interface SamplingSettings {
  temperature: number;
  topP: number;
}

/**
 * Draws a token from logits[offset .. offset+size) with temperature and top-p,
 * using one uniform number u in [0, 1). Temperature 0 is greedy (ties → lowest id).
 */
export function sampleToken(logits: Float32Array, offset: number, size: number, settings: SamplingSettings, u: number): number {
  if (settings.temperature === 0) {
    let best = 0;
    for (let i = 1; i < size; i++) if (logits[offset + i]! > logits[offset + best]!) best = i;
    return best;
  }
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[offset + i]!);
  const probs = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    probs[i] = Math.exp((logits[offset + i]! - max) / settings.temperature);
    sum += probs[i]!;
  }
  // Most probable first; ties by id so the order is deterministic.
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  let kept = 0;
  let mass = 0;
  for (const i of order) {
    mass += probs[i]! / sum;
    kept++;
    if (mass >= settings.topP) break;
  }
  let target = u * (mass * sum);
  for (let k = 0; k < kept; k++) {
    const i = order[k]!;
    target -= probs[i]!;
    if (target < 0) return i;
  }
  return order[kept - 1]!;
}
