// Value service entry point: configuration, the value model, contexts, signals.
import { tracing } from "./instrumentation";
import { runService } from "../../../shared/grpc/main";
import { mongoFromConfig } from "../../../shared/mongo";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { OnnxValueModel } from "./backend/onnx-value-model";
import { loadValueConfig } from "./config";
import { Coalescer } from "./domain/coalescer";
import { ContextManager } from "./domain/context-manager";
import { FEATURE_SIZE, FeatureCache } from "./domain/features";
import { startValueServer } from "./server";
import { MongoContextStore } from "./store/mongo-context-store";

runService("valor-value", tracing, () => loadValueConfig(), async (config, logger) => {
  // A missing or corrupt model stops the start-up here, with the file named.
  const model = await OnnxValueModel.load(config.VALUE_MODEL_FILE, FEATURE_SIZE, config.VALUE_EXECUTION_PROVIDER, config.VALUE_INTRA_OP_THREADS || undefined).catch(
    (err: unknown) => {
      throw new Error(`cannot load the value model ${config.VALUE_MODEL_FILE} (VALUE_MODEL_FILE) on ${config.VALUE_EXECUTION_PROVIDER}: ${String(err)}`);
    },
  );
  const mongo = mongoFromConfig(config, "valor-value");
  const contexts = new ContextManager(new MongoContextStore(mongo.db), config.VALUE_CONTEXT_CAPACITY);
  mongo.client.on("serverHeartbeatFailed", () => contexts.setStoreReachable(false));
  mongo.client.on("serverHeartbeatSucceeded", () => contexts.setStoreReachable(true));
  return startValueServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-value"),
    modelId: config.VALUE_MODEL_ID,
    contexts,
    features: new FeatureCache(config.VALUE_FEATURE_CACHE),
    coalescer: new Coalescer(model, config.VALUE_MAX_BATCH, config.VALUE_MAX_WAIT_MS),
    limits: { maxPrompts: config.VALUE_MAX_PROMPTS, minContext: config.VALUE_MIN_CONTEXT, capacity: config.VALUE_CONTEXT_CAPACITY },
    closers: [() => model.close(), mongo.close, tracing.shutdown],
  });
});
