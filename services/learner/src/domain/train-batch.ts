// Turns trajectories into the train-step graph's [B, T] arrays. Column t holds
// what concerns token t (the graph scores token t from the logits at t - 1),
// so response token k of a prompt of length P sits in column P + k.
import { InvalidArgumentError } from "../../../../shared/errors";

export interface TrajectoryInput {
  promptTokenIds: number[];
  responseTokenIds: number[];
  oldLogprobs: number[];
  advantage: number;
  refLogprobs: number[];
  /** ReVal only. */
  reward?: number;
  refValue?: number;
  /** ReVal: Σ log π_ref, when per-token reference log-probs are not kept. */
  refLogprobSum?: number;
}

/** What the objective needs beyond token ids: a policy-gradient step or a ReVal step. */
export type BatchObjective = { kind: "policy"; requireRef: boolean } | { kind: "reval" };

export interface TrainBatch {
  batch: number;
  width: number;
  inputIds: Int32Array;
  positionIds: Int32Array;
  attentionMask: Float32Array;
  responseMask: Float32Array;
  oldLogprobs: Float32Array;
  advantages: Float32Array;
  refLogprobs: Float32Array;
  /** ReVal: per-trajectory reward (as given; transformed by the caller) and V_ref(s1). */
  rewards: Float32Array;
  refValues: Float32Array;
  tokens: number;
}

export interface BatchLimits {
  vocabSize: number;
  maxPositions: number;
  padId: number;
  maxTrajectories: number;
}

function checkFinite(values: readonly number[], fieldPath: string): void {
  values.forEach((v, j) => {
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${fieldPath}[${j}]`, `must be a finite number, got ${v}`);
  });
}

export function buildTrainBatch(trajectories: readonly TrajectoryInput[], limits: BatchLimits, objective: BatchObjective): TrainBatch {
  const reval = objective.kind === "reval";
  const requireRef = reval || (objective.kind === "policy" && objective.requireRef);
  if (trajectories.length === 0) throw new InvalidArgumentError("trajectories", "at least one trajectory is required");
  if (trajectories.length > limits.maxTrajectories) {
    throw new InvalidArgumentError("trajectories", `has ${trajectories.length} entries; the limit is ${limits.maxTrajectories} (LEARNER_MAX_TRAJECTORIES)`);
  }
  let width = 0;
  trajectories.forEach((t, i) => {
    const path = `trajectories[${i}]`;
    if (t.promptTokenIds.length === 0) throw new InvalidArgumentError(`${path}.prompt_token_ids`, "at least one token is required");
    if (t.responseTokenIds.length === 0) throw new InvalidArgumentError(`${path}.response_token_ids`, "at least one token is required");
    for (const [field, ids] of [["prompt_token_ids", t.promptTokenIds], ["response_token_ids", t.responseTokenIds]] as const) {
      ids.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) {
          throw new InvalidArgumentError(`${path}.${field}[${j}]`, `token id ${id} is outside the vocabulary [0, ${limits.vocabSize})`);
        }
      });
    }
    const length = t.promptTokenIds.length + t.responseTokenIds.length;
    if (length > limits.maxPositions) throw new InvalidArgumentError(path, `is ${length} tokens; the model's context holds ${limits.maxPositions}`);
    // ReVal needs no ratio, so no old log-probs (but checks them when given).
    if (!(reval && t.oldLogprobs.length === 0)) {
      if (t.oldLogprobs.length !== t.responseTokenIds.length) {
        throw new InvalidArgumentError(`${path}.old_logprobs`, `has ${t.oldLogprobs.length} entries for ${t.responseTokenIds.length} response tokens`);
      }
      checkFinite(t.oldLogprobs, `${path}.old_logprobs`);
    }
    if (!Number.isFinite(t.advantage)) throw new InvalidArgumentError(`${path}.advantage`, `must be a finite number, got ${t.advantage}`);
    if (reval) {
      if (!Number.isFinite(t.reward)) throw new InvalidArgumentError(`${path}.reward`, `must be a finite number, got ${t.reward}`);
      if (!Number.isFinite(t.refValue)) throw new InvalidArgumentError(`${path}.ref_value`, `must be a finite number, got ${t.refValue}`);
    }
    const refSumOnly = reval && t.refLogprobs.length === 0 && t.refLogprobSum !== undefined;
    if (refSumOnly && !Number.isFinite(t.refLogprobSum)) {
      throw new InvalidArgumentError(`${path}.ref_logprob_sum`, `must be a finite number, got ${t.refLogprobSum}`);
    }
    if (!refSumOnly && (t.refLogprobs.length > 0 || requireRef)) {
      if (t.refLogprobs.length !== t.responseTokenIds.length) {
        throw new InvalidArgumentError(`${path}.ref_logprobs`, `has ${t.refLogprobs.length} entries for ${t.responseTokenIds.length} response tokens${requireRef ? (reval ? " (required by ReVal)" : " (required when kl_coef > 0)") : ""}`);
      }
      checkFinite(t.refLogprobs, `${path}.ref_logprobs`);
    }
    width = Math.max(width, length);
  });

  const B = trajectories.length;
  const out: TrainBatch = {
    batch: B,
    width,
    inputIds: new Int32Array(B * width).fill(limits.padId),
    positionIds: new Int32Array(B * width),
    attentionMask: new Float32Array(B * width),
    responseMask: new Float32Array(B * width),
    oldLogprobs: new Float32Array(B * width),
    advantages: new Float32Array(B * width),
    refLogprobs: new Float32Array(B * width),
    rewards: new Float32Array(B),
    refValues: new Float32Array(B),
    tokens: 0,
  };
  trajectories.forEach((t, i) => {
    const row = i * width;
    const P = t.promptTokenIds.length;
    [...t.promptTokenIds, ...t.responseTokenIds].forEach((id, j) => {
      out.inputIds[row + j] = id;
      out.positionIds[row + j] = j;
      out.attentionMask[row + j] = 1;
    });
    t.responseTokenIds.forEach((_, k) => {
      const c = row + P + k;
      out.responseMask[c] = 1;
      out.oldLogprobs[c] = t.oldLogprobs[k] ?? 0;
      out.advantages[c] = t.advantage;
      // ReVal uses only Σ log π_ref: a sum given alone sits in the first response column.
      // Without a reference, log π_ref = log π_old keeps the (disabled) KL term finite.
      if (t.refLogprobs.length > 0) out.refLogprobs[c] = t.refLogprobs[k]!;
      else if (t.refLogprobSum !== undefined) out.refLogprobs[c] = k === 0 ? t.refLogprobSum : 0;
      else out.refLogprobs[c] = t.oldLogprobs[k] ?? 0;
    });
    out.rewards[i] = t.reward ?? 0;
    out.refValues[i] = t.refValue ?? 0;
    out.tokens += t.responseTokenIds.length;
  });
  return out;
}
