// What a training run records in MongoDB, and what `valor report` reads: one
// run document, one document per completed step, one per evaluation. Plain
// data (numbers, strings) so that the report needs nothing but these types.

export type RunStatus = "running" | "completed" | "interrupted" | "failed";

export interface RunRecord {
  runId: string;
  /** Short label for charts and tables, e.g. "GRPO k=16". */
  label: string;
  algorithm: string;
  /** The resolved training configuration (snake_case, as in the config file). */
  config: Record<string, unknown>;
  status: RunStatus;
  /** Steps the configuration asks for, and steps completed so far. */
  steps: number;
  completedSteps: number;
  /** Reference-policy rollouts spent before and during training (PVPO's statistics). */
  referenceRollouts: number;
  /** Wall-clock seconds spent training, summed over every session of the run (resumes included). */
  wallSeconds: number;
  createdAtUnixMs: number;
  updatedAtUnixMs: number;
  /** Times the run was started again after an interruption. */
  resumes: number;
  error?: string;
}

export interface StepRecord {
  runId: string;
  step: number;
  /** Policy version after this step's update(s). */
  policyVersion: number;
  /** Prompts drawn, and prompts that reached the update (after PVPO's and DAPO's filters). */
  promptsDrawn: number;
  promptsTrained: number;
  /** Policy rollouts sampled in this step (extra rollouts and DAPO's oversampling included). */
  rollouts: number;
  /** Rollouts over the prompts that reached the update (DAPO pays for the groups it drops). */
  rolloutsPerPrompt: number;
  /** Policy rollouts since the start of the run, this step included. */
  cumulativeRollouts: number;
  /** Reference rollouts since the start of the run (PVPO), this step's refresh included. */
  cumulativeReferenceRollouts: number;
  /** Mean binary reward (pass rate) of this step's rollouts. */
  meanReward: number;
  /** V0.5: extra rollouts the budget plan asked for, and the share of priors the test rejected. */
  extraRollouts: number;
  priorRejectionRate: number | null;
  /** V0.5: mean squared gap between the prior and the final empirical pass rate; value context rows. */
  priorSquaredError: number | null;
  valueContextSize: number | null;
  /** Groups left out of the update (DAPO: degenerate; PVPO: reference said drop). */
  droppedGroups: number;
  /** Baseline and advantage statistics over the trained rollouts. */
  baselineMean: number;
  advantageMean: number;
  advantageStd: number;
  advantageAbsMean: number;
  /** Share of trained rollouts with a zero advantage (no gradient). */
  zeroAdvantageFraction: number;
  /** Learner metrics of the step's (first) update. */
  loss: number;
  clipFraction: number;
  approxKl: number;
  entropy: number;
  gradNorm: number;
  /** ReVal: residual δ, the replayed share over all updates, staleness in versions. */
  residualAbsMean: number | null;
  replayedFraction: number | null;
  meanStaleness: number | null;
  /** Learner updates this step made (ReVal: K). */
  updates: number;
  stepSeconds: number;
  /** Training wall-clock seconds since the start of the run, this step included. */
  elapsedSeconds: number;
  completedAtUnixMs: number;
}

export interface EvalRecord {
  runId: string;
  /** Steps completed when evaluated (0 = the initial policy). */
  step: number;
  policyVersion: number;
  cumulativeRollouts: number;
  elapsedSeconds: number;
  prompts: number;
  samplesPerPrompt: number;
  /** mean@k: the mean pass rate over the held-out prompts' k samples each. */
  accuracy: number;
  /** Greedy (temperature 0) accuracy. */
  greedyAccuracy: number;
  /** mean@k on (up to `prompts` of) the training pool: what the updates fit, next to what generalises. */
  trainPoolAccuracy: number;
  /** mean@k per task level, level 1 first (0 for a level the evaluation set lacks). */
  accuracyByLevel: number[];
  completedAtUnixMs: number;
}
