// Runs a validated batch through the verifier: one settings object per batch,
// items verified concurrently (the pool bounds the parallelism), rewards from
// the statuses, metrics per verdict. Shared by the gRPC and HTTP endpoints.
import type { Logger } from "../../../../shared/telemetry/logger";
import type { PercentPolicy } from "../domain/equivalence";
import { rewardFor, rewardValues, type RewardValues, type ScaleName } from "../domain/rewards";
import { STATUSES, type Limits, type Status, type VerifyInput, type VerifySettings } from "../domain/verify";
import type { Verified, Verifier } from "../pool/verifier-pool";
import type { VerdictMetrics } from "../verdict-metrics";

export interface BatchDefaults {
  strict: boolean;
  relativeTolerance: number;
  percentPolicy: PercentPolicy;
  itemTimeoutMs: number;
  limits: Limits;
}

export interface BatchOptions {
  scale: ScaleName;
  rewards?: Partial<RewardValues>;
  relativeTolerance?: number;
  strict?: boolean;
  percentPolicy?: PercentPolicy;
  timeoutMs?: number;
}

export interface ItemResult extends Verified {
  id: string;
  taskKind: string;
  reward: number;
}

export interface BatchSummary {
  items: number;
  counts: Array<{ status: Status; count: number }>;
  meanReward: number;
}

export interface BatchEngineDeps {
  verifier: Verifier;
  defaults: BatchDefaults;
  metrics: VerdictMetrics;
  logger: Logger;
}

export type Endpoint = "grpc" | "grpc_stream" | "openrlhf" | "slime" | "json";

export function summarize(results: readonly ItemResult[]): BatchSummary {
  const counts = new Map<Status, number>();
  let total = 0;
  for (const r of results) {
    counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    total += r.reward;
  }
  return {
    items: results.length,
    counts: STATUSES.filter((s) => counts.has(s)).map((status) => ({ status, count: counts.get(status)! })),
    meanReward: results.length === 0 ? 0 : total / results.length,
  };
}

export class BatchEngine {
  constructor(private readonly deps: BatchEngineDeps) {}

  settingsFor(options: BatchOptions): { settings: VerifySettings; values: RewardValues; timeoutMs: number } {
    const d = this.deps.defaults;
    return {
      settings: {
        strict: options.strict ?? d.strict,
        relativeTolerance: options.relativeTolerance ?? d.relativeTolerance,
        percentPolicy: options.percentPolicy ?? d.percentPolicy,
        limits: d.limits,
      },
      values: rewardValues(options.scale, options.rewards),
      timeoutMs: options.timeoutMs ?? d.itemTimeoutMs,
    };
  }

  /** Verifies every item; `onResult` sees each result as soon as it is ready. Results are in request order. */
  async run(
    items: readonly VerifyInput[],
    options: BatchOptions,
    endpoint: Endpoint,
    signal?: AbortSignal,
    onResult?: (result: ItemResult) => void,
  ): Promise<{ results: ItemResult[]; summary: BatchSummary }> {
    const { settings, values, timeoutMs } = this.settingsFor(options);
    const { metrics, logger, verifier } = this.deps;
    const stopBatch = metrics.batchSeconds.startTimer({ endpoint });
    const results = await Promise.all(
      items.map(async (input) => {
        const verified = await verifier.verify(input, settings, timeoutMs, signal);
        const result: ItemResult = { ...verified, id: input.id, taskKind: input.taskKind, reward: rewardFor(verified.status, values) };
        metrics.verdicts.inc({ status: result.status, task_kind: input.taskKind, rule: result.rule || "none", endpoint });
        metrics.itemSeconds.observe({ path: result.pooled ? "pool" : "fast", status: result.status }, result.elapsedMs / 1000);
        if (result.status === "TIMEOUT") logger.warn({ id: input.id, endpoint, reason: result.reason }, "verification timed out");
        else logger.debug({ id: input.id, status: result.status, rule: result.rule, reason: result.reason }, "verdict");
        onResult?.(result);
        return result;
      }),
    );
    stopBatch();
    return { results, summary: summarize(results) };
  }
}
