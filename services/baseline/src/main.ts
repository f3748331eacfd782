// Baseline service entry point: configuration, dependencies, signals.
import { tracing } from "./instrumentation";
import { runService } from "../../../shared/grpc/main";
import { mongoFromConfig } from "../../../shared/mongo";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { loadBaselineConfig } from "./config";
import { startBaselineServer } from "./server";
import { MongoReferenceStore } from "./store/mongo-reference-store";

runService("valor-baseline", tracing, () => loadBaselineConfig(), async (config, logger) => {
  const mongo = mongoFromConfig(config, "valor-baseline");
  const service = await startBaselineServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-baseline"),
    store: new MongoReferenceStore(mongo.db),
    closers: [mongo.close, tracing.shutdown],
  });
  return service;
});
