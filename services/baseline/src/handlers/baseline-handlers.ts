// BaselineService handlers: validate, call the domain, convert the result.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../../../shared/errors";
import {
  DropReason,
  PlanReason,
  PromptClass,
  ReferenceSource,
  type BaselineServiceService,
  type BatchSummary,
  type ComputeAdvantagesResponse,
  type ComputePackedAdvantagesResponse,
  type EstimatorOptions as EstimatorOptionsMessage,
  type GroupAdvantages as GroupAdvantagesMessage,
  type PlanRolloutsRequest,
  type PlanRolloutsResponse,
  type PromptReferenceStatistics,
} from "../../../../shared/gen/valor/baseline/v1/baseline.pb";
import { RewardScale } from "../../../../shared/gen/valor/common/v1/reward.pb";
import type { CallContext, UnaryHandlers } from "../../../../shared/grpc/handlers";
import { requireCountAtMost, requireId, requireInRange, requireNonEmpty, requireUnique } from "../../../../shared/validation";
import { getBudgetPolicy, listBudgetPolicies, type BudgetParameters, type PlanReason as DomainPlanReason } from "../domain/budget";
import {
  computeBatch,
  getEstimator,
  listEstimators,
  type BatchSummary as DomainBatchSummary,
  type DropReason as DomainDropReason,
  type EstimatorOptions,
  type Group,
  type GroupAdvantages,
} from "../domain/estimators";
import { classify, tallyRewards, type PromptClass as DomainPromptClass, type ReferenceStore } from "../domain/reference";
import { SCALES, type Scale } from "../domain/scale";
import { optionalInRange, scaleOf, unpackGroups, validateGroups, validateRewards, type Limits } from "./validate";

export interface BaselineDeps {
  store: ReferenceStore;
  limits: Limits;
  budgetDefaults: BudgetParameters;
}

const dropReasonToProto: Record<DomainDropReason, DropReason> = {
  all_correct: DropReason.DROP_REASON_ALL_CORRECT,
  all_wrong: DropReason.DROP_REASON_ALL_WRONG,
  zero_spread: DropReason.DROP_REASON_ZERO_SPREAD,
};

const planReasonToProto: Record<DomainPlanReason, PlanReason> = {
  initial_rollouts: PlanReason.PLAN_REASON_INITIAL_ROLLOUTS,
  prior_accepted: PlanReason.PLAN_REASON_PRIOR_ACCEPTED,
  prior_rejected: PlanReason.PLAN_REASON_PRIOR_REJECTED,
  gain_below_cost: PlanReason.PLAN_REASON_GAIN_BELOW_COST,
  at_max: PlanReason.PLAN_REASON_AT_MAX,
  batch_cap: PlanReason.PLAN_REASON_BATCH_CAP,
  utility: PlanReason.PLAN_REASON_UTILITY,
};

const classToProto: Record<DomainPromptClass, PromptClass> = {
  drop: PromptClass.PROMPT_CLASS_DROP,
  keep: PromptClass.PROMPT_CLASS_KEEP,
  hard: PromptClass.PROMPT_CLASS_HARD,
};

function toMessage(result: GroupAdvantages): GroupAdvantagesMessage {
  const message: GroupAdvantagesMessage = {
    promptId: result.promptId,
    baseline: result.baseline,
    advantages: result.advantages,
    mean: result.mean,
    std: result.std,
  };
  const d = result.diagnostics;
  if (d?.kind === "prior_fusion") {
    const f = d.fusion;
    message.diagnostics = {
      $case: "priorFusion",
      value: {
        priorValue: f.priorValue,
        z: f.z,
        weight: f.weight,
        biasSqEstimate: f.biasSq,
        noiseVariance: f.noiseVariance,
        priorRejected: f.rejected,
      },
    };
  } else if (d?.kind === "dynamic_sampling") {
    message.diagnostics = {
      $case: "dynamicSampling",
      value: { keep: d.keep, reason: d.reason ? dropReasonToProto[d.reason] : DropReason.DROP_REASON_UNSPECIFIED },
    };
  } else if (d?.kind === "reference") {
    message.diagnostics = {
      $case: "reference",
      value: {
        referenceRollouts: d.rollouts,
        source: d.source === "inline" ? ReferenceSource.REFERENCE_SOURCE_INLINE : ReferenceSource.REFERENCE_SOURCE_STORE,
      },
    };
  }
  return message;
}

function summaryMessage(s: DomainBatchSummary): BatchSummary {
  return {
    groups: s.groups,
    rollouts: s.rollouts,
    groupsKept: s.groupsKept,
    drops: (Object.entries(s.drops) as [DomainDropReason, number][]).map(([reason, n]) => ({ reason: dropReasonToProto[reason], groups: n })),
    priorsRejected: s.priorsRejected,
    priorRejectionRate: s.priorRejectionRate,
  };
}

/** Lays the per-group results out as flat columns in request order. */
function packResults(results: readonly GroupAdvantages[], rollouts: number, summary: BatchSummary): ComputePackedAdvantagesResponse {
  const n = results.length;
  const advantages = new Array<number>(rollouts);
  const baselines = new Array<number>(n);
  const means = new Array<number>(n);
  const stds = new Array<number>(n);
  const priorWeights: number[] = [];
  const priorZ: number[] = [];
  const priorRejected: boolean[] = [];
  const dropReasons: DropReason[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    const r = results[i]!;
    for (const a of r.advantages) advantages[k++] = a;
    baselines[i] = r.baseline;
    means[i] = r.mean;
    stds[i] = r.std;
    const d = r.diagnostics;
    if (d?.kind === "prior_fusion") {
      priorWeights.push(d.fusion.weight);
      priorZ.push(d.fusion.z);
      priorRejected.push(d.fusion.rejected);
    } else if (d?.kind === "dynamic_sampling") {
      dropReasons.push(d.reason ? dropReasonToProto[d.reason] : DropReason.DROP_REASON_UNSPECIFIED);
    }
  }
  return { advantages, baselines, means, stds, priorWeights, priorZ, priorRejected, dropReasons, summary };
}

export function createBaselineHandlers(deps: BaselineDeps): UnaryHandlers<typeof BaselineServiceService> {
  const { store, limits } = deps;

  /** pvpo: attaches stored reference statistics to every group that has no inline ones. */
  async function attachStoredReferences(
    groups: Group[],
    referencePolicyId: string,
    scale: Scale,
    ctx: CallContext,
    inlineField: (i: number) => string,
  ): Promise<void> {
    const missing: number[] = [];
    groups.forEach((g, i) => {
      if (!g.reference) missing.push(i);
    });
    if (missing.length === 0) return;
    if (referencePolicyId === "") {
      throw new InvalidArgumentError(
        "reference_policy_id",
        `is required by estimator pvpo when a group has no inline reference (${inlineField(missing[0]!)} is absent)`,
      );
    }
    requireId(referencePolicyId, "reference_policy_id");
    const found = await store.get(
      referencePolicyId,
      missing.map((i) => groups[i]!.promptId),
      ctx.remainingMs(),
    );
    const absent = missing.filter((i) => !found.has(groups[i]!.promptId));
    if (absent.length > 0) {
      const ids = absent.slice(0, 5).map((i) => groups[i]!.promptId);
      const more = absent.length > 5 ? ` and ${absent.length - 5} more` : "";
      throw new FailedPreconditionError(
        `no reference statistics for reference policy ${referencePolicyId} on prompts ${ids.join(", ")}${more}; record them with RecordReferenceRewards first`,
      );
    }
    for (const i of missing) {
      const stats = found.get(groups[i]!.promptId)!;
      groups[i]!.reference = { rollouts: stats.rollouts, meanReward: scale.fromPassRate(stats.passSum / stats.rollouts), source: "store" };
    }
  }

  function estimatorOptions(options: EstimatorOptionsMessage | undefined): EstimatorOptions {
    const epsilon = options?.stdEpsilon ?? 1e-6;
    if (!(epsilon > 0 && epsilon <= 1)) throw new InvalidArgumentError("options.std_epsilon", `must be in (0, 1], got ${epsilon}`);
    return { stdEpsilon: epsilon, v05NormalizeByStd: options?.v05NormalizeByStd ?? false };
  }

  return {
    async computeAdvantages(request, ctx): Promise<ComputeAdvantagesResponse> {
      const estimator = getEstimator(request.estimator);
      const scale = scaleOf(request.rewardScale);
      validateGroups(request.groups, scale, limits, {
        allowEmptyRewards: false,
        priorRequiredBy: estimator.requiresPrior ? `estimator ${estimator.name}` : undefined,
      });
      const options = estimatorOptions(request.options);
      const groups = request.groups.map((g, i): Group => {
        const group: Group = { promptId: g.promptId, rewards: g.rewards, prior: g.prior?.passRate };
        if (estimator.requiresReference && g.reference) {
          const path = `groups[${i}].reference`;
          if (g.reference.rollouts < 1) throw new InvalidArgumentError(`${path}.rollouts`, "must be at least 1");
          requireInRange(g.reference.meanReward, scale.min, scale.max, `${path}.mean_reward`);
          group.reference = { rollouts: g.reference.rollouts, meanReward: g.reference.meanReward, source: "inline" };
        }
        return group;
      });
      if (estimator.requiresReference) {
        await attachStoredReferences(groups, request.referencePolicyId, scale, ctx, (i) => `groups[${i}].reference`);
      }
      const batch = computeBatch(estimator, groups, scale, options);
      return { groups: batch.groups.map(toMessage), summary: summaryMessage(batch.summary) };
    },

    async computePackedAdvantages(request, ctx): Promise<ComputePackedAdvantagesResponse> {
      const estimator = getEstimator(request.estimator);
      const scale = scaleOf(request.rewardScale);
      const groups = unpackGroups(request.groups, scale, limits, estimator.requiresPrior ? `estimator ${estimator.name}` : undefined);
      const options = estimatorOptions(request.options);
      if (estimator.requiresReference) {
        await attachStoredReferences(groups, request.referencePolicyId, scale, ctx, () => "groups.reference_rollouts");
      }
      const batch = computeBatch(estimator, groups, scale, options);
      return packResults(batch.groups, batch.summary.rollouts, summaryMessage(batch.summary));
    },

    async planRollouts(request: PlanRolloutsRequest): Promise<PlanRolloutsResponse> {
      const policy = getBudgetPolicy(request.policy);
      const scale = scaleOf(request.rewardScale);
      validateGroups(request.groups, scale, limits, {
        allowEmptyRewards: true,
        priorRequiredBy: policy.requiresPrior ? `budget policy ${policy.name}` : undefined,
      });
      const p = request.parameters;
      const d = deps.budgetDefaults;
      const kInit = optionalInRange(p?.kInit, d.kInit, 1, limits.maxRolloutsPerGroup, "parameters.k_init");
      const kMax = optionalInRange(p?.kMax, d.kMax, 1, limits.maxRolloutsPerGroup, "parameters.k_max");
      if (kMax < kInit) throw new InvalidArgumentError("parameters.k_max", `must be >= k_init (${kInit}), got ${kMax}`);
      const minPerPrompt = optionalInRange(p?.minPerPrompt, d.minPerPrompt, 1, limits.maxRolloutsPerGroup, "parameters.min_per_prompt");
      const maxPerPrompt = optionalInRange(p?.maxPerPrompt, d.maxPerPrompt, 1, limits.maxRolloutsPerGroup, "parameters.max_per_prompt");
      if (maxPerPrompt < minPerPrompt) {
        throw new InvalidArgumentError("parameters.max_per_prompt", `must be >= min_per_prompt (${minPerPrompt}), got ${maxPerPrompt}`);
      }
      if (policy.name === "v0" && p?.totalBudget === undefined) {
        throw new InvalidArgumentError("parameters.total_budget", "is required by budget policy v0");
      }
      const params: BudgetParameters = {
        kInit,
        kMax,
        costPerRollout: optionalInRange(p?.costPerRollout, d.costPerRollout, 0, 1, "parameters.cost_per_rollout"),
        maxExtraRollouts: p?.maxExtraRollouts,
        totalBudget: p?.totalBudget,
        minPerPrompt,
        maxPerPrompt,
        maxPlanSteps: d.maxPlanSteps,
      };
      const plan = policy.plan(
        request.groups.map((g) => ({ promptId: g.promptId, rewards: g.rewards, prior: g.prior?.passRate })),
        scale,
        params,
      );
      return {
        plans: plan.plans.map((pl) => ({
          promptId: pl.promptId,
          rolloutsSoFar: pl.rolloutsSoFar,
          extraRollouts: pl.extraRollouts,
          targetRollouts: pl.targetRollouts,
          reason: planReasonToProto[pl.reason],
          expectedMseNow: pl.expectedMseNow,
          expectedMseAfter: pl.expectedMseAfter,
        })),
        totalExtraRollouts: plan.totalExtraRollouts,
        budgetBinding: plan.budgetBinding,
      };
    },

    async listEstimators() {
      const entry = (e: { name: string; description: string; requiresPrior: boolean }, requiresReference = false) => ({
        name: e.name,
        description: e.description,
        requiresPrior: e.requiresPrior,
        requiresReference,
      });
      return {
        estimators: listEstimators().map((e) => entry(e, e.requiresReference)),
        budgetPolicies: listBudgetPolicies().map((p) => entry(p)),
      };
    },

    async recordReferenceRewards(request, ctx) {
      requireId(request.referencePolicyId, "reference_policy_id");
      requireId(request.batchId, "batch_id");
      const scale = scaleOf(request.rewardScale);
      requireNonEmpty(request.prompts.length, "prompts", "prompt");
      requireCountAtMost(request.prompts.length, limits.maxGroups, "prompts", "BASELINE_MAX_GROUPS");
      request.prompts.forEach((p, i) => {
        requireId(p.promptId, `prompts[${i}].prompt_id`);
        validateRewards(p.rewards, scale, `prompts[${i}].rewards`, limits, false);
      });
      requireUnique(
        request.prompts.map((p) => p.promptId),
        (i) => `prompts[${i}].prompt_id`,
      );
      const result = await store.record(
        request.referencePolicyId,
        request.batchId,
        request.prompts.map((p) => ({ promptId: p.promptId, tally: tallyRewards(p.rewards, scale) })),
        ctx.remainingMs(),
      );
      return { promptsApplied: result.applied, promptsAlreadyApplied: result.alreadyApplied };
    },

    async getReferenceStatistics(request, ctx) {
      const ref = request.reference;
      if (!ref) throw new InvalidArgumentError("reference", "set reference_policy_id or lineage");
      const scale = request.rewardScale === RewardScale.REWARD_SCALE_UNSPECIFIED ? SCALES.binary : scaleOf(request.rewardScale);
      let referencePolicyId: string;
      if (ref.$case === "referencePolicyId") {
        referencePolicyId = requireId(ref.value, "reference_policy_id");
      } else {
        requireId(ref.value, "lineage");
        const active = await store.active(ref.value, ctx.remainingMs());
        if (!active) throw new NotFoundError(`lineage ${ref.value} has no active reference policy`);
        referencePolicyId = active;
      }
      requireNonEmpty(request.promptIds.length, "prompt_ids", "prompt id");
      requireCountAtMost(request.promptIds.length, limits.maxPromptIds, "prompt_ids", "BASELINE_MAX_PROMPT_IDS");
      request.promptIds.forEach((id, i) => requireId(id, `prompt_ids[${i}]`));

      const found = await store.get(referencePolicyId, request.promptIds, ctx.remainingMs());
      const counts = new Map<PromptClass, number>();
      const statistics = request.promptIds.map((promptId): PromptReferenceStatistics => {
        const s = found.get(promptId);
        const cls = s ? classToProto[classify(s)] : PromptClass.PROMPT_CLASS_UNSPECIFIED;
        counts.set(cls, (counts.get(cls) ?? 0) + 1);
        if (!s) return { promptId, found: false, rollouts: 0, meanPassRate: 0, meanReward: 0, class: cls };
        const passRate = s.passSum / s.rollouts;
        return { promptId, found: true, rollouts: s.rollouts, meanPassRate: passRate, meanReward: scale.fromPassRate(passRate), class: cls };
      });
      return {
        referencePolicyId,
        statistics,
        classCounts: [...counts.entries()].sort(([a], [b]) => a - b).map(([cls, prompts]) => ({ class: cls, prompts })),
      };
    },

    async activateReferencePolicy(request, ctx) {
      requireId(request.lineage, "lineage");
      requireId(request.referencePolicyId, "reference_policy_id");
      const previous = await store.activate(request.lineage, request.referencePolicyId, ctx.remainingMs());
      return { previousReferencePolicyId: previous };
    },
  };
}
