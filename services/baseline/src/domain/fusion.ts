// V0.5 prior fusion: shrink the empirical mean of k rollouts toward a value
// model's prior, with a positive-part estimate of the prior's squared bias as
// the real-time test. See shared design notes (algorithms.md, section 2).
import type { Scale } from "./scale";

export interface Fusion {
  /** Prior on the working scale (V). */
  priorValue: number;
  mean: number;
  k: number;
  /** Worst-case variance of the mean of k rewards: s^2 = maxVariance / k. */
  noiseVariance: number;
  /** max(0, (mean - V)^2 - s^2). */
  biasSq: number;
  /** Weight of the empirical mean: biasSq / (biasSq + s^2), 0 when biasSq = 0. */
  weight: number;
  baseline: number;
  /** (mean - V) / s. */
  z: number;
  /** The test rejects the prior iff biasSq > 0, i.e. |z| > 1. */
  rejected: boolean;
}

export function fusePrior(rewards: readonly number[], priorPassRate: number, scale: Scale): Fusion {
  const k = rewards.length;
  let sum = 0;
  for (let i = 0; i < k; i++) sum += rewards[i]!;
  const mean = sum / k;
  const priorValue = scale.fromPassRate(priorPassRate);
  const noiseVariance = scale.maxVariance / k;
  const gap = mean - priorValue;
  const biasSq = Math.max(0, gap * gap - noiseVariance);
  const weight = biasSq > 0 ? biasSq / (biasSq + noiseVariance) : 0;
  return {
    priorValue,
    mean,
    k,
    noiseVariance,
    biasSq,
    weight,
    baseline: weight * mean + (1 - weight) * priorValue,
    z: gap / Math.sqrt(noiseVariance),
    rejected: biasSq > 0,
  };
}

/**
 * Plug-in MSE of the fused baseline after k rollouts when the prior's squared
 * bias is biasSq: biasSq·s²/(biasSq + s²) with s² = maxVariance/k. An
 * infinitely biased prior leaves the empirical mean's variance s².
 */
export function fusedMse(biasSq: number, maxVariance: number, k: number): number {
  const s2 = maxVariance / k;
  if (biasSq === Infinity) return s2;
  if (biasSq <= 0) return 0;
  return (biasSq * s2) / (biasSq + s2);
}
