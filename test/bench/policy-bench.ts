// Benchmark: the built-in policy on onnxruntime-node (CPU), each path beside its
// reference in one run.
// - Rollout: generated tokens/s through the rollout service (gRPC, dynamic
//   batching) vs the same backend's decoding loop called in this process.
// - Learner: train steps/s through the learner service vs the same ONNX step
//   in this process; and the ONNX step vs PyTorch's own step, from the Python
//   benchmark (live when the models/ virtualenv exists, else its recorded run).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { credentials } from "@grpc/grpc-js";
import { LearnerServiceClient, LossAggregation, Trajectory, type StepRequest } from "../../shared/gen/valor/learner/v1/learner.pb";
import { RolloutServiceClient, type GenerateRequest } from "../../shared/gen/valor/rollout/v1/rollout.pb";
import { unary } from "../../shared/grpc/client";
import { generateProblems } from "../../shared/models/arith-task";
import { loadBuiltinPolicy } from "../../shared/models/builtin-policy";
import { repoRoot } from "../../shared/paths";
import { mulberry32 } from "../../shared/random";
import { openTestDatabase } from "../../shared/testing/database";
import { startServiceProcess } from "../../shared/local/service-process";
import { OnnxTrainer } from "../../services/learner/src/backend/onnx-trainer";
import { buildTrainBatch } from "../../services/learner/src/domain/train-batch";
import type { TrainState } from "../../services/learner/src/domain/train-state";
import { OnnxPolicyBackend } from "../../services/rollout/src/backend/onnx-backend";
import type { DecodeSequence } from "../../services/rollout/src/domain/generation";
import { seedFor } from "../../services/rollout/src/domain/sampling";
import { CharTokenizer } from "../../services/rollout/src/domain/tokenizer";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const PROMPTS = 64;
const SAMPLES = 4;
const THREADS = "1";

async function timed(fn: () => Promise<number>, seconds = SECONDS): Promise<{ perSecond: number; calls: number; msPerCall: number }> {
  await fn(); // warm-up
  let units = 0;
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    units += await fn();
    calls++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  return { perSecond: units / elapsed, calls, msPerCall: (elapsed * 1000) / calls };
}

const row = (name: string, value: string, ratio: string) => console.log(`| ${name.padEnd(46)} | ${value.padStart(16)} | ${ratio.padStart(8)} |`);

async function main(): Promise<void> {
  const artifacts = path.join(repoRoot(), "models", "artifacts");
  const model = loadBuiltinPolicy(artifacts);
  const tokenizer = new CharTokenizer(model.vocab);
  const prompts = generateProblems(99, PROMPTS, "train").map((p) => p.prompt);
  console.log(`policy benchmark: ${model.manifest.n_params.toLocaleString("en-US")} parameters, onnxruntime-node CPU, ${THREADS} intra-op thread, ${SECONDS} s per row, node ${process.version}`);
  console.log("| path                                           |       throughput |  vs bare |");
  console.log("|------------------------------------------------|------------------|----------|");

  // Rollout: bare decoding loop vs the service.
  const backend = await OnnxPolicyBackend.load({
    modelDir: artifacts,
    modelId: "bench",
    numParameters: model.manifest.n_params,
    vocabSize: model.manifest.config.vocab_size,
    maxPositions: model.manifest.config.max_pos,
    padId: model.vocab.pad_id,
    eosId: model.vocab.eos_id,
    executionProvider: "cpu",
    intraOpThreads: 1,
  });
  let seed = 0;
  const bare = await timed(async () => {
    seed++;
    const sequences: DecodeSequence[] = prompts.flatMap((p, i) =>
      Array.from({ length: SAMPLES }, (_, j) => ({
        promptIds: tokenizer.encodePrompt(p, "prompt"),
        maxNewTokens: 8,
        sampling: { temperature: 1, topP: 1 },
        random: mulberry32(seedFor(seed, i, j)),
        tokens: [],
        logprobs: [],
      })),
    );
    await backend.generate(model.params, sequences);
    return sequences.reduce((s, q) => s + q.tokens.length, 0);
  });
  await backend.close();
  row(`rollout: bare decoding loop, ${PROMPTS}×${SAMPLES} per call`, `${Math.round(bare.perSecond).toLocaleString("en-US")} tok/s`, "—");

  const rollout = await startServiceProcess("rollout", { ROLLOUT_INTRA_OP_THREADS: THREADS, METRICS_PORT: "-1" });
  const rc = new RolloutServiceClient(rollout.address, credentials.createInsecure());
  const request = (s: number): GenerateRequest => ({
    prompts: prompts.map((text, i) => ({ promptId: `p${i}`, text })),
    samplesPerPrompt: SAMPLES,
    sampling: { temperature: 1, topP: 1, maxNewTokens: 8, seed: BigInt(s) },
  });
  const service1 = await timed(async () => (await unary(rc.generate.bind(rc), request(++seed))).generatedTokens);
  row(`rollout: service, 1 request in flight`, `${Math.round(service1.perSecond).toLocaleString("en-US")} tok/s`, `${((service1.perSecond / bare.perSecond) * 100).toFixed(0)}%`);
  // Four clients of 16 prompts each: the server batches them together.
  const quarter = (s: number): GenerateRequest => ({ ...request(s), prompts: request(s).prompts.slice(0, PROMPTS / 4) });
  const service4 = await timed(async () => {
    const res = await Promise.all([1, 2, 3, 4].map(() => unary(rc.generate.bind(rc), quarter(++seed))));
    return res.reduce((s, r) => s + r.generatedTokens, 0);
  });
  row(`rollout: service, 4 clients × ${PROMPTS / 4} prompts`, `${Math.round(service4.perSecond).toLocaleString("en-US")} tok/s`, `${((service4.perSecond / bare.perSecond) * 100).toFixed(0)}%`);

  // Learner: the same ONNX step in process vs through the service.
  const { samples } = await unary(rc.generate.bind(rc), request(12345));
  rc.close();
  await rollout.stop();
  const trajectories = samples.map((s, i) =>
    Trajectory.fromPartial({ promptTokenIds: s.promptTokenIds, responseTokenIds: s.responseTokenIds, oldLogprobs: s.logprobs, advantage: (i % 3) - 1 }),
  );
  const loss = { clipRatioLow: 0.2, clipRatioHigh: 0.28, dualClip: 3, klCoef: 0, aggregation: "token-mean" as const, lossScaleFactor: 1 };
  const optimizer = { learningRate: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };
  const trainer = await OnnxTrainer.load(artifacts, "cpu", 1);
  const batch = buildTrainBatch(trajectories, { vocabSize: model.manifest.config.vocab_size, maxPositions: model.manifest.config.max_pos, padId: model.vocab.pad_id, maxTrajectories: 4096 }, { kind: "policy", requireRef: false });
  const n = model.manifest.n_params;
  let state: TrainState = { step: 0n, params: model.params, adamM: new Float32Array(n), adamV: new Float32Array(n), adamStep: 0 };
  const inProcess = await timed(async () => {
    state = (await trainer.step(state, batch, loss, optimizer)).state;
    return 1;
  });
  await trainer.close();
  row(`learner: ONNX step in process (${trajectories.length} seqs × ${batch.width})`, `${inProcess.perSecond.toFixed(2)} steps/s`, "—");

  const db = await openTestDatabase();
  const learner = await startServiceProcess("learner", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    LEARNER_RUN_ID: "bench",
    LEARNER_CHECKPOINT_EVERY: "0",
    LEARNER_INTRA_OP_THREADS: THREADS,
    METRICS_PORT: "-1",
  });
  const lc = new LearnerServiceClient(learner.address, credentials.createInsecure());
  let step = 0n;
  const stepRequest = (): StepRequest => ({
    runId: "bench",
    step: ++step,
    trajectories,
    loss: { clipRatioLow: 0.2, clipRatioHigh: 0.28, dualClip: 3, klCoef: 0, aggregation: LossAggregation.LOSS_AGGREGATION_TOKEN_MEAN, lossScaleFactor: 0 },
    optimizer: { learningRate: 1e-5, weightDecay: 0 },
  });
  const viaService = await timed(async () => {
    await unary(lc.step.bind(lc), stepRequest(), 60_000);
    return 1;
  });
  lc.close();
  await learner.stop();
  await db.close();
  row(`learner: service Step (gRPC, no rollout push)`, `${viaService.perSecond.toFixed(2)} steps/s`, `${((viaService.perSecond / inProcess.perSecond) * 100).toFixed(0)}%`);

  // ONNX vs the framework's own step (PyTorch, CPU, one thread).
  const venvPython = path.join(repoRoot(), ".tools", "venv", "bin", "python");
  let python: { onnx_train_step_ms: number; torch_eager_train_step_ms: number; onnx_over_torch: number; train_batch_shape: number[] };
  let source = "recorded by models/build.sh";
  if (fs.existsSync(venvPython)) {
    execFileSync(venvPython, ["-m", "valor_model.bench"], { cwd: path.join(repoRoot(), "models"), stdio: "ignore", env: { ...process.env, OMP_NUM_THREADS: "1" } });
    source = "measured now";
  }
  python = JSON.parse(fs.readFileSync(path.join(artifacts, "bench.json"), "utf8"));
  row(`train step [${python.train_batch_shape.join("×")}]: PyTorch eager (${source})`, `${python.torch_eager_train_step_ms.toFixed(1)} ms`, "—");
  row(`train step [${python.train_batch_shape.join("×")}]: ONNX Runtime (${source})`, `${python.onnx_train_step_ms.toFixed(1)} ms`, `${python.onnx_over_torch.toFixed(2)}×`);
  console.log("Targets (issue 5): rollout service ≥ 80% of the bare loop; the ONNX train step ≤ 1.5× PyTorch's time.");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
