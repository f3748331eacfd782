// `make demo`: a scripted session against a real baseline service and a real
// FerretDB, both started here on free loopback ports and stopped at the end.
//
// Six prompts with known true pass rates stand in for a policy; a simulated
// value model gives priors (one of them badly wrong); rollouts are seeded
// Bernoulli draws. The session walks through what a trainer does each step.
import { credentials } from "@grpc/grpc-js";
import { BaselineServiceClient, PlanReason, PromptClass, type PromptGroup } from "../../shared/gen/valor/baseline/v1/baseline.pb";
import { RewardScale } from "../../shared/gen/valor/common/v1/reward.pb";
import { unary } from "../../shared/grpc/client";
import { startFerretDb } from "../../shared/local/ferretdb";
import { startServiceProcess } from "../../shared/local/service-process";

const SIGNED = RewardScale.REWARD_SCALE_SIGNED;

interface DemoPrompt {
  id: string;
  text: string;
  /** The policy's true pass rate (unknown to a real trainer). */
  truth: number;
  /** The value model's prediction. */
  prior: number;
}

const prompts: DemoPrompt[] = [
  { id: "arith-001", text: "17 + 25 = ?", truth: 0.95, prior: 0.9 },
  { id: "arith-002", text: "12 * 7 - 5 = ?", truth: 0.6, prior: 0.55 },
  { id: "arith-003", text: "(8 + 9) * 3 = ?", truth: 0.4, prior: 0.45 },
  { id: "arith-004", text: "736 * 48 = ?", truth: 0.1, prior: 0.15 },
  { id: "arith-005", text: "(35 + 66) * (12 - 4) = ?", truth: 0.85, prior: 0.05 }, // the value model hallucinates
  { id: "arith-006", text: "9999 * 9999 = ?", truth: 0.0, prior: 0.05 },
];

/** A small seeded generator (mulberry32) so every run prints the same session. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(2026);
const rollout = (p: number, n: number) => Array.from({ length: n }, () => (random() < p ? 1 : -1));

const fmt = (x: number, digits = 3) => (x >= 0 ? " " : "") + x.toFixed(digits);
const show = (rewards: number[]) => rewards.map((r) => (r > 0 ? "✓" : "✗")).join("");
const heading = (text: string) => console.log(`\n── ${text} ${"─".repeat(Math.max(0, 74 - text.length))}`);

async function main(): Promise<void> {
  console.log("Valor demo: the baseline service on a handful of prompts (rewards on the ±1 scale).");
  const db = await startFerretDb();
  const service = await startServiceProcess("baseline", { MONGODB_URI: db.uri, MONGODB_DATABASE: "valor_demo" });
  const client = new BaselineServiceClient(service.address, credentials.createInsecure());
  console.log(`FerretDB on ${db.uri}, baseline service on ${service.address}`);
  try {
    heading("1. PVPO: a reference policy's rollouts, recorded before training");
    const reference = prompts.map((p) => ({ promptId: p.id, rewards: rollout(Math.max(0, p.truth - 0.15), 8) }));
    await unary(client.recordReferenceRewards.bind(client), { referencePolicyId: "demo-ref-v1", batchId: "warmup", rewardScale: SIGNED, prompts: reference });
    await unary(client.activateReferencePolicy.bind(client), { lineage: "demo-run", referencePolicyId: "demo-ref-v1" });
    const stats = await unary(client.getReferenceStatistics.bind(client), {
      reference: { $case: "lineage", value: "demo-run" },
      promptIds: prompts.map((p) => p.id),
      rewardScale: SIGNED,
    });
    const className = { [PromptClass.PROMPT_CLASS_DROP]: "drop (always solved)", [PromptClass.PROMPT_CLASS_KEEP]: "keep", [PromptClass.PROMPT_CLASS_HARD]: "hard (never solved)" } as Record<number, string>;
    for (const [i, s] of stats.statistics.entries()) {
      console.log(`  ${s.promptId}  ${prompts[i]!.text.padEnd(26)} reference ${show(reference[i]!.rewards)}  mean ${fmt(s.meanReward, 2)}  → ${className[s.class]}`);
    }

    heading("2. Four rollouts per prompt, and the value model's prior");
    const groups: PromptGroup[] = prompts.map((p) => ({ promptId: p.id, rewards: rollout(p.truth, 4), prior: { passRate: p.prior, provenance: { modelId: "demo-v0", policyId: "demo", policyVersion: 1n, contextSize: 256, contextAge: 0 } } }));
    for (const [i, g] of groups.entries()) {
      const p = prompts[i]!;
      const mean = g.rewards.reduce((a, b) => a + b, 0) / g.rewards.length;
      console.log(`  ${p.id}  true p ${p.truth.toFixed(2)}  prior p̂ ${p.prior.toFixed(2)} (V = ${fmt(2 * p.prior - 1, 2)})  rollouts ${show(g.rewards)}  mean ${fmt(mean, 2)}`);
    }

    heading("3. Baselines side by side (true value 2p − 1 in the last column)");
    const estimators = ["grpo", "rloo", "dapo", "pvpo", "v05"] as const;
    const results = new Map<string, Awaited<ReturnType<typeof computeWith>>>();
    function computeWith(estimator: string) {
      return unary(client.computeAdvantages.bind(client), { estimator, rewardScale: SIGNED, groups, referencePolicyId: "demo-ref-v1" });
    }
    for (const e of estimators) results.set(e, await computeWith(e));
    console.log(`  prompt     ${estimators.map((e) => e.padStart(8)).join("")}    truth`);
    for (const [i, p] of prompts.entries()) {
      const cells = estimators.map((e) => fmt(results.get(e)!.groups[i]!.baseline, 2).padStart(8));
      console.log(`  ${p.id}  ${cells.join("")}   ${fmt(2 * p.truth - 1, 2)}`);
    }
    const dapo = results.get("dapo")!;
    console.log(`  DAPO keeps ${dapo.summary!.groupsKept} of ${dapo.summary!.groups} groups; the others have no reward spread, so GRPO gives them zero gradient.`);

    heading("4. V0.5: which priors does the real-time test reject?");
    const v05 = results.get("v05")!;
    for (const [i, g] of v05.groups.entries()) {
      if (g.diagnostics?.$case !== "priorFusion") continue;
      const d = g.diagnostics.value;
      const verdict = d.priorRejected ? `REJECTED  (|z| = ${Math.abs(d.z).toFixed(2)} > 1): w = ${d.weight.toFixed(2)} on the rollouts` : `accepted  (|z| = ${Math.abs(d.z).toFixed(2)} ≤ 1): baseline = prior`;
      console.log(`  ${prompts[i]!.id}  ${verdict}`);
    }
    console.log(`  rejection rate ${(v05.summary!.priorRejectionRate * 100).toFixed(0)}%`);

    heading("5. V0.5's budget: extra rollouts only where prior and rollouts disagree");
    let round = 0;
    for (;;) {
      const plan = await unary(client.planRollouts.bind(client), { policy: "v05", rewardScale: SIGNED, groups });
      const asks = plan.plans.filter((p) => p.extraRollouts > 0);
      if (asks.length === 0) break;
      round++;
      for (const p of asks) {
        const i = prompts.findIndex((x) => x.id === p.promptId);
        const extra = rollout(prompts[i]!.truth, p.extraRollouts);
        groups[i]!.rewards.push(...extra);
        const why = p.reason === PlanReason.PLAN_REASON_PRIOR_REJECTED ? "prior rejected" : PlanReason[p.reason];
        console.log(`  round ${round}: ${p.promptId} +${p.extraRollouts} (${why}; plug-in MSE ${p.expectedMseNow.toFixed(3)} → ${p.expectedMseAfter.toFixed(3)})  now ${show(groups[i]!.rewards)}`);
      }
    }
    const total = groups.reduce((s, g) => s + g.rewards.length, 0);
    console.log(`  ${total} rollouts in all (${(total / groups.length).toFixed(1)} per prompt), against ${16 * groups.length} for GRPO with 16 per prompt.`);
    const final = await computeWith("v05");
    for (const [i, g] of final.groups.entries()) {
      const p = prompts[i]!;
      console.log(`  ${p.id}  V0.5 baseline ${fmt(g.baseline, 2)}  truth ${fmt(2 * p.truth - 1, 2)}  (k = ${groups[i]!.rewards.length})`);
    }

    heading("6. For comparison: V0's allocation of a 48-rollout budget by marginal utility");
    const v0 = await unary(client.planRollouts.bind(client), {
      policy: "v0",
      rewardScale: SIGNED,
      groups: prompts.map((p) => ({ promptId: p.id, rewards: [], prior: { passRate: p.prior } })),
      parameters: { totalBudget: 48 },
    });
    console.log("  " + v0.plans.map((p) => `${p.promptId}: ${p.targetRollouts}`).join("  "));
    console.log("\nDone. `make test` runs the test suite; the README lists every RPC and setting.");
  } finally {
    client.close();
    await service.stop();
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
