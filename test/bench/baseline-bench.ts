// Benchmark: advantage computation for batches of 1024 groups × 4 rollouts,
// in-process (the domain library a trainer could embed) and over gRPC on
// loopback to a real baseline service process, side by side in one run.
// Prints groups/s for each path, their ratio, and per-batch p50/p99 latency.
import { performance } from "node:perf_hooks";
import { credentials } from "@grpc/grpc-js";
import { BaselineServiceClient, type ComputeAdvantagesRequest, type ComputePackedAdvantagesRequest } from "../../shared/gen/valor/baseline/v1/baseline.pb";
import { RewardScale } from "../../shared/gen/valor/common/v1/reward.pb";
import { unary } from "../../shared/grpc/client";
import { startServiceProcess } from "../../shared/local/service-process";
import { computeBatch, getEstimator, DEFAULT_ESTIMATOR_OPTIONS, type Group } from "../../services/baseline/src/domain/estimators";
import { SCALES } from "../../services/baseline/src/domain/scale";
import { DEFAULT_BUDGET_PARAMETERS } from "../../services/baseline/src/domain/budget";
import { createBaselineHandlers } from "../../services/baseline/src/handlers/baseline-handlers";
import { createLogger } from "../../shared/telemetry/logger";

const GROUPS = 1024;
const ROLLOUTS = 4;
const WARMUP_S = 1;
const MEASURE_S = Number(process.env.BENCH_SECONDS ?? 4);

function makeRequest(estimator: string, seed: number): ComputeAdvantagesRequest {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  return {
    estimator,
    rewardScale: RewardScale.REWARD_SCALE_SIGNED,
    referencePolicyId: "",
    groups: Array.from({ length: GROUPS }, (_, i) => {
      const p = rand();
      return {
        promptId: `prompt-${i}`,
        rewards: Array.from({ length: ROLLOUTS }, () => (rand() < p ? 1 : -1)),
        prior: { passRate: Math.min(1, Math.max(0, p + (rand() - 0.5) * 0.3)) },
      };
    }),
  };
}

function pack(request: ComputeAdvantagesRequest): ComputePackedAdvantagesRequest {
  return {
    estimator: request.estimator,
    rewardScale: request.rewardScale,
    referencePolicyId: "",
    groups: {
      promptIds: request.groups.map((g) => g.promptId),
      groupSizes: request.groups.map((g) => g.rewards.length),
      rewards: request.groups.flatMap((g) => g.rewards),
      priorPassRates: request.groups.map((g) => g.prior!.passRate),
      referenceRollouts: [],
      referenceMeanRewards: [],
    },
  };
}

/** Nearest-rank quantile of an ascending array. */
const quantileSorted = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

interface Result {
  batches: number;
  seconds: number;
  latenciesMs: number[];
}

/** Runs `once` back to back (with `inFlight` concurrent loops) for the measurement window. */
async function measure(once: () => Promise<unknown>, inFlight: number): Promise<Result> {
  const runFor = async (seconds: number, latencies: number[] | undefined) => {
    const end = performance.now() + seconds * 1000;
    let batches = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await once();
          latencies?.push(performance.now() - t0);
          batches++;
        }
      }),
    );
    return batches;
  };
  await runFor(WARMUP_S, undefined);
  const latenciesMs: number[] = [];
  const t0 = performance.now();
  const batches = await runFor(MEASURE_S, latenciesMs);
  return { batches, seconds: (performance.now() - t0) / 1000, latenciesMs: latenciesMs.sort((a, b) => a - b) };
}

function row(name: string, r: Result, reference?: Result): string {
  const gps = (r.batches * GROUPS) / r.seconds;
  const ratio = reference ? `${((gps / ((reference.batches * GROUPS) / reference.seconds)) * 100).toFixed(1)}%` : "—";
  const p50 = quantileSorted(r.latenciesMs, 0.5).toFixed(3);
  const p99 = quantileSorted(r.latenciesMs, 0.99).toFixed(3);
  return `| ${name.padEnd(34)} | ${Math.round(gps).toLocaleString("en-US").padStart(11)} | ${ratio.padStart(8)} | ${p50.padStart(8)} | ${p99.padStart(8)} |`;
}

// The service's own handler called without a transport: validation, unpacking
// and response building included, so the gRPC rows can be read against it too.
const handlers = createBaselineHandlers({
  store: {
    record: () => Promise.reject(new Error("unused")),
    get: () => Promise.reject(new Error("unused")),
    activate: () => Promise.reject(new Error("unused")),
    active: () => Promise.reject(new Error("unused")),
  },
  limits: { maxGroups: 65_536, maxRolloutsPerGroup: 4_096, maxPromptIds: 65_536 },
  budgetDefaults: DEFAULT_BUDGET_PARAMETERS,
});
const inProcessContext = { deadline: undefined, signal: new AbortController().signal, remainingMs: () => undefined, logger: createLogger("bench", "silent") };

async function main(): Promise<void> {
  const service = await startServiceProcess("baseline", { METRICS_PORT: "-1" });
  const client = new BaselineServiceClient(service.address, credentials.createInsecure());
  try {
    console.log(`baseline benchmark: ${GROUPS} groups × ${ROLLOUTS} rollouts per batch, ${MEASURE_S} s per row, node ${process.version}`);
    console.log("| path                               |    groups/s | vs lib   | p50 ms   | p99 ms   |");
    console.log("|------------------------------------|-------------|----------|----------|----------|");
    for (const estimator of ["grpo", "v05"]) {
      const request = makeRequest(estimator, 7);
      const groups: Group[] = request.groups.map((g) => ({ promptId: g.promptId, rewards: g.rewards, prior: g.prior?.passRate }));
      const est = getEstimator(estimator);
      const library = await measure(async () => computeBatch(est, groups, SCALES.signed, DEFAULT_ESTIMATOR_OPTIONS), 1);
      const packed = pack(request);
      const handlerPacked = await measure(() => handlers.computePackedAdvantages(packed, inProcessContext), 1);
      const grpc1 = await measure(() => unary(client.computeAdvantages.bind(client), request), 1);
      const grpc4 = await measure(() => unary(client.computeAdvantages.bind(client), request), 4);
      const packed1 = await measure(() => unary(client.computePackedAdvantages.bind(client), packed), 1);
      const packed4 = await measure(() => unary(client.computePackedAdvantages.bind(client), packed), 4);
      console.log(row(`${estimator}: in-process library`, library));
      console.log(row(`${estimator}: in-process handler, packed`, handlerPacked, library));
      console.log(row(`${estimator}: gRPC groups, 1 in flight`, grpc1, library));
      console.log(row(`${estimator}: gRPC groups, 4 in flight`, grpc4, library));
      console.log(row(`${estimator}: gRPC packed, 1 in flight`, packed1, library));
      console.log(row(`${estimator}: gRPC packed, 4 in flight`, packed4, library));
    }
    console.log("vs lib = throughput as a share of the in-process library's (the estimator math alone); latency is per 1024-group batch.");
    console.log("Target (issue 2): gRPC ≥ 50% of in-process throughput, p99 < 10 ms per batch.");
  } finally {
    client.close();
    await service.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
