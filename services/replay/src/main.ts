// Replay service entry point: configuration, dependencies, signals.
import { tracing } from "./instrumentation";
import { runService } from "../../../shared/grpc/main";
import { mongoFromConfig } from "../../../shared/mongo";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { loadReplayConfig, writeConcernOf } from "./config";
import { startReplayServer } from "./server";
import { MongoReplayStore } from "./store/mongo-replay-store";

runService("valor-replay", tracing, () => loadReplayConfig(), async (config, logger) => {
  const mongo = mongoFromConfig(config, "valor-replay");
  return startReplayServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-replay"),
    store: new MongoReplayStore(mongo.db, { writeConcern: writeConcernOf(config) }),
    closers: [mongo.close, tracing.shutdown],
  });
});
