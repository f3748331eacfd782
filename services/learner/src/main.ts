// Learner service entry point: configuration, resume from the run's latest
// checkpoint, the train-step engine, signals (a final checkpoint on shutdown).
import { tracing } from "./instrumentation";
import { StepResponse } from "../../../shared/gen/valor/learner/v1/learner.pb";
import { runService } from "../../../shared/grpc/main";
import { loadBuiltinPolicy } from "../../../shared/models/builtin-policy";
import { mongoFromConfig } from "../../../shared/mongo";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { OnnxTrainer } from "./backend/onnx-trainer";
import { RolloutPusher } from "./clients/rollout-push";
import { clientTlsFromEnv } from "../../../shared/grpc/tls";
import { loadLearnerConfig } from "./config";
import { SerialQueue } from "./domain/serial-queue";
import type { LearnerRuntimeState } from "./handlers/learner-handlers";
import { startLearnerServer } from "./server";
import { CheckpointStore } from "./store/checkpoint-store";

runService("valor-learner", tracing, () => loadLearnerConfig(), async (config, logger) => {
  const mongo = mongoFromConfig(config, "valor-learner");
  const model = loadBuiltinPolicy(config.LEARNER_MODEL_DIR);
  const checkpoints = new CheckpointStore(mongo.db, {
    keep: config.LEARNER_CHECKPOINT_KEEP,
    onPruneError: (err) => logger.warn({ error: String(err) }, "could not delete old checkpoints; the next save retries"),
  });
  await checkpoints.init();
  const resumed = await checkpoints.latest(config.LEARNER_RUN_ID);
  if (resumed && resumed.meta.numParameters !== model.manifest.n_params) {
    throw new Error(`checkpoint of run ${config.LEARNER_RUN_ID} has ${resumed.meta.numParameters} parameters; the model has ${model.manifest.n_params}`);
  }
  const n = model.manifest.n_params;
  const runtime: LearnerRuntimeState = {
    state: resumed?.state ?? { step: 0n, params: model.params, adamM: new Float32Array(n), adamV: new Float32Array(n), adamStep: 0 },
    lastResult: resumed?.meta.lastResult ? StepResponse.fromJSON(resumed.meta.lastResult) : undefined,
    lastCheckpoint: resumed?.meta,
  };
  logger.info({ runId: config.LEARNER_RUN_ID, step: Number(runtime.state.step), resumed: Boolean(resumed) }, resumed ? "resumed from checkpoint" : "starting from the initial weights");

  const trainer = await OnnxTrainer.load(config.LEARNER_MODEL_DIR, config.LEARNER_EXECUTION_PROVIDER, config.LEARNER_INTRA_OP_THREADS || undefined).catch(
    (err: unknown) => {
      if (config.LEARNER_EXECUTION_PROVIDER !== "cuda") throw err;
      throw new Error(
        `LEARNER_EXECUTION_PROVIDER=cuda, but onnxruntime-node could not create a CUDA session (${String(err)}); ` +
          "GPU images install onnxruntime-node's CUDA provider at build time — or use cpu",
      );
    },
  );
  const pusher = new RolloutPusher(config.LEARNER_ROLLOUT_ADDRESSES, {
    chunkBytes: config.LEARNER_PUSH_CHUNK_BYTES,
    deadlineMs: config.LEARNER_PUSH_DEADLINE_MS,
    authToken: config.AUTH_TOKEN,
    tls: clientTlsFromEnv(config),
  });
  const queue = new SerialQueue();
  const finalCheckpoint = async () => {
    if (runtime.state.step === BigInt(runtime.lastCheckpoint?.step ?? 0)) return;
    await queue.run(async () => {
      runtime.lastCheckpoint = await checkpoints.save(config.LEARNER_RUN_ID, runtime.state, runtime.lastResult && StepResponse.toJSON(runtime.lastResult));
      logger.info({ step: runtime.lastCheckpoint.step }, "checkpoint saved on shutdown");
    });
  };
  const service = await startLearnerServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-learner"),
    runId: config.LEARNER_RUN_ID,
    trainer,
    checkpoints,
    pusher,
    queue,
    runtime,
    limits: {
      vocabSize: model.manifest.config.vocab_size,
      maxPositions: model.manifest.config.max_pos,
      padId: model.vocab.pad_id,
      maxTrajectories: config.LEARNER_MAX_TRAJECTORIES,
    },
    checkpointEvery: config.LEARNER_CHECKPOINT_EVERY,
    executionProvider: config.LEARNER_EXECUTION_PROVIDER,
    closers: [finalCheckpoint, async () => pusher.close(), () => trainer.close(), mongo.close, tracing.shutdown],
  });
  // Rollout services start from the initial weights; bring them to the resumed version.
  if (runtime.state.step > 0n && pusher.addresses.length > 0) {
    void pusher.push(runtime.state.step, runtime.state.params).then((results) => logger.info({ results }, "pushed the resumed policy"));
  }
  return service;
});
