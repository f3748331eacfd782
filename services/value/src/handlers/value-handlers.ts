// ValueService handlers: validate, read the policy's context, predict in coalesced batches.
import { InvalidArgumentError } from "../../../../shared/errors";
import { ContextSource, type PredictResponse, type ValueServiceService } from "../../../../shared/gen/valor/value/v1/value.pb";
import { RewardScale } from "../../../../shared/gen/valor/common/v1/reward.pb";
import type { UnaryHandlers } from "../../../../shared/grpc/handlers";
import { requireCountAtMost, requireId, requireNonEmpty } from "../../../../shared/validation";
import type { PredictionInput } from "../backend/onnx-value-model";
import type { Coalescer } from "../domain/coalescer";
import type { ContextManager } from "../domain/context-manager";
import type { FeatureCache } from "../domain/features";
import { fallbackPassRate, type ContextRow } from "../domain/support-buffer";

export interface ValueDeps {
  modelId: string;
  contexts: ContextManager;
  features: FeatureCache;
  coalescer: Coalescer<PredictionInput, Float32Array>;
  limits: { maxPrompts: number; minContext: number; capacity: number };
}

const SCALES: Partial<Record<RewardScale, { min: number; max: number; toPassRate: (r: number) => number }>> = {
  [RewardScale.REWARD_SCALE_BINARY]: { min: 0, max: 1, toPassRate: (r) => r },
  [RewardScale.REWARD_SCALE_SIGNED]: { min: -1, max: 1, toPassRate: (r) => (r + 1) / 2 },
};

export function createValueHandlers(deps: ValueDeps): UnaryHandlers<typeof ValueServiceService> {
  const { contexts, features, limits } = deps;
  const F = features.size;

  function stack(texts: readonly string[]): Float32Array {
    const out = new Float32Array(texts.length * F);
    texts.forEach((t, i) => out.set(features.of(t), i * F));
    return out;
  }

  return {
    async predict(request, ctx): Promise<PredictResponse> {
      requireId(request.policyId, "policy_id");
      if (request.modelId !== "" && request.modelId !== deps.modelId) {
        throw new InvalidArgumentError("model_id", `unknown model ${JSON.stringify(request.modelId)}; this service serves ${JSON.stringify(deps.modelId)}`);
      }
      requireNonEmpty(request.prompts.length, "prompts", "prompt");
      requireCountAtMost(request.prompts.length, limits.maxPrompts, "prompts", "VALUE_MAX_PROMPTS");
      request.prompts.forEach((p, i) => {
        if (p.text === "") throw new InvalidArgumentError(`prompts[${i}].text`, "is required (the model reads the prompt)");
      });

      const { buffer, fromCache } = await contexts.forPrediction(request.policyId, ctx.remainingMs());
      const rows: readonly ContextRow[] = buffer.snapshot();
      const oldest = rows.reduce((m, r) => (r.policyVersion < m ? r.policyVersion : m), request.policyVersion);
      const provenance = {
        modelId: deps.modelId,
        contextSize: rows.length,
        contextAge: rows.length > 0 ? request.policyVersion - oldest : 0n,
        contextSource: fromCache ? ContextSource.CONTEXT_SOURCE_CACHE : ContextSource.CONTEXT_SOURCE_STORE,
      };
      if (rows.length < limits.minContext) {
        const p = fallbackPassRate(rows);
        return { passRates: request.prompts.map(() => p), provenance, noContext: true };
      }
      const passRates = await deps.coalescer.submit({
        contextFeatures: stack(rows.map((r) => r.text)),
        contextOutcomes: Float32Array.from(rows, (r) => r.passRate),
        queryFeatures: stack(request.prompts.map((p) => p.text)),
      });
      return { passRates: Array.from(passRates), provenance, noContext: false };
    },

    async observe(request, ctx) {
      requireId(request.policyId, "policy_id");
      requireId(request.batchId, "batch_id");
      const scale = SCALES[request.rewardScale];
      if (!scale) throw new InvalidArgumentError("reward_scale", "is required: REWARD_SCALE_BINARY or REWARD_SCALE_SIGNED");
      requireNonEmpty(request.observations.length, "observations", "observation");
      requireCountAtMost(request.observations.length, limits.maxPrompts, "observations", "VALUE_MAX_PROMPTS");
      const rows = request.observations.map((o, i): ContextRow => {
        requireId(o.promptId, `observations[${i}].prompt_id`);
        if (o.text === "") throw new InvalidArgumentError(`observations[${i}].text`, "is required");
        requireNonEmpty(o.rewards.length, `observations[${i}].rewards`, "reward");
        let sum = 0;
        o.rewards.forEach((r, j) => {
          if (!(r >= scale.min && r <= scale.max)) {
            throw new InvalidArgumentError(`observations[${i}].rewards[${j}]`, `${r} is not a finite reward on the declared scale [${scale.min}, ${scale.max}]`);
          }
          sum += scale.toPassRate(r);
        });
        return { promptId: o.promptId, text: o.text, passRate: sum / o.rewards.length, policyVersion: request.policyVersion };
      });
      const result = await contexts.observe(request.policyId, { batchId: request.batchId, policyVersion: request.policyVersion, rows }, ctx.remainingMs());
      return { applied: result.applied, contextSize: result.size };
    },

    async getContext(request, ctx) {
      requireId(request.policyId, "policy_id");
      const { buffer } = await contexts.forPrediction(request.policyId, ctx.remainingMs());
      const rows = buffer.snapshot();
      const versions = rows.map((r) => r.policyVersion);
      return {
        size: rows.length,
        capacity: limits.capacity,
        oldestPolicyVersion: versions.length ? versions.reduce((a, b) => (b < a ? b : a)) : 0n,
        newestPolicyVersion: versions.length ? versions.reduce((a, b) => (b > a ? b : a)) : 0n,
        meanPassRate: rows.length ? rows.reduce((s, r) => s + r.passRate, 0) / rows.length : 0,
      };
    },
  };
}
