// Seeded random streams for the study. Every stream is an MT19937 generator
// from @stdlib seeded by a hash of (base seed, mix, seed index, stream name),
// so each number in the study can be reproduced on its own.
import uniform from "@stdlib/random-base-uniform";
import normal from "@stdlib/random-base-normal";
import beta from "@stdlib/random-base-beta";

/** A uint32 seed in [1, 2^32 - 1] derived from the parts (FNV-1a, then a murmur finaliser). */
export function deriveSeed(...parts: Array<string | number>): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join("|")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0 || 1;
}

/** Uniform on [0, 1). */
export function uniformStream(seed: number): () => number {
  return uniform.factory(0, 1, { seed });
}

/** Standard normal. */
export function normalStream(seed: number): () => number {
  return normal.factory(0, 1, { seed });
}

/** Beta(alpha, beta) with per-call parameters. */
export function betaStream(seed: number): (a: number, b: number) => number {
  return beta.factory({ seed });
}
