// Reward scales. Binary rewards live in [0, 1], signed ones in [-1, +1]; the
// V0.5 formulas are the same on both once the prior and the variance bound are
// put on the working scale.

export type ScaleName = "binary" | "signed";

export interface Scale {
  name: ScaleName;
  min: number;
  max: number;
  /** Largest variance a single reward can have on this scale: ((max - min) / 2)^2. */
  maxVariance: number;
  /** Maps a pass rate p in [0, 1] to the expected reward on this scale. */
  fromPassRate(p: number): number;
  /** Maps a reward (or mean reward) on this scale to a pass rate in [0, 1]. */
  toPassRate(reward: number): number;
}

export const SCALES: Record<ScaleName, Scale> = {
  binary: {
    name: "binary",
    min: 0,
    max: 1,
    maxVariance: 0.25,
    fromPassRate: (p) => p,
    toPassRate: (r) => r,
  },
  signed: {
    name: "signed",
    min: -1,
    max: 1,
    maxVariance: 1,
    fromPassRate: (p) => 2 * p - 1,
    toPassRate: (r) => (r + 1) / 2,
  },
};
