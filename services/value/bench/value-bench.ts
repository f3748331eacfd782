// Benchmark: value predictions over gRPC at concurrency 1, 16 and 64 against
// raw onnxruntime-node batch inference of the same model in this process.
// Each prediction: a 256-row context and 16 query prompts.
import { performance } from "node:perf_hooks";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import { ValueServiceClient } from "../../../shared/gen/valor/value/v1/value.pb";
import { unary } from "../../../shared/grpc/client";
import { generateProblems } from "../../../shared/models/arith-task";
import { repoRoot } from "../../../shared/paths";
import { openTestDatabase } from "../../../shared/testing/database";
import { startServiceProcess } from "../../../shared/local/service-process";
import { OnnxValueModel, type PredictionInput } from "../src/backend/onnx-value-model";
import { FEATURE_SIZE, promptFeatures } from "../src/domain/features";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONTEXT = 256;
const QUERIES = 16;
const MAX_BATCH = Number(process.env.VALUE_MAX_BATCH ?? 64);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

async function measure(concurrency: number, once: () => Promise<number>) {
  const run = async (seconds: number, latencies?: number[]) => {
    const end = performance.now() + seconds * 1000;
    let predictions = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const n = await once(); // read after the await: `x += await f()` would lose concurrent updates
          predictions += n;
          latencies?.push(performance.now() - t0);
        }
      }),
    );
    return predictions;
  };
  await run(0.5);
  const latencies: number[] = [];
  const t0 = performance.now();
  const predictions = await run(SECONDS, latencies);
  latencies.sort((a, b) => a - b);
  return { perSecond: predictions / ((performance.now() - t0) / 1000), p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

async function main(): Promise<void> {
  const problems = generateProblems(3, CONTEXT + QUERIES, "train");
  const context = problems.slice(0, CONTEXT);
  const queries = problems.slice(CONTEXT).map((p) => p.prompt);
  const passRate = (level: number) => [0.95, 0.6, 0.6, 0.1, 0.05][level - 1]!;
  const stack = (texts: string[]) => {
    const out = new Float32Array(texts.length * FEATURE_SIZE);
    texts.forEach((t, i) => out.set(promptFeatures(t), i * FEATURE_SIZE));
    return out;
  };
  const input: PredictionInput = {
    contextFeatures: stack(context.map((p) => p.prompt)),
    contextOutcomes: Float32Array.from(context, (p) => passRate(p.level)),
    queryFeatures: stack(queries),
  };

  console.log(`value benchmark: context ${CONTEXT} rows, ${QUERIES} queries per prediction, ${SECONDS} s per row, one intra-op thread`);
  console.log("| path | concurrency | predictions/s | vs raw | p50 ms | p99 ms |");
  console.log("|---|---|---|---|---|---|");
  const model = await OnnxValueModel.load(path.join(repoRoot(), "models", "value", "artifacts", "value_model.onnx"), FEATURE_SIZE, "cpu", 1);
  const raw = new Map<number, number>();
  for (const batch of [1, 16, MAX_BATCH]) {
    const r = await measure(1, async () => (await model.run(Array.from({ length: batch }, () => input))).length);
    raw.set(batch, r.perSecond);
    console.log(`| raw onnxruntime-node, batch ${batch} | 1 | ${Math.round(r.perSecond).toLocaleString("en-US")} | — | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
  }
  await model.close();

  const db = await openTestDatabase();
  const service = await startServiceProcess("value", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    VALUE_INTRA_OP_THREADS: "1",
    VALUE_MAX_BATCH: String(MAX_BATCH),
    METRICS_PORT: "-1",
  });
  const client = new ValueServiceClient(service.address, credentials.createInsecure());
  try {
    await unary(client.observe.bind(client), {
      policyId: "bench",
      policyVersion: 1n,
      batchId: "context",
      rewardScale: RewardScale.REWARD_SCALE_BINARY,
      observations: context.map((p, i) => ({ promptId: `c${i}`, text: p.prompt, rewards: Array.from({ length: 8 }, (_, k) => ((k + 0.5) / 8 < passRate(p.level) ? 1 : 0)) })),
    });
    const request = { policyId: "bench", policyVersion: 1n, prompts: queries.map((text, i) => ({ promptId: `q${i}`, text })), modelId: "" };
    for (const concurrency of [1, 16, 64]) {
      const r = await measure(concurrency, async () => ((await unary(client.predict.bind(client), request)).noContext ? 0 : 1));
      const reference = raw.get(Math.min(concurrency, MAX_BATCH))!;
      console.log(
        `| gRPC Predict | ${concurrency} | ${Math.round(r.perSecond).toLocaleString("en-US")} | ${((r.perSecond / reference) * 100).toFixed(0)}% of raw batch ${Math.min(concurrency, MAX_BATCH)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
      );
    }
    console.log("Target (issue 6): gRPC at concurrency 64 keeps ≥ 70% of raw batch throughput.");
  } finally {
    client.close();
    await service.stop();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
