// Request validation and conversion from wire messages to domain inputs. Every
// check runs before any state changes, and every error names its field path.
import { InvalidArgumentError } from "../../../../shared/errors";
import { RewardScale } from "../../../../shared/gen/valor/common/v1/reward.pb";
import type { PackedGroups, PromptGroup } from "../../../../shared/gen/valor/baseline/v1/baseline.pb";
import {
  ID_PATTERN,
  requireCountAtMost,
  requireFinite,
  requireId,
  requireInRange,
  requireNonEmpty,
  requireUnique,
} from "../../../../shared/validation";
import type { Group } from "../domain/estimators";
import { SCALES, type Scale } from "../domain/scale";

export interface Limits {
  maxGroups: number;
  maxRolloutsPerGroup: number;
  maxPromptIds: number;
}

export function scaleOf(value: RewardScale, fieldPath = "reward_scale"): Scale {
  switch (value) {
    case RewardScale.REWARD_SCALE_BINARY:
      return SCALES.binary;
    case RewardScale.REWARD_SCALE_SIGNED:
      return SCALES.signed;
    case RewardScale.REWARD_SCALE_UNSPECIFIED:
      throw new InvalidArgumentError(fieldPath, "is required: REWARD_SCALE_BINARY ({0,1}) or REWARD_SCALE_SIGNED ({-1,+1})");
    default:
      throw new InvalidArgumentError(fieldPath, `unknown value ${String(value)}`);
  }
}

/** Rewards must be finite and inside the declared scale. */
export function validateRewards(
  rewards: readonly number[],
  scale: Scale,
  fieldPath: string,
  limits: Limits,
  allowEmpty: boolean,
): void {
  if (!allowEmpty) requireNonEmpty(rewards.length, fieldPath, "reward");
  requireCountAtMost(rewards.length, limits.maxRolloutsPerGroup, fieldPath, "BASELINE_MAX_ROLLOUTS_PER_GROUP");
  for (let j = 0; j < rewards.length; j++) {
    const r = rewards[j]!;
    // Fast path: the common case is a valid reward; build the message only on failure.
    if (!(r >= scale.min && r <= scale.max)) {
      requireFinite(r, `${fieldPath}[${j}]`);
      throw new InvalidArgumentError(`${fieldPath}[${j}]`, `${r} is off the ${scale.name} scale [${scale.min}, ${scale.max}]`);
    }
  }
}

/** Checks the fields every group carries: id, rewards, and the prior when present or required. */
export function validateGroups(
  groups: readonly PromptGroup[],
  scale: Scale,
  limits: Limits,
  opts: { allowEmptyRewards: boolean; priorRequiredBy?: string },
): void {
  requireNonEmpty(groups.length, "groups", "group");
  requireCountAtMost(groups.length, limits.maxGroups, "groups", "BASELINE_MAX_GROUPS");
  const seen = new Set<string>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    // Field paths are built only on failure: this loop runs for every group of every batch.
    if (!ID_PATTERN.test(g.promptId)) requireId(g.promptId, `groups[${i}].prompt_id`);
    if (seen.has(g.promptId)) requireUnique(groups.map((x) => x.promptId), (j) => `groups[${j}].prompt_id`);
    seen.add(g.promptId);
    const n = g.rewards.length;
    if (n === 0 || n > limits.maxRolloutsPerGroup || !onScale(g.rewards, scale)) {
      validateRewards(g.rewards, scale, `groups[${i}].rewards`, limits, opts.allowEmptyRewards);
    }
    if (g.prior) {
      const p = g.prior.passRate;
      if (!(p >= 0 && p <= 1)) requireInRange(p, 0, 1, `groups[${i}].prior.pass_rate`);
    } else if (opts.priorRequiredBy) {
      throw new InvalidArgumentError(`groups[${i}].prior`, `is required by ${opts.priorRequiredBy}`);
    }
  }
}

function onScale(rewards: readonly number[], scale: Scale, from = 0, to = rewards.length): boolean {
  for (let j = from; j < to; j++) {
    const r = rewards[j]!;
    if (!(r >= scale.min && r <= scale.max)) return false;
  }
  return true;
}

/** Validates a packed batch and cuts it into domain groups (priors and inline references attached). */
export function unpackGroups(packed: PackedGroups | undefined, scale: Scale, limits: Limits, priorRequiredBy: string | undefined): Group[] {
  const ids = packed?.promptIds ?? [];
  requireNonEmpty(ids.length, "groups.prompt_ids", "prompt id");
  requireCountAtMost(ids.length, limits.maxGroups, "groups.prompt_ids", "BASELINE_MAX_GROUPS");
  const p = packed!;
  const n = ids.length;
  const sameLength = (length: number, field: string, optional: boolean) => {
    if (length !== n && !(optional && length === 0)) {
      throw new InvalidArgumentError(`groups.${field}`, `has ${length} entries for ${n} prompt ids${optional ? " (give none or one per prompt)" : ""}`);
    }
  };
  sameLength(p.groupSizes.length, "group_sizes", false);
  sameLength(p.priorPassRates.length, "prior_pass_rates", true);
  sameLength(p.referenceRollouts.length, "reference_rollouts", true);
  sameLength(p.referenceMeanRewards.length, "reference_mean_rewards", p.referenceRollouts.length === 0);
  if (priorRequiredBy && p.priorPassRates.length === 0) throw new InvalidArgumentError("groups.prior_pass_rates", `are required by ${priorRequiredBy}`);

  let total = 0;
  for (let i = 0; i < n; i++) {
    const size = p.groupSizes[i]!;
    if (size < 1 || size > limits.maxRolloutsPerGroup) {
      requireInRange(size, 1, limits.maxRolloutsPerGroup, `groups.group_sizes[${i}]`);
    }
    total += size;
  }
  if (p.rewards.length !== total) {
    throw new InvalidArgumentError("groups.rewards", `has ${p.rewards.length} entries; group_sizes add up to ${total}`);
  }
  if (!onScale(p.rewards, scale)) {
    const j = p.rewards.findIndex((r) => !(r >= scale.min && r <= scale.max));
    requireFinite(p.rewards[j]!, `groups.rewards[${j}]`);
    throw new InvalidArgumentError(`groups.rewards[${j}]`, `${p.rewards[j]} is off the ${scale.name} scale [${scale.min}, ${scale.max}]`);
  }

  const seen = new Set<string>();
  const groups = new Array<Group>(n);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const promptId = ids[i]!;
    if (!ID_PATTERN.test(promptId)) requireId(promptId, `groups.prompt_ids[${i}]`);
    if (seen.has(promptId)) requireUnique(ids, (j) => `groups.prompt_ids[${j}]`);
    seen.add(promptId);
    const size = p.groupSizes[i]!;
    const group: Group = { promptId, rewards: p.rewards.slice(offset, offset + size) };
    offset += size;
    if (p.priorPassRates.length > 0) {
      const prior = p.priorPassRates[i]!;
      if (!(prior >= 0 && prior <= 1)) requireInRange(prior, 0, 1, `groups.prior_pass_rates[${i}]`);
      group.prior = prior;
    }
    if (p.referenceRollouts.length > 0) {
      const rollouts = p.referenceRollouts[i]!;
      if (rollouts < 1) throw new InvalidArgumentError(`groups.reference_rollouts[${i}]`, "must be at least 1");
      const meanReward = requireInRange(p.referenceMeanRewards[i]!, scale.min, scale.max, `groups.reference_mean_rewards[${i}]`);
      group.reference = { rollouts, meanReward, source: "inline" };
    }
    groups[i] = group;
  }
  return groups;
}

export function optionalInRange(value: number | undefined, fallback: number, min: number, max: number, fieldPath: string): number {
  return value === undefined ? fallback : requireInRange(value, min, max, fieldPath);
}
