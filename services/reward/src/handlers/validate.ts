// Request validation for RewardService: every problem is an InvalidArgumentError
// naming the field path (e.g. `items[3].gold`).
import { InvalidArgumentError } from "../../../../shared/errors";
import { PercentPolicy, type VerifyItem, type VerifyOptions } from "../../../../shared/gen/valor/reward/v1/reward.pb";
import { RewardScale } from "../../../../shared/gen/valor/common/v1/reward.pb";
import { requireCountAtMost, requireFinite, requireId, requireInRange, requireNonEmpty, requireUnique } from "../../../../shared/validation";
import type { PercentPolicy as DomainPercentPolicy } from "../domain/equivalence";
import type { ScaleName } from "../domain/rewards";
import { getTaskKind, type VerifyInput } from "../domain/verify";
import type { BatchOptions } from "./batch";

export interface RequestLimits {
  maxBatchItems: number;
  maxItemTimeoutMs: number;
}

const percentPolicies: Record<number, DomainPercentPolicy | undefined> = {
  [PercentPolicy.PERCENT_POLICY_UNSPECIFIED]: undefined,
  [PercentPolicy.PERCENT_POLICY_GOLD_DECIDES]: "gold_decides",
  [PercentPolicy.PERCENT_POLICY_STRIP]: "strip",
  [PercentPolicy.PERCENT_POLICY_SCALE]: "scale",
};

export function scaleOf(scale: RewardScale, fieldPath: string): ScaleName {
  if (scale === RewardScale.REWARD_SCALE_UNSPECIFIED || scale === RewardScale.REWARD_SCALE_BINARY) return "binary";
  if (scale === RewardScale.REWARD_SCALE_SIGNED) return "signed";
  throw new InvalidArgumentError(fieldPath, `unknown reward scale ${scale}; valid: REWARD_SCALE_BINARY, REWARD_SCALE_SIGNED`);
}

export function validateOptions(options: VerifyOptions | undefined, limits: RequestLimits): BatchOptions {
  if (!options) return { scale: "binary" };
  const rewards: BatchOptions["rewards"] = {};
  for (const key of ["correct", "wrong", "unparseable", "timeout"] as const) {
    const value = options.rewards?.[key];
    if (value !== undefined) rewards[key] = requireFinite(value, `options.rewards.${key}`);
  }
  if (!(options.percentPolicy in percentPolicies)) {
    throw new InvalidArgumentError("options.percent_policy", `unknown percent policy ${options.percentPolicy}`);
  }
  if (options.timeoutMs !== undefined) requireInRange(options.timeoutMs, 1, limits.maxItemTimeoutMs, "options.timeout_ms");
  if (options.relativeTolerance !== undefined) requireInRange(options.relativeTolerance, 0, 1, "options.relative_tolerance");
  if (options.defaultTaskKind !== "") getTaskKind(options.defaultTaskKind, "options.default_task_kind");
  return {
    scale: scaleOf(options.rewardScale, "options.reward_scale"),
    rewards,
    relativeTolerance: options.relativeTolerance,
    strict: options.strict,
    percentPolicy: percentPolicies[options.percentPolicy],
    timeoutMs: options.timeoutMs,
  };
}

export function validateItems(items: readonly VerifyItem[], defaultTaskKind: string, limits: RequestLimits): VerifyInput[] {
  requireNonEmpty(items.length, "items", "item");
  requireCountAtMost(items.length, limits.maxBatchItems, "items", "REWARD_MAX_BATCH_ITEMS");
  const inputs = items.map((item, i) => {
    const path = `items[${i}]`;
    requireId(item.id, `${path}.id`);
    if (item.gold.trim() === "") throw new InvalidArgumentError(`${path}.gold`, "is required");
    const taskKind = getTaskKind(item.taskKind === "" ? defaultTaskKind : item.taskKind, `${path}.task_kind`).name;
    if (item.relativeTolerance !== undefined) requireInRange(item.relativeTolerance, 0, 1, `${path}.relative_tolerance`);
    return { id: item.id, response: item.response, gold: item.gold, taskKind, relativeTolerance: item.relativeTolerance };
  });
  requireUnique(
    items.map((item) => item.id),
    (i) => `items[${i}].id`,
  );
  return inputs;
}
