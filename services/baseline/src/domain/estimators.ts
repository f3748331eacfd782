// Advantage estimators, registered by name (as verl's registry does). The
// standard ones follow verl's numerics exactly (core_algos.py); pvpo and v05
// follow their papers. Inputs are validated by the caller.
import { InvalidArgumentError } from "../../../../shared/errors";
import { allEqual, meanAndStd } from "./group-stats";
import { fusePrior, type Fusion } from "./fusion";
import type { Scale } from "./scale";

export type ReferenceSource = "inline" | "store";

export interface Group {
  promptId: string;
  rewards: readonly number[];
  /** Value-model prior: predicted pass rate in [0, 1]. */
  prior?: number;
  /** Reference policy's mean reward on the batch's scale (pvpo). */
  reference?: { rollouts: number; meanReward: number; source: ReferenceSource };
}

export interface EstimatorOptions {
  /** Added to the std by grpo and dapo (verl: 1e-6). */
  stdEpsilon: number;
  /** v05: divide advantages by the group std. */
  v05NormalizeByStd: boolean;
}

export const DEFAULT_ESTIMATOR_OPTIONS: EstimatorOptions = { stdEpsilon: 1e-6, v05NormalizeByStd: false };

export type DropReason = "all_correct" | "all_wrong" | "zero_spread";

export type Diagnostics =
  | { kind: "prior_fusion"; fusion: Fusion }
  | { kind: "dynamic_sampling"; keep: boolean; reason?: DropReason }
  | { kind: "reference"; rollouts: number; source: ReferenceSource };

export interface GroupAdvantages {
  promptId: string;
  baseline: number;
  advantages: number[];
  mean: number;
  std: number;
  diagnostics?: Diagnostics;
}

export interface Estimator {
  name: string;
  description: string;
  requiresPrior: boolean;
  requiresReference: boolean;
  compute(group: Group, scale: Scale, options: EstimatorOptions): GroupAdvantages;
}

function subtract(rewards: readonly number[], baseline: number, scale = 1): number[] {
  const out = new Array<number>(rewards.length);
  for (let i = 0; i < rewards.length; i++) out[i] = (rewards[i]! - baseline) * scale;
  return out;
}

/** verl's GRPO outcome advantage; `normalize` false gives Dr.GRPO. A group of one keeps its reward (mean 0, std 1). */
function groupMeanAdvantages(group: Group, normalize: boolean, epsilon: number): GroupAdvantages {
  const { mean, std } = meanAndStd(group.rewards);
  if (group.rewards.length === 1) {
    return { promptId: group.promptId, baseline: 0, advantages: [group.rewards[0]!], mean, std };
  }
  const advantages = subtract(group.rewards, mean, normalize ? 1 / (std + epsilon) : 1);
  return { promptId: group.promptId, baseline: mean, advantages, mean, std };
}

/** verl's dynamic-sampling filter keeps a group when `std > 0 or len == 1`. */
function dropReason(rewards: readonly number[], scale: Scale): DropReason | undefined {
  if (rewards.length === 1 || !allEqual(rewards)) return undefined;
  if (rewards[0] === scale.max) return "all_correct";
  if (rewards[0] === scale.min) return "all_wrong";
  return "zero_spread";
}

const estimators: Estimator[] = [
  {
    name: "grpo",
    description: "GRPO: (r - mean) / (sample std + eps); a group of one keeps its reward.",
    requiresPrior: false,
    requiresReference: false,
    compute: (group, _scale, options) => groupMeanAdvantages(group, true, options.stdEpsilon),
  },
  {
    name: "dr_grpo",
    description: "Dr.GRPO: r - mean, no std normalisation; a group of one keeps its reward.",
    requiresPrior: false,
    requiresReference: false,
    compute: (group) => groupMeanAdvantages(group, false, 0),
  },
  {
    name: "rloo",
    description: "RLOO: r_i minus the mean of the other rewards = n/(n-1)·(r - mean); a group of one keeps its reward.",
    requiresPrior: false,
    requiresReference: false,
    compute: (group) => {
      const n = group.rewards.length;
      const { mean, std } = meanAndStd(group.rewards);
      if (n === 1) return { promptId: group.promptId, baseline: 0, advantages: [group.rewards[0]!], mean, std };
      return { promptId: group.promptId, baseline: mean, advantages: subtract(group.rewards, mean, n / (n - 1)), mean, std };
    },
  },
  {
    name: "dapo",
    description: "DAPO: GRPO advantages plus dynamic sampling: groups with zero reward spread are dropped.",
    requiresPrior: false,
    requiresReference: false,
    compute: (group, scale, options) => {
      const result = groupMeanAdvantages(group, true, options.stdEpsilon);
      const reason = dropReason(group.rewards, scale);
      result.diagnostics = reason ? { kind: "dynamic_sampling", keep: false, reason } : { kind: "dynamic_sampling", keep: true };
      return result;
    },
  },
  {
    name: "pvpo",
    description: "PVPO: r - mean(reference rewards), a static baseline from a reference policy; no std, no eps.",
    requiresPrior: false,
    requiresReference: true,
    compute: (group) => {
      const reference = group.reference!;
      const { mean, std } = meanAndStd(group.rewards);
      return {
        promptId: group.promptId,
        baseline: reference.meanReward,
        advantages: subtract(group.rewards, reference.meanReward),
        mean,
        std,
        diagnostics: { kind: "reference", rollouts: reference.rollouts, source: reference.source },
      };
    },
  },
  {
    name: "v05",
    description:
      "V0.5: the value-model prior fused with the empirical mean; a prior that disagrees with the rollouts (|z| > 1) is down-weighted.",
    requiresPrior: true,
    requiresReference: false,
    compute: (group, scale, options) => {
      const fusion = fusePrior(group.rewards, group.prior!, scale);
      const { mean, std } = meanAndStd(group.rewards);
      // A group of one, or one whose rewards all agree, has no spread to normalise
      // by (verl's convention for one: std 1); dividing r - b by eps would blow
      // a prior-based advantage up by 1/eps.
      const divisor = options.v05NormalizeByStd && group.rewards.length > 1 && std > 0 ? std + options.stdEpsilon : 1;
      return {
        promptId: group.promptId,
        baseline: fusion.baseline,
        advantages: subtract(group.rewards, fusion.baseline, 1 / divisor),
        mean,
        std,
        diagnostics: { kind: "prior_fusion", fusion },
      };
    },
  },
];

const registry = new Map(estimators.map((e) => [e.name, e]));

export function listEstimators(): readonly Estimator[] {
  return estimators;
}

export function getEstimator(name: string, fieldPath = "estimator"): Estimator {
  const estimator = registry.get(name);
  if (!estimator) {
    const valid = [...registry.keys()].sort().join(", ");
    throw new InvalidArgumentError(fieldPath, `unknown estimator ${JSON.stringify(name)}; valid: ${valid}`);
  }
  return estimator;
}

export interface BatchSummary {
  groups: number;
  rollouts: number;
  groupsKept: number;
  drops: Partial<Record<DropReason, number>>;
  priorsRejected: number;
  priorRejectionRate: number;
}

export interface BatchAdvantages {
  groups: GroupAdvantages[];
  summary: BatchSummary;
}

/** Applies one estimator to every group and summarises the batch. */
export function computeBatch(
  estimator: Estimator,
  groups: readonly Group[],
  scale: Scale,
  options: EstimatorOptions = DEFAULT_ESTIMATOR_OPTIONS,
): BatchAdvantages {
  const results = new Array<GroupAdvantages>(groups.length);
  const summary: BatchSummary = {
    groups: groups.length,
    rollouts: 0,
    groupsKept: 0,
    drops: {},
    priorsRejected: 0,
    priorRejectionRate: 0,
  };
  let priors = 0;
  for (let i = 0; i < groups.length; i++) {
    const result = estimator.compute(groups[i]!, scale, options);
    results[i] = result;
    summary.rollouts += groups[i]!.rewards.length;
    const d = result.diagnostics;
    if (d?.kind === "dynamic_sampling" && !d.keep) {
      summary.drops[d.reason!] = (summary.drops[d.reason!] ?? 0) + 1;
    } else {
      summary.groupsKept++;
    }
    if (d?.kind === "prior_fusion") {
      priors++;
      if (d.fusion.rejected) summary.priorsRejected++;
    }
  }
  summary.priorRejectionRate = priors > 0 ? summary.priorsRejected / priors : 0;
  return { groups: results, summary };
}
