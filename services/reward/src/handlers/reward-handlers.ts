// RewardService handlers: validate, run the batch, convert the results.
import {
  VerdictStatus,
  type ListTaskKindsResponse,
  type RewardServiceService,
  type VerifyItem,
  type VerifyOptions,
  type VerifyResponse,
  type VerifyResult,
  type VerifySummary,
} from "../../../../shared/gen/valor/reward/v1/reward.pb";
import type { CallContext, UnaryHandlers } from "../../../../shared/grpc/handlers";
import { DEFAULT_TASK_KIND, listTaskKinds, type Status } from "../domain/verify";
import type { BatchEngine, BatchSummary, Endpoint, ItemResult } from "./batch";
import { validateItems, validateOptions, type RequestLimits } from "./validate";

export interface RewardDeps {
  engine: BatchEngine;
  limits: RequestLimits;
}

export const statusToProto: Record<Status, VerdictStatus> = {
  CORRECT: VerdictStatus.VERDICT_STATUS_CORRECT,
  WRONG: VerdictStatus.VERDICT_STATUS_WRONG,
  NO_ANSWER: VerdictStatus.VERDICT_STATUS_NO_ANSWER,
  UNPARSEABLE: VerdictStatus.VERDICT_STATUS_UNPARSEABLE,
  TIMEOUT: VerdictStatus.VERDICT_STATUS_TIMEOUT,
  REJECTED: VerdictStatus.VERDICT_STATUS_REJECTED,
};

export function toResultMessage(r: ItemResult): VerifyResult {
  return {
    id: r.id,
    status: statusToProto[r.status],
    reward: r.reward,
    extractedAnswer: r.extracted,
    normalizedGold: r.normalizedGold,
    normalizedPrediction: r.normalizedPrediction,
    reason: r.reason,
    rule: r.rule,
    extraction: r.extraction,
    elapsedMs: r.elapsedMs,
  };
}

export function toSummaryMessage(s: BatchSummary): VerifySummary {
  return { items: s.items, counts: s.counts.map((c) => ({ status: statusToProto[c.status], count: c.count })), meanReward: s.meanReward };
}

export type StreamHandler = (
  request: { items: VerifyItem[]; options?: VerifyOptions },
  ctx: CallContext,
  emit: (result: VerifyResult) => void,
) => Promise<VerifySummary>;

export type RewardUnaryHandlers = UnaryHandlers<Pick<typeof RewardServiceService, "verify" | "listTaskKinds">>;

export function createRewardHandlers(deps: RewardDeps): RewardUnaryHandlers & { verifyStream: StreamHandler } {
  const { engine, limits } = deps;

  function prepare(request: { items: VerifyItem[]; options?: VerifyOptions }) {
    const options = validateOptions(request.options, limits);
    const items = validateItems(request.items, request.options?.defaultTaskKind || DEFAULT_TASK_KIND, limits);
    return { items, options };
  }

  const run = (request: { items: VerifyItem[]; options?: VerifyOptions }, ctx: CallContext, endpoint: Endpoint, emit?: (r: ItemResult) => void) => {
    const { items, options } = prepare(request);
    return engine.run(items, options, endpoint, ctx.signal, emit);
  };

  return {
    async verify(request, ctx): Promise<VerifyResponse> {
      const { results, summary } = await run(request, ctx, "grpc");
      return { results: results.map(toResultMessage), summary: toSummaryMessage(summary) };
    },

    async verifyStream(request, ctx, emit): Promise<VerifySummary> {
      const { summary } = await run(request, ctx, "grpc_stream", (r) => emit(toResultMessage(r)));
      return toSummaryMessage(summary);
    },

    async listTaskKinds(): Promise<ListTaskKindsResponse> {
      return { taskKinds: listTaskKinds().map((k) => ({ name: k.name, description: k.description })) };
    },
  };
}
