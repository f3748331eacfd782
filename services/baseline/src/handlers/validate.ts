// Request validation and conversion from wire messages to domain inputs. Every
// check runs before any state changes, and every error names its field path.
import { InvalidArgumentError } from "../../../../shared/errors";
import { RewardScale } from "../../../../shared/gen/valor/common/v1/reward.pb";
import type { PromptGroup } from "../../../../shared/gen/valor/baseline/v1/baseline.pb";
import {
  requireCountAtMost,
  requireFinite,
  requireId,
  requireInRange,
  requireNonEmpty,
  requireUnique,
} from "../../../../shared/validation";
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
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    requireId(g.promptId, `groups[${i}].prompt_id`);
    validateRewards(g.rewards, scale, `groups[${i}].rewards`, limits, opts.allowEmptyRewards);
    if (g.prior) {
      requireInRange(g.prior.passRate, 0, 1, `groups[${i}].prior.pass_rate`);
    } else if (opts.priorRequiredBy) {
      throw new InvalidArgumentError(`groups[${i}].prior`, `is required by ${opts.priorRequiredBy}`);
    }
  }
  requireUnique(
    groups.map((g) => g.promptId),
    (i) => `groups[${i}].prompt_id`,
  );
}

export function optionalInRange(value: number | undefined, fallback: number, min: number, max: number, fieldPath: string): number {
  return value === undefined ? fallback : requireInRange(value, min, max, fieldPath);
}
