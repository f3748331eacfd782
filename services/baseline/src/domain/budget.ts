// Rollout-budget policies, registered by name.
// - v05: V0.5's sequential one-step look-ahead. Keep adding rollouts to a
//   prompt while the plug-in MSE of the fused baseline drops by more than the
//   cost of one rollout, up to k_max. With c = 0.0039 (signed scale) an
//   infinitely biased prior stops at exactly 16 rollouts.
// - v0: V0's allocation: B_i in [min, max] greedily by the marginal utility of
//   U(B, p) = B(1-p)[1 - (1-p)^(B-1)] under a total budget.
import { Heap } from "heap-js";
import { InvalidArgumentError, ResourceExhaustedError } from "../../../../shared/errors";
import { fusePrior, fusedMse } from "./fusion";
import type { Scale } from "./scale";

export interface PlanGroup {
  promptId: string;
  rewards: readonly number[];
  prior?: number;
}

export interface BudgetParameters {
  kInit: number;
  kMax: number;
  /** Cost of one rollout in MSE units on the signed scale. */
  costPerRollout: number;
  /** v05: cap on the batch's extra rollouts. */
  maxExtraRollouts?: number;
  /** v0: rollouts to distribute over the batch. */
  totalBudget?: number;
  minPerPrompt: number;
  maxPerPrompt: number;
  /**
   * Most single-rollout allocation steps one plan may take (the batch cap's and
   * v0's greedy loops run on the service's only thread); more is refused.
   */
  maxPlanSteps: number;
}

/** The setting that bounds maxPlanSteps, named in the refusal. */
export const MAX_PLAN_STEPS_SETTING = "BASELINE_MAX_PLAN_STEPS";

function checkSteps(steps: number, params: BudgetParameters, what: string): void {
  if (steps > params.maxPlanSteps) {
    throw new ResourceExhaustedError(
      `${MAX_PLAN_STEPS_SETTING}=${params.maxPlanSteps}`,
      `this plan needs up to ${steps} allocation steps (${what}); split the batch or lower the budget`,
    );
  }
}

export const DEFAULT_BUDGET_PARAMETERS: BudgetParameters = {
  kInit: 4,
  kMax: 16,
  costPerRollout: 0.0039,
  minPerPrompt: 2,
  maxPerPrompt: 128,
  maxPlanSteps: 2_000_000,
};

export type PlanReason =
  | "initial_rollouts"
  | "prior_accepted"
  | "prior_rejected"
  | "gain_below_cost"
  | "at_max"
  | "batch_cap"
  | "utility";

export interface RolloutPlan {
  promptId: string;
  rolloutsSoFar: number;
  extraRollouts: number;
  targetRollouts: number;
  reason: PlanReason;
  expectedMseNow: number;
  expectedMseAfter: number;
}

export interface BatchPlan {
  plans: RolloutPlan[];
  totalExtraRollouts: number;
  budgetBinding: boolean;
}

export interface BudgetPolicy {
  name: string;
  description: string;
  requiresPrior: boolean;
  plan(groups: readonly PlanGroup[], scale: Scale, params: BudgetParameters): BatchPlan;
}

/**
 * Extra rollouts worth their cost for one prompt whose prior has squared bias
 * biasSq, from k rollouts: the first target in [k, kMax] whose next rollout
 * lowers the MSE by no more than the cost. The reduction falls strictly as the
 * target grows, so a binary search finds it in O(log kMax) whatever the cost.
 */
export function lookaheadTarget(biasSq: number, k: number, kMax: number, maxVariance: number, cost: number): number {
  const worthIt = (t: number) => fusedMse(biasSq, maxVariance, t) - fusedMse(biasSq, maxVariance, t + 1) > cost;
  let lo = k;
  let hi = Math.max(k, kMax);
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (worthIt(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function finish(plans: RolloutPlan[], budgetBinding: boolean): BatchPlan {
  let total = 0;
  for (const p of plans) total += p.extraRollouts;
  return { plans, totalExtraRollouts: total, budgetBinding };
}

const v05: BudgetPolicy = {
  name: "v05",
  description:
    "V0.5 one-step look-ahead: top up to k_init, then add rollouts while the fused baseline's plug-in MSE drops by more than c per rollout, up to k_max; an optional batch cap goes to the largest MSE reductions.",
  requiresPrior: true,
  plan(groups, scale, params) {
    const cost = params.costPerRollout * scale.maxVariance;
    const biasSq = new Array<number>(groups.length).fill(0);
    const plans = groups.map((group, i): RolloutPlan => {
      const k = group.rewards.length;
      const base = { promptId: group.promptId, rolloutsSoFar: k };
      if (k < params.kInit) {
        const extra = params.kInit - k;
        return { ...base, extraRollouts: extra, targetRollouts: params.kInit, reason: "initial_rollouts", expectedMseNow: 0, expectedMseAfter: 0 };
      }
      const fusion = fusePrior(group.rewards, group.prior!, scale);
      biasSq[i] = fusion.biasSq;
      const mseNow = fusedMse(fusion.biasSq, scale.maxVariance, k);
      const target = lookaheadTarget(fusion.biasSq, k, params.kMax, scale.maxVariance, cost);
      let reason: PlanReason;
      if (!fusion.rejected) reason = "prior_accepted";
      else if (target > k) reason = "prior_rejected";
      else reason = k >= params.kMax ? "at_max" : "gain_below_cost";
      return {
        ...base,
        extraRollouts: target - k,
        targetRollouts: target,
        reason,
        expectedMseNow: mseNow,
        expectedMseAfter: fusedMse(fusion.biasSq, scale.maxVariance, target),
      };
    });

    const cap = params.maxExtraRollouts;
    const wanted = plans.reduce((s, p) => s + p.extraRollouts, 0);
    if (cap === undefined || wanted <= cap) return finish(plans, false);
    checkSteps(cap, params, "max_extra_rollouts");

    // Over the cap: top-ups to k_init come first (in batch order), then single
    // rollouts go to the largest MSE reductions. Each prompt's reductions shrink
    // as k grows, so taking the largest one at a time is optimal.
    let left = cap;
    const granted = plans.map((p) => {
      if (p.reason !== "initial_rollouts") return 0;
      const g = Math.min(p.extraRollouts, left);
      left -= g;
      return g;
    });
    type Step = { index: number; k: number; gain: number };
    const gainAt = (i: number, k: number) =>
      fusedMse(biasSq[i]!, scale.maxVariance, k) - fusedMse(biasSq[i]!, scale.maxVariance, k + 1);
    const heap = new Heap<Step>((a, b) => b.gain - a.gain || a.index - b.index);
    plans.forEach((p, i) => {
      if (p.reason !== "initial_rollouts" && p.extraRollouts > 0) heap.push({ index: i, k: p.rolloutsSoFar, gain: gainAt(i, p.rolloutsSoFar) });
    });
    while (left > 0 && heap.size() > 0) {
      const step = heap.pop()!;
      granted[step.index]!++;
      left--;
      if (granted[step.index]! < plans[step.index]!.extraRollouts) {
        heap.push({ index: step.index, k: step.k + 1, gain: gainAt(step.index, step.k + 1) });
      }
    }
    const capped = plans.map((p, i): RolloutPlan => {
      const g = granted[i]!;
      if (g === p.extraRollouts) return p;
      const target = p.rolloutsSoFar + g;
      const after = p.reason === "initial_rollouts" ? 0 : fusedMse(biasSq[i]!, scale.maxVariance, target);
      return { ...p, extraRollouts: g, targetRollouts: target, reason: "batch_cap", expectedMseAfter: after };
    });
    return finish(capped, true);
  },
};

/** V0's utility of B rollouts at pass rate p: expected failures times P(at least one success). */
export function v0Utility(b: number, p: number): number {
  return b * (1 - p) * (1 - Math.pow(1 - p, b - 1));
}

const v0: BudgetPolicy = {
  name: "v0",
  description:
    "V0 allocation: every prompt gets min_per_prompt, then single rollouts go to the largest marginal gain of U(B,p) = B(1-p)[1-(1-p)^(B-1)] until total_budget is spent or no gain is left (max_per_prompt per prompt).",
  requiresPrior: true,
  plan(groups, _scale, params) {
    const total = params.totalBudget!;
    const floor = groups.length * params.minPerPrompt;
    if (total < floor) {
      throw new InvalidArgumentError(
        "parameters.total_budget",
        `must be at least min_per_prompt × groups = ${params.minPerPrompt} × ${groups.length} = ${floor}, got ${total}`,
      );
    }
    checkSteps(Math.min(total - floor, groups.length * Math.max(0, params.maxPerPrompt - params.minPerPrompt)), params, "total_budget spread over the groups");
    const alloc = groups.map(() => params.minPerPrompt);
    type Step = { index: number; gain: number };
    const gainAt = (i: number) => v0Utility(alloc[i]! + 1, groups[i]!.prior!) - v0Utility(alloc[i]!, groups[i]!.prior!);
    const heap = new Heap<Step>((a, b) => b.gain - a.gain || a.index - b.index);
    groups.forEach((_, i) => {
      if (alloc[i]! < params.maxPerPrompt) heap.push({ index: i, gain: gainAt(i) });
    });
    let left = total - floor;
    // Rollouts with no expected utility (p = 0 or 1) are not spent.
    while (left > 0 && heap.size() > 0 && heap.peek()!.gain > 0) {
      const step = heap.pop()!;
      alloc[step.index]!++;
      left--;
      if (alloc[step.index]! < params.maxPerPrompt) heap.push({ index: step.index, gain: gainAt(step.index) });
    }
    const budgetBinding = left === 0 && heap.size() > 0 && heap.peek()!.gain > 0;
    const plans = groups.map((group, i): RolloutPlan => {
      const k = group.rewards.length;
      const target = Math.max(k, alloc[i]!);
      return {
        promptId: group.promptId,
        rolloutsSoFar: k,
        extraRollouts: target - k,
        targetRollouts: target,
        reason: "utility",
        expectedMseNow: 0,
        expectedMseAfter: 0,
      };
    });
    return finish(plans, budgetBinding);
  },
};

const policies = [v05, v0];
const registry = new Map(policies.map((p) => [p.name, p]));

export function listBudgetPolicies(): readonly BudgetPolicy[] {
  return policies;
}

export function getBudgetPolicy(name: string, fieldPath = "policy"): BudgetPolicy {
  const policy = registry.get(name);
  if (!policy) {
    const valid = [...registry.keys()].sort().join(", ");
    throw new InvalidArgumentError(fieldPath, `unknown budget policy ${JSON.stringify(name)}; valid: ${valid}`);
  }
  return policy;
}
