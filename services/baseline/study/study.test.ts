// Acceptance tests of the simulator (small settings; the whole file runs in seconds).
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeBatch, getEstimator } from "../src/domain/estimators";
import { DEFAULT_BUDGET_PARAMETERS, lookaheadTarget } from "../src/domain/budget";
import { fusedMse } from "../src/domain/fusion";
import { SCALES } from "../src/domain/scale";
import { MIXES } from "./population";
import { DEFAULT_GRID, makeSeedData, POOL, runAdaptiveBatch, runSetting, type SeedData, type Setting } from "./simulate";
import { DEFAULT_STUDY_OPTIONS, runStudy, type StudyOptions } from "./study";

const small = (over: Partial<StudyOptions>): StudyOptions => ({ ...DEFAULT_STUDY_OPTIONS, seeds: 6, prompts: 1024, ...over });

function binomialPmf(k: number, n: number, p: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c * p ** k * (1 - p) ** (n - k);
}

/** Closed-form probability that the 1σ test (worst-case variance) rejects a perfect prior after k rollouts. */
function falseRejection(p: number, k: number): number {
  let out = 0;
  for (let w = 0; w <= k; w++) {
    const gap = w / k - p;
    if (gap * gap > 0.25 / k) out += binomialPmf(w, k, p);
  }
  return out;
}

test("empirical-mean MSE matches p(1−p)/k (and RLOO p(1−p)/(k−1)) within the 95% CI", () => {
  for (const mix of ["beta_half", "dapo_like"]) {
    const result = runStudy(small({ mixes: [mix], only: (s) => s.family === "empirical_mean" || s.family === "rloo" }));
    const settings = result.mixes[0]!.settings;
    assert.equal(settings.length, DEFAULT_GRID.meanKs.length + DEFAULT_GRID.rlooKs.length);
    for (const s of settings) {
      const d = s.mseMinusClosedForm!;
      assert.ok(Math.abs(d.mean) <= d.ci95!, `${mix} ${s.id}: paired MSE − closed form = ${d.mean} ± ${d.ci95}`);
      assert.equal(s.metrics.signErrorRate.mean, 0, "a baseline inside [−1, 1] never flips a ±1 advantage");
    }
  }
});

test("Dr.GRPO's baseline is GRPO's, so one empirical-mean row covers both", () => {
  const data = makeSeedData(MIXES.beta_half!, 256, 7, 0);
  const groups = Array.from({ length: data.n }, (_, i) => ({ promptId: String(i), rewards: Array.from(data.pool.subarray(i * POOL, i * POOL + 4)) }));
  const a = computeBatch(getEstimator("grpo"), groups, SCALES.signed).groups;
  const b = computeBatch(getEstimator("dr_grpo"), groups, SCALES.signed).groups;
  a.forEach((g, i) => assert.equal(g.baseline, b[i]!.baseline));
});

test("V0.5 with a perfect prior: accepted prompts have zero error at exactly k_init; false rejections match the closed form", () => {
  const params = DEFAULT_BUDGET_PARAMETERS;
  const data = makeSeedData(MIXES.beta_half!, 4096, 11, 0);
  const run = runAdaptiveBatch(data, 0, data.n, { kind: "perfect" }, params);
  const out = computeBatch(getEstimator("v05"), run.groups, SCALES.signed).groups;
  let accepted = 0;
  let expectedRejections = 0;
  for (let i = 0; i < data.n; i++) {
    const p = data.p[i]!;
    expectedRejections += falseRejection(p, params.kInit);
    if (run.rejectedAtInit[i]) {
      // Rejected: fused, and topped up where one more rollout is worth c (not always).
      assert.ok(run.groups[i]!.rewards.length <= params.kMax);
      continue;
    }
    accepted++;
    assert.equal(run.groups[i]!.rewards.length, params.kInit, "an accepted prior stops at k_init");
    assert.equal(out[i]!.baseline, SCALES.signed.fromPassRate(p), "an accepted perfect prior is the baseline, error 0");
  }
  const rate = 1 - accepted / data.n;
  const expected = expectedRejections / data.n;
  const se = Math.sqrt((expected * (1 - expected)) / data.n);
  assert.ok(Math.abs(rate - expected) < 4 * se, `false rejection ${rate} vs closed form ${expected}`);
  assert.ok(rate > 0.1 && rate < 0.2, `on Beta(0.5,0.5) the 1σ test falsely rejects a perfect prior ~15% of the time, got ${rate}`);

  // Overall: MSE near 0 next to the empirical mean at k_init, at close to k_init rollouts.
  const setting = (kind: "v05_adaptive" | "grpo"): Setting =>
    kind === "grpo"
      ? { id: "g", family: "empirical_mean", label: "g", spec: { kind: "mean", estimator: "grpo", k: params.kInit } }
      : { id: "a", family: "v05_adaptive", label: "a", spec: { kind: "v05_adaptive", prior: { kind: "perfect" }, params } };
  const adaptive = runSetting(setting("v05_adaptive"), data, 256);
  const grpo = runSetting(setting("grpo"), data, 256);
  assert.ok(adaptive.mse < 0.05 * grpo.mse, `adaptive perfect-prior MSE ${adaptive.mse} vs GRPO k=4 ${grpo.mse}`);
  assert.ok(adaptive.rolloutsPerPrompt < params.kInit + 1.5, `rollouts ${adaptive.rolloutsPerPrompt}`);
});

test("an infinitely biased prior falls back to the empirical mean at k_max", () => {
  const params = DEFAULT_BUDGET_PARAMETERS;
  // The budget rule in the limit: biasSq = ∞ plans exactly k_max, on both scales.
  assert.equal(lookaheadTarget(Infinity, params.kInit, params.kMax, SCALES.signed.maxVariance, params.costPerRollout), params.kMax);
  assert.equal(lookaheadTarget(Infinity, params.kInit, params.kMax, SCALES.binary.maxVariance, params.costPerRollout * SCALES.binary.maxVariance), params.kMax);
  assert.equal(fusedMse(Infinity, 1, 16), 1 / 16);
  // In simulation: rewards can be at most 2 away from a ±1 prior, so the
  // largest realisable bias is p ∈ {0, 1} with the opposite prior.
  const n = 64;
  const p = new Float64Array(n).map((_, i) => i % 2);
  const pool = new Float64Array(n * POOL).map((_, j) => (p[Math.floor(j / POOL)]! === 1 ? 1 : -1));
  const data: SeedData = { n, p, pool, refU: new Float64Array(n * 16), refPool: 16, z: new Float64Array(n), h: new Float64Array(n) };
  const run = runAdaptiveBatch(data, 0, n, { kind: "opposite" }, params);
  const out = computeBatch(getEstimator("v05"), run.groups, SCALES.signed);
  assert.equal(out.summary.priorRejectionRate, 1);
  run.groups.forEach((g, i) => {
    assert.equal(g.rewards.length, params.kMax, "sampled to k_max");
    const d = out.groups[i]!.diagnostics;
    assert.ok(d?.kind === "prior_fusion" && d.fusion.weight > 0.98, "weight on the empirical mean → 1");
    assert.ok(Math.abs(out.groups[i]!.baseline - d.fusion.mean) < 0.035);
  });
  assert.ok(run.rounds <= params.kMax, `planning rounds ${run.rounds}`);
});

test("adaptive budget stays within [k_init, k_max] and re-plans until the plan asks for nothing", () => {
  const params = DEFAULT_BUDGET_PARAMETERS;
  const data = makeSeedData(MIXES.dapo_like!, 1024, 3, 1);
  for (const prior of [{ kind: "hallucinate", fraction: 0.3, sigma: 0.1 }, { kind: "shift", shift: 0.3 }] as const) {
    const run = runAdaptiveBatch(data, 0, data.n, prior, params);
    for (const g of run.groups) assert.ok(g.rewards.length >= params.kInit && g.rewards.length <= params.kMax);
    assert.ok(run.groups.some((g) => g.rewards.length > params.kInit));
  }
});

test("seeded and reproducible", () => {
  const opts = small({ seeds: 2, prompts: 256, mixes: ["dapo_like"], only: (s) => s.id === "v05_adaptive_halluc0.1" || s.id === "pvpo_m16_drift0.5" });
  const a = runStudy(opts);
  const b = runStudy(opts);
  assert.deepEqual(a, b);
  const c = runStudy({ ...opts, baseSeed: opts.baseSeed + 1 });
  assert.notDeepEqual(a.mixes[0]!.settings[0]!.metrics.mse, c.mixes[0]!.settings[0]!.metrics.mse);
});

test("the default grid has every setting the issue asks for", () => {
  const result = runStudy(small({ seeds: 2, prompts: 64, batchSize: 32 }));
  const ids = new Set(result.mixes[0]!.settings.map((s) => s.id));
  for (const id of ["grpo_k2", "grpo_k4", "grpo_k8", "grpo_k16", "rloo_k4", "dapo_k16", "pvpo_m16_drift0", "pvpo_m16_drift1", "v05_fixed4_sigma0.05", "v05_adaptive_sigma0.2", "v05_adaptive_shift+0.2", "v05_adaptive_shift-0.2", "v05_adaptive_halluc0.1", "v05_fixed4_halluc0.3", "v0_b4", "v0_b8"]) {
    assert.ok(ids.has(id), id);
  }
  for (const mix of result.mixes) {
    for (const s of mix.settings) {
      assert.ok(Number.isFinite(s.metrics.mse.mean) && s.metrics.mse.mean >= 0, s.id);
      if (s.family === "dapo") assert.equal(s.metrics.zeroGradFraction.mean, 0);
      if (s.spec.kind === "v05_fixed") assert.equal(s.metrics.rolloutsPerPrompt.mean, s.spec.k);
    }
  }
});
