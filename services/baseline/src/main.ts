// Baseline service entry point: configuration, dependencies, signals.
import { tracing } from "./instrumentation";
import { ConfigError, redactUri } from "../../../shared/config";
import { exitOnSignals } from "../../../shared/grpc/runtime";
import { createMongo } from "../../../shared/mongo";
import { createLogger } from "../../../shared/telemetry/logger";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { loadBaselineConfig } from "./config";
import { startBaselineServer } from "./server";
import { MongoReferenceStore } from "./store/mongo-reference-store";

async function main(): Promise<void> {
  let config;
  try {
    config = loadBaselineConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`valor-baseline: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger("valor-baseline", config.LOG_LEVEL);
  logger.info({ config: { ...config, MONGODB_URI: redactUri(config.MONGODB_URI) }, tracing: tracing.enabled }, "configuration");

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
  exitOnSignals(service, logger);
}

main().catch((err: unknown) => {
  process.stderr.write(`valor-baseline: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
