// The learner's state: weights, AdamW moments and counters. A step builds a
// whole new state and swaps it in, so a failed step leaves the old one intact.

export interface TrainState {
  step: bigint;
  params: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  /** AdamW's step counter (a float in the graph). */
  adamStep: number;
}

export type LossAggregationName = "token-mean" | "seq-mean-token-mean" | "seq-mean-token-sum-norm";

/** The train-step graph's selector values (verl's agg_loss modes). */
export const AGGREGATION_MODE: Record<LossAggregationName, number> = {
  "token-mean": 0,
  "seq-mean-token-mean": 1,
  "seq-mean-token-sum-norm": 2,
};

export interface PolicyLossSettings {
  clipRatioLow: number;
  clipRatioHigh: number;
  dualClip: number;
  klCoef: number;
  aggregation: LossAggregationName;
  lossScaleFactor: number;
}

export interface OptimizerSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
}

export interface StepOutcome {
  state: TrainState;
  metrics: {
    loss: number;
    pgLoss: number;
    klLoss: number;
    clipFraction: number;
    approxKl: number;
    entropy: number;
    gradNorm: number;
    tokens: number;
    residualMean: number;
    residualAbsMean: number;
  };
}
