// Request validation and conversion from wire messages to domain inputs. Every
// check runs before anything is written, and every error names its field path.
import { InvalidArgumentError } from "../../../../shared/errors";
import { Scope, View, type Filter, type Trajectory } from "../../../../shared/gen/valor/replay/v1/replay.pb";
import { requireCountAtMost, requireFinite, requireId, requireNonEmpty } from "../../../../shared/validation";
import type { TrajectoryFilter } from "../domain/query";
import type { Scope as DomainScope } from "../domain/replay";

export interface Limits {
  maxCapacity: number;
  maxAppendBatch: number;
  maxTokens: number;
  maxTextChars: number;
  maxSample: number;
  maxQueryLimit: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64-bit field as a JS number: 0 to 2^53 - 1. */
export function safeNumber(value: bigint, fieldPath: string): number {
  if (value < 0n || value > MAX_SAFE) throw new InvalidArgumentError(fieldPath, `must be in [0, ${Number.MAX_SAFE_INTEGER}], got ${value}`);
  return Number(value);
}

export function requireCapacity(value: bigint, limits: Limits, fieldPath = "capacity"): number {
  if (value <= 0n) throw new InvalidArgumentError(fieldPath, `must be at least 1, got ${value}`);
  if (value > BigInt(limits.maxCapacity)) throw new InvalidArgumentError(fieldPath, `must be at most ${limits.maxCapacity} (REPLAY_MAX_CAPACITY), got ${value}`);
  return Number(value);
}

/** Ids that may be empty (optional filters, group ids). */
export function optionalId(value: string, fieldPath: string): string | undefined {
  return value === "" ? undefined : requireId(value, fieldPath);
}

export function validateTrajectory(t: Trajectory, path: string, limits: Limits): void {
  requireId(t.promptId, `${path}.prompt_id`);
  optionalId(t.groupId, `${path}.group_id`);
  requireNonEmpty(t.responseTokenIds.length, `${path}.response_token_ids`, "token");
  requireCountAtMost(t.responseTokenIds.length, limits.maxTokens, `${path}.response_token_ids`, "REPLAY_MAX_TOKENS");
  requireCountAtMost(t.promptTokenIds.length, limits.maxTokens, `${path}.prompt_token_ids`, "REPLAY_MAX_TOKENS");
  const lp = t.responseLogprobs;
  if (lp.length !== 0 && lp.length !== t.responseTokenIds.length) {
    throw new InvalidArgumentError(
      `${path}.response_logprobs`,
      `has ${lp.length} entries but response_token_ids has ${t.responseTokenIds.length}; give one log-prob per response token, or none`,
    );
  }
  for (let j = 0; j < lp.length; j++) {
    if (!Number.isFinite(lp[j]!)) requireFinite(lp[j]!, `${path}.response_logprobs[${j}]`);
  }
  requireFinite(t.reward, `${path}.reward`);
  safeNumber(t.policyVersion, `${path}.policy_version`);
  if (t.refLogprobSum !== undefined) requireFinite(t.refLogprobSum, `${path}.ref_logprob_sum`);
  if (t.refValue !== undefined) requireFinite(t.refValue, `${path}.ref_value`);
  safeNumber(t.createdAtUnixMs, `${path}.created_at_unix_ms`);
  if (t.promptText.length > limits.maxTextChars) {
    throw new InvalidArgumentError(`${path}.prompt_text`, `has ${t.promptText.length} characters; the limit is ${limits.maxTextChars} (REPLAY_MAX_TEXT_CHARS)`);
  }
  if (t.responseText.length > limits.maxTextChars) {
    throw new InvalidArgumentError(`${path}.response_text`, `has ${t.responseText.length} characters; the limit is ${limits.maxTextChars} (REPLAY_MAX_TEXT_CHARS)`);
  }
}

export function scopeOf(value: Scope, fieldPath: string): DomainScope {
  switch (value) {
    case Scope.SCOPE_UNSPECIFIED:
    case Scope.SCOPE_BUFFER:
      return "buffer";
    case Scope.SCOPE_ALL:
      return "all";
    default:
      throw new InvalidArgumentError(fieldPath, `unknown value ${String(value)}`);
  }
}

export type ViewName = "full" | "summary" | "metadata";

export function viewOf(value: View, fieldPath = "view"): ViewName {
  switch (value) {
    case View.VIEW_UNSPECIFIED:
    case View.VIEW_FULL:
      return "full";
    case View.VIEW_SUMMARY:
      return "summary";
    case View.VIEW_METADATA:
      return "metadata";
    default:
      throw new InvalidArgumentError(fieldPath, `unknown value ${String(value)}`);
  }
}

function range<T extends number | bigint>(min: T | undefined, max: T | undefined, maxPath: string): void {
  if (min !== undefined && max !== undefined && max < min) throw new InvalidArgumentError(maxPath, `must be >= the minimum (${min}), got ${max}`);
}

export function filterOf(f: Filter | undefined): { runId: string; scope: DomainScope; filter: TrajectoryFilter } {
  if (!f) throw new InvalidArgumentError("filter", "is required (at least filter.run_id)");
  const runId = requireId(f.runId, "filter.run_id");
  const scope = scopeOf(f.scope, "filter.scope");
  const filter: TrajectoryFilter = {};
  if (f.promptId !== "") filter.promptId = requireId(f.promptId, "filter.prompt_id");
  if (f.groupId !== "") filter.groupId = requireId(f.groupId, "filter.group_id");
  if (f.minPolicyVersion !== undefined) filter.minPolicyVersion = BigInt(safeNumber(f.minPolicyVersion, "filter.min_policy_version"));
  if (f.maxPolicyVersion !== undefined) filter.maxPolicyVersion = BigInt(safeNumber(f.maxPolicyVersion, "filter.max_policy_version"));
  range(filter.minPolicyVersion, filter.maxPolicyVersion, "filter.max_policy_version");
  if (f.minReward !== undefined) filter.minReward = requireFinite(f.minReward, "filter.min_reward");
  if (f.maxReward !== undefined) filter.maxReward = requireFinite(f.maxReward, "filter.max_reward");
  range(filter.minReward, filter.maxReward, "filter.max_reward");
  if (f.insertedAfterUnixMs !== undefined) filter.insertedAfter = safeNumber(f.insertedAfterUnixMs, "filter.inserted_after_unix_ms");
  if (f.insertedBeforeUnixMs !== undefined) filter.insertedBefore = safeNumber(f.insertedBeforeUnixMs, "filter.inserted_before_unix_ms");
  range(filter.insertedAfter, filter.insertedBefore, "filter.inserted_before_unix_ms");
  if (f.minStep !== undefined) filter.minStep = safeNumber(f.minStep, "filter.min_step");
  if (f.maxStep !== undefined) filter.maxStep = safeNumber(f.maxStep, "filter.max_step");
  range(filter.minStep, filter.maxStep, "filter.max_step");
  return { runId, scope, filter };
}
