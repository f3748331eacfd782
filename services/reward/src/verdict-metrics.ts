// Verdict metrics, registered on the service's prom-client registry: a counter
// per status / task kind / deciding rule, and per-item latency by path.
import { Counter, Histogram, type Registry } from "prom-client";

export interface VerdictMetrics {
  verdicts: Counter<"status" | "task_kind" | "rule" | "endpoint">;
  itemSeconds: Histogram<"path" | "status">;
  batchSeconds: Histogram<"endpoint">;
}

export function createVerdictMetrics(registry: Registry): VerdictMetrics {
  return {
    verdicts: new Counter({
      name: "valor_reward_verdicts_total",
      help: "Verified items by status, task kind, deciding rule and endpoint (grpc, grpc_stream, openrlhf, slime, json).",
      labelNames: ["status", "task_kind", "rule", "endpoint"],
      registers: [registry],
    }),
    itemSeconds: new Histogram({
      name: "valor_reward_item_seconds",
      help: "Time to verify one item, by path (fast: no CAS; pool: worker thread) and status.",
      labelNames: ["path", "status"],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "valor_reward_batch_seconds",
      help: "Time to verify a whole batch, by endpoint.",
      labelNames: ["endpoint"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
