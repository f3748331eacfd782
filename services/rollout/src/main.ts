// Rollout service entry point: configuration, the policy engine, signals.
import { tracing } from "./instrumentation";
import { runService } from "../../../shared/grpc/main";
import { loadBuiltinPolicy } from "../../../shared/models/builtin-policy";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { OnnxPolicyBackend } from "./backend/onnx-backend";
import { loadRolloutConfig } from "./config";
import { DynamicBatcher } from "./domain/batcher";
import { PolicyStore } from "./domain/policy-store";
import { CharTokenizer } from "./domain/tokenizer";
import { startRolloutServer } from "./server";

runService("valor-rollout", tracing, () => loadRolloutConfig(), async (config, logger) => {
  const model = loadBuiltinPolicy(config.ROLLOUT_MODEL_DIR);
  const backend = await OnnxPolicyBackend.load({
    modelDir: config.ROLLOUT_MODEL_DIR,
    modelId: `builtin-arith@${model.manifest.sha256.slice(0, 12)}`,
    numParameters: model.manifest.n_params,
    vocabSize: model.manifest.config.vocab_size,
    maxPositions: model.manifest.config.max_pos,
    padId: model.vocab.pad_id,
    eosId: model.vocab.eos_id,
    executionProvider: config.ROLLOUT_EXECUTION_PROVIDER,
    intraOpThreads: config.ROLLOUT_INTRA_OP_THREADS || undefined,
  }).catch((err: unknown) => {
    if (config.ROLLOUT_EXECUTION_PROVIDER !== "cuda") throw err;
    throw new Error(
      `ROLLOUT_EXECUTION_PROVIDER=cuda, but onnxruntime-node could not create a CUDA session (${String(err)}); ` +
        "GPU images install onnxruntime-node's CUDA provider at build time — or use cpu",
    );
  });
  const store = new PolicyStore({ version: 0n, params: model.params }, model.manifest.n_params);
  const service = await startRolloutServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-rollout"),
    backend,
    store,
    batcher: new DynamicBatcher(backend, store, config.ROLLOUT_MAX_BATCH_SEQUENCES, config.ROLLOUT_BATCH_WINDOW_MS),
    tokenizer: new CharTokenizer(model.vocab),
    closers: [() => backend.close(), tracing.shutdown],
  });
  return service;
});
