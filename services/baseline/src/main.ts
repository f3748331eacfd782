// Baseline service entry point: configuration, dependencies, signals.
import { tracing } from "./instrumentation";
import { loggableConfig } from "../../../shared/config";
import { runService } from "../../../shared/grpc/main";
import { createMongo } from "../../../shared/mongo";
import { createLogger } from "../../../shared/telemetry/logger";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { loadBaselineConfig } from "./config";
import { startBaselineServer } from "./server";
import { MongoReferenceStore } from "./store/mongo-reference-store";

runService("valor-baseline", () => loadBaselineConfig(), async (config) => {
  const logger = createLogger("valor-baseline", config.LOG_LEVEL);
  logger.info({ config: loggableConfig(config), tracing: tracing.enabled }, "configuration");
  const mongo = createMongo({
    uri: config.MONGODB_URI,
    database: config.MONGODB_DATABASE,
    serverSelectionTimeoutMs: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    appName: "valor-baseline",
  });
  const service = await startBaselineServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-baseline"),
    store: new MongoReferenceStore(mongo.db),
    closers: [mongo.close, tracing.shutdown],
  });
  return { service, logger };
});
