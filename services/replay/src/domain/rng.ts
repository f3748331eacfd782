// A seeded pseudo-random generator for reproducible draws: sfc32 (Chris
// Doty-Humphrey's Small Fast Counting generator, 128-bit state), seeded from a
// 64-bit seed through splitmix64. Integers in [0, n) by rejection, so every
// value is exactly equally likely (no modulo bias).
import { randomBytes } from "node:crypto";

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: { s: bigint }): bigint {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: bigint) {
    const st = { s: BigInt.asUintN(64, seed) };
    const x = splitmix64(st);
    const y = splitmix64(st);
    this.a = Number(x & 0xffffffffn) >>> 0;
    this.b = Number(x >> 32n) >>> 0;
    this.c = Number(y & 0xffffffffn) >>> 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static randomSeed(): bigint {
    return randomBytes(8).readBigUInt64LE(0);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform integer in [0, n), 1 <= n <= 2^32, exactly (rejection sampling). */
  below(n: number): number {
    if (!(n >= 1 && n <= 0x1_0000_0000 && Number.isInteger(n))) throw new RangeError(`below(${n})`);
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }
}

/**
 * k positions drawn uniformly from [0, n). Without replacement: a partial
 * Fisher-Yates shuffle over a virtual array (a Map of the swapped slots), so
 * O(k) time and memory whatever n is; every k-subset in every order is equally
 * likely.
 */
export function drawPositions(rng: Rng, n: number, k: number, withReplacement: boolean): number[] {
  const out = new Array<number>(k);
  if (withReplacement) {
    for (let i = 0; i < k; i++) out[i] = rng.below(n);
    return out;
  }
  if (k > n) throw new RangeError(`cannot draw ${k} of ${n} without replacement`);
  const swapped = new Map<number, number>();
  for (let i = 0; i < k; i++) {
    const j = i + rng.below(n - i);
    const atJ = swapped.get(j) ?? j;
    const atI = swapped.get(i) ?? i;
    swapped.set(j, atI);
    out[i] = atJ;
  }
  return out;
}
