// Per-step statistics of a training step: pure functions over the groups
// that were trained and the rollouts that were sampled.

export interface TrainedGroup {
  promptId: string;
  baseline: number;
  advantages: number[];
}

export interface AdvantageStats {
  baselineMean: number;
  advantageMean: number;
  advantageStd: number;
  advantageAbsMean: number;
  zeroAdvantageFraction: number;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Over every trained rollout (baselines over groups). Zero: |A| < 1e-9, no gradient. */
export function advantageStats(groups: readonly TrainedGroup[]): AdvantageStats {
  const all = groups.flatMap((g) => g.advantages);
  const m = mean(all);
  const variance = all.length > 1 ? all.reduce((s, a) => s + (a - m) ** 2, 0) / (all.length - 1) : 0;
  return {
    baselineMean: mean(groups.map((g) => g.baseline)),
    advantageMean: m,
    advantageStd: Math.sqrt(variance),
    advantageAbsMean: mean(all.map(Math.abs)),
    zeroAdvantageFraction: all.length === 0 ? 0 : all.filter((a) => Math.abs(a) < 1e-9).length / all.length,
  };
}

/** Share of rewards at the top of their scale (1 on both the binary and the signed scale): a pass. */
export function passRate(rewards: readonly number[]): number {
  return rewards.length === 0 ? 0 : rewards.filter((r) => r >= 1 - 1e-9).length / rewards.length;
}

/** Mean squared gap between each prompt's prior pass rate and its observed pass rate. */
export function priorSquaredError(priors: readonly number[], observed: readonly number[]): number {
  return mean(priors.map((p, i) => (p - observed[i]!) ** 2));
}

export { mean };
