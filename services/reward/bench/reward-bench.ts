// Reward verifier benchmark: verifications/s and per-batch latency (256 items)
// on GSM8K-style and MATH-500-style responses, in-process and over gRPC, at
// concurrency 1 and 64 (batches in flight). Run: node dist/services/reward/bench/reward-bench.js
import { credentials } from "@grpc/grpc-js";
import { quantileSorted } from "simple-statistics";
import { RewardServiceClient, VerdictStatus, type VerifyItem } from "../../../shared/gen/valor/reward/v1/reward.pb";
import { unary } from "../../../shared/grpc/client";
import { startServiceProcess } from "../../../shared/local/service-process";
import { DEFAULT_SETTINGS } from "../src/domain/settings";
import { Verifier } from "../src/pool/verifier-pool";
import { parseStructure } from "../src/domain/structure";
import { normalizeAnswer } from "../src/domain/normalize";
import { generateCases, loadGold, wrapBoxed, type Case } from "../test/real-cases";

const BATCH = 256;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

interface Row {
  mode: string;
  workload: string;
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
  batches: number;
  notCorrect: number;
}

function batches(cases: Case[]): VerifyItem[][] {
  const items = cases.map((c, i) => ({ id: `c${i}`, response: c.response, gold: c.gold, taskKind: "math" }));
  const out: VerifyItem[][] = [];
  for (let i = 0; i + BATCH <= items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

function casCases(): Case[] {
  const scalars = loadGold().filter((g) => g.source === "math500" && parseStructure(normalizeAnswer(g.gold).latex).kind === "scalar");
  const out: Case[] = [];
  for (let k = 2; k < 10; k++) {
    for (const g of scalars) {
      const gold = normalizeAnswer(g.gold).latex;
      out.push({ id: `${g.id}/k${k}`, source: "math500", form: "cas", response: wrapBoxed(`\\frac{${k}\\left(${gold}\\right)}{${k}}`), gold: g.gold, expected: "CORRECT" });
    }
  }
  return out;
}

/** Runs `run` unmeasured for a moment (JIT, worker warm-up), then measured for SECONDS. */
async function drive(run: (batch: VerifyItem[]) => Promise<number>, work: VerifyItem[][], concurrency: number) {
  for (const batch of work.slice(0, 4)) await run(batch);
  const latencies: number[] = [];
  let done = 0;
  let notCorrect = 0;
  let next = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const batch = work[next++ % work.length]!;
        const t = performance.now();
        const wrong = await run(batch); // not `notCorrect += await …`: that reads the total before the await
        notCorrect += wrong;
        latencies.push(performance.now() - t);
        done += batch.length;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: done / elapsed, p50: quantileSorted(latencies, 0.5), p99: quantileSorted(latencies, 0.99), batches: latencies.length, notCorrect };
}

async function main(): Promise<void> {
  const all = generateCases();
  const workloads: Record<string, VerifyItem[][]> = {
    // GSM8K-style: the boxed, "####" and "the answer is" forms of GSM8K golds.
    gsm8k: batches(all.filter((c) => c.source === "gsm8k" && c.expected === "CORRECT" && ["boxed", "gsm8k", "answer_is", "decimal"].includes(c.form))),
    // MATH-500-style: every equivalent form of the MATH-500 golds (includes CAS-only ones).
    math500: batches(all.filter((c) => c.source === "math500" && c.expected === "CORRECT")),
    // Worst case: every item needs the CAS (k·gold/k with a distinct k per copy, so no parse-cache hits on predictions).
    "math-cas": batches(casCases()),
  };
  const rows: Row[] = [];

  const verifier = new Verifier();
  await verifier.warm(DEFAULT_SETTINGS);
  for (const [workload, work] of Object.entries(workloads)) {
    for (const concurrency of [1, 64]) {
      const r = await drive(
        async (batch) => {
          const out = await Promise.all(batch.map((b) => verifier.verify({ ...b, relativeTolerance: undefined }, DEFAULT_SETTINGS, 2_000)));
          return out.filter((o) => o.status !== "CORRECT").length;
        },
        work,
        concurrency,
      );
      rows.push({ mode: "in-process", workload, concurrency, ...r });
    }
  }
  await verifier.close();

  const svc = await startServiceProcess("reward", { REWARD_HTTP_PORT: "-1", METRICS_PORT: "-1" }, { startTimeoutMs: 60_000 });
  const client = new RewardServiceClient(svc.address, credentials.createInsecure());
  for (const [workload, work] of Object.entries(workloads)) {
    for (const concurrency of [1, 64]) {
      const r = await drive(
        async (batch) => {
          const res = await unary(client.verify.bind(client), { items: batch }, 60_000);
          return res.results.filter((x) => x.status !== VerdictStatus.VERDICT_STATUS_CORRECT).length;
        },
        work,
        concurrency,
      );
      rows.push({ mode: "gRPC", workload, concurrency, ...r });
    }
  }
  client.close();
  await svc.stop();

  console.log(
    `reward verifier: ${BATCH}-item batches, ${SECONDS}s per row after warm-up; distinct batches: ` +
      Object.entries(workloads).map(([k, v]) => `${k} ${v.length}`).join(", "),
  );
  console.log("mode        workload  conc   verif/s   p50 ms/batch  p99 ms/batch  batches  not-CORRECT");
  for (const r of rows) {
    console.log(
      `${r.mode.padEnd(11)} ${r.workload.padEnd(9)} ${String(r.concurrency).padStart(4)} ${r.perSecond.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(13)} ${r.p99.toFixed(2).padStart(13)} ${String(r.batches).padStart(8)} ${String(r.notCorrect).padStart(12)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
