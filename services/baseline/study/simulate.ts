// The simulator: draws prompts and Bernoulli rollouts, hands each estimator
// what it would get in training, and scores the baselines against the true
// pass rate. Every estimator and budget rule is the baseline service's own
// code (../src/domain); nothing here re-implements one.
//
// Scales: rollouts are ±1 (the V0.5/DAPO convention, c = 0.0039 native) and
// all estimators run on SCALES.signed. Baseline error metrics (MSE, bias) are
// reported on the pass-rate scale [0, 1]: b_pass = (b + 1)/2, compared to p.
// (Signed-scale MSE is exactly 4× the reported number.)
import {
  computeBatch,
  getEstimator,
  type Group,
  type GroupAdvantages,
} from "../src/domain/estimators";
import { DEFAULT_BUDGET_PARAMETERS, getBudgetPolicy, type BudgetParameters, type PlanGroup } from "../src/domain/budget";
import { SCALES } from "../src/domain/scale";
import { drawPassRates, type Mix } from "./population";
import { describePrior, priorFor, referencePassRate, type PriorModel } from "./priors";
import { deriveSeed, normalStream, uniformStream } from "./rng";

const SCALE = SCALES.signed;
/** Rollouts drawn per prompt up front (common random numbers across settings). */
export const POOL = 128;

export type SettingSpec =
  | { kind: "mean"; estimator: "grpo" | "dr_grpo" | "rloo"; k: number }
  | { kind: "dapo"; k: number }
  | { kind: "pvpo"; k: number; m: number; drift: number }
  | { kind: "v05_fixed"; k: number; prior: PriorModel }
  | { kind: "v05_adaptive"; prior: PriorModel; params: BudgetParameters }
  | { kind: "v0"; perPrompt: number; prior: PriorModel; params: BudgetParameters };

export interface Setting {
  id: string;
  family: "empirical_mean" | "rloo" | "dapo" | "pvpo" | "v05_fixed" | "v05_adaptive" | "v0";
  label: string;
  spec: SettingSpec;
}

export interface SeedMetrics {
  /** Mean over prompts of the squared baseline error on the pass-rate scale. */
  mse: number;
  /** Mean over prompts of (baseline − p) on the pass-rate scale. */
  bias: number;
  /** Over all rollouts: A_i·(r_i − p) < 0 (the advantage points the wrong way). */
  signErrorRate: number;
  /** Over all rollouts: A_i·(r_i − p) ≤ 0 (wrong way or no signal). */
  signLossRate: number;
  /** Groups whose rewards are all equal and whose advantages are all 0. */
  zeroGradFraction: number;
  /** On-policy rollouts per prompt used for training (DAPO: generated per kept prompt). */
  rolloutsPerPrompt: number;
  /** Prior-rejection rate of the final test (computeBatch summary); 0 where no prior. */
  rejectionRate: number;
  /** Rejection rate of the first test, at k_init rollouts (V0.5 only). */
  rejectionRateAtInit: number;
  /** DAPO: fraction of groups kept by dynamic sampling; 1 otherwise. */
  keepRate: number;
  /** Closed-form MSE given this seed's p values (empirical mean: p(1−p)/k; RLOO: p(1−p)/(k−1)); NaN otherwise. */
  closedFormMse: number;
}

export const METRIC_KEYS = [
  "mse",
  "bias",
  "signErrorRate",
  "signLossRate",
  "zeroGradFraction",
  "rolloutsPerPrompt",
  "rejectionRate",
  "rejectionRateAtInit",
  "keepRate",
  "closedFormMse",
] as const satisfies ReadonlyArray<keyof SeedMetrics>;

/** One seed's prompts and all the randomness any setting needs. */
export interface SeedData {
  n: number;
  p: Float64Array;
  /** POOL ±1 rollouts of the current policy per prompt, row-major. */
  pool: Float64Array;
  /** Uniforms for the reference policy's rollouts (up to refPool per prompt). */
  refU: Float64Array;
  refPool: number;
  /** Per-prompt N(0,1) for prior noise and U(0,1) for hallucination. */
  z: Float64Array;
  h: Float64Array;
}

export function makeSeedData(mix: Mix, n: number, baseSeed: number, seedIndex: number, refPool = 16): SeedData {
  const seed = (name: string) => deriveSeed(baseSeed, mix.id, seedIndex, name);
  const p = drawPassRates(mix, n, seed("p"));
  const u = uniformStream(seed("rollouts"));
  const pool = new Float64Array(n * POOL);
  for (let i = 0; i < n; i++) {
    const pi = p[i]!;
    for (let j = 0; j < POOL; j++) pool[i * POOL + j] = u() < pi ? 1 : -1;
  }
  const ur = uniformStream(seed("reference"));
  const refU = new Float64Array(n * refPool);
  for (let i = 0; i < refU.length; i++) refU[i] = ur();
  const zn = normalStream(seed("prior-noise"));
  const uh = uniformStream(seed("hallucination"));
  const z = new Float64Array(n);
  const h = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = zn();
    h[i] = uh();
  }
  return { n, p, pool, refU, refPool, z, h };
}

function rewardsOf(data: SeedData, i: number, from: number, to: number): number[] {
  const out = new Array<number>(to - from);
  for (let j = from; j < to; j++) out[j - from] = data.pool[i * POOL + j]!;
  return out;
}

class Accumulator {
  prompts = 0;
  sqErr = 0;
  err = 0;
  rollouts = 0;
  signErrors = 0;
  signLosses = 0;
  zeroGrad = 0;
  priors = 0;
  rejected = 0;
  initTests = 0;
  rejectedAtInit = 0;
  generatedRollouts = 0;
  drawnGroups = 0;
  closedForm = 0;

  /** Scores one group. perRolloutBaseline: RLOO's leave-one-out baselines (b_i = r_i − A_i). */
  add(p: number, rewards: readonly number[], result: GroupAdvantages, perRolloutBaseline: boolean): void {
    const k = rewards.length;
    const pSigned = SCALE.fromPassRate(p);
    let sq = 0;
    let e = 0;
    let allZero = true;
    for (let j = 0; j < k; j++) {
      const r = rewards[j]!;
      const a = result.advantages[j]!;
      const b = perRolloutBaseline ? r - a : result.baseline;
      const d = SCALE.toPassRate(b) - p;
      sq += d * d;
      e += d;
      const dir = a * (r - pSigned);
      if (dir < 0) this.signErrors++;
      if (dir <= 0) this.signLosses++;
      if (a !== 0) allZero = false;
    }
    this.sqErr += sq / k;
    this.err += e / k;
    this.rollouts += k;
    this.prompts++;
    let equal = true;
    for (let j = 1; j < k; j++) if (rewards[j] !== rewards[0]) equal = false;
    if (equal && allZero) this.zeroGrad++;
    const d = result.diagnostics;
    if (d?.kind === "prior_fusion") {
      this.priors++;
      if (d.fusion.rejected) this.rejected++;
    }
  }

  finish(): SeedMetrics {
    return {
      mse: this.sqErr / this.prompts,
      bias: this.err / this.prompts,
      signErrorRate: this.signErrors / this.rollouts,
      signLossRate: this.signLosses / this.rollouts,
      zeroGradFraction: this.zeroGrad / this.prompts,
      rolloutsPerPrompt: (this.generatedRollouts || this.rollouts) / this.prompts,
      rejectionRate: this.priors ? this.rejected / this.priors : 0,
      rejectionRateAtInit: this.initTests ? this.rejectedAtInit / this.initTests : this.priors ? this.rejected / this.priors : 0,
      keepRate: this.drawnGroups ? this.prompts / this.drawnGroups : 1,
      closedFormMse: this.closedForm ? this.closedForm / this.prompts : NaN,
    };
  }
}

function batches(n: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(n, s + size)]);
  return out;
}

/** Runs one setting on one seed's data. batchSize: prompts per training batch (budget rules plan per batch). */
export function runSetting(setting: Setting, data: SeedData, batchSize: number): SeedMetrics {
  const acc = new Accumulator();
  const spec = setting.spec;
  const prior = (model: PriorModel, i: number) => priorFor(model, data.p[i]!, data.z[i]!, data.h[i]!);

  switch (spec.kind) {
    case "mean": {
      const est = getEstimator(spec.estimator);
      for (const [s, e] of batches(data.n, batchSize)) {
        const groups: Group[] = [];
        for (let i = s; i < e; i++) groups.push({ promptId: String(i), rewards: rewardsOf(data, i, 0, spec.k) });
        const out = computeBatch(est, groups, SCALE);
        for (let i = s; i < e; i++) {
          acc.add(data.p[i]!, groups[i - s]!.rewards, out.groups[i - s]!, spec.estimator === "rloo");
          const p = data.p[i]!;
          acc.closedForm += (p * (1 - p)) / (spec.estimator === "rloo" ? spec.k - 1 : spec.k);
        }
      }
      break;
    }
    case "dapo": {
      // Dynamic sampling: groups with zero reward spread are dropped and the
      // trainer samples more prompts; the cost is the rollouts generated per kept prompt.
      const est = getEstimator("dapo");
      for (const [s, e] of batches(data.n, batchSize)) {
        const groups: Group[] = [];
        for (let i = s; i < e; i++) groups.push({ promptId: String(i), rewards: rewardsOf(data, i, 0, spec.k) });
        const out = computeBatch(est, groups, SCALE);
        for (let i = s; i < e; i++) {
          const g = out.groups[i - s]!;
          acc.generatedRollouts += spec.k;
          acc.drawnGroups++;
          const d = g.diagnostics;
          if (d?.kind === "dynamic_sampling" && !d.keep) continue;
          acc.add(data.p[i]!, groups[i - s]!.rewards, g, false);
        }
      }
      break;
    }
    case "pvpo": {
      if (spec.m > data.refPool) throw new Error(`pvpo M=${spec.m} exceeds the reference pool ${data.refPool}`);
      const est = getEstimator("pvpo");
      for (const [s, e] of batches(data.n, batchSize)) {
        const groups: Group[] = [];
        for (let i = s; i < e; i++) {
          const pRef = referencePassRate(data.p[i]!, spec.drift);
          let sum = 0;
          for (let j = 0; j < spec.m; j++) sum += data.refU[i * data.refPool + j]! < pRef ? 1 : -1;
          groups.push({
            promptId: String(i),
            rewards: rewardsOf(data, i, 0, spec.k),
            reference: { rollouts: spec.m, meanReward: sum / spec.m, source: "inline" },
          });
        }
        const out = computeBatch(est, groups, SCALE);
        for (let i = s; i < e; i++) acc.add(data.p[i]!, groups[i - s]!.rewards, out.groups[i - s]!, false);
      }
      break;
    }
    case "v05_fixed": {
      const est = getEstimator("v05");
      for (const [s, e] of batches(data.n, batchSize)) {
        const groups: Group[] = [];
        for (let i = s; i < e; i++) groups.push({ promptId: String(i), rewards: rewardsOf(data, i, 0, spec.k), prior: prior(spec.prior, i) });
        const out = computeBatch(est, groups, SCALE);
        for (let i = s; i < e; i++) acc.add(data.p[i]!, groups[i - s]!.rewards, out.groups[i - s]!, false);
      }
      break;
    }
    case "v05_adaptive": {
      // Sequential, as a trainer runs it: plan with the v05 policy (which first
      // tops every prompt up to k_init), sample the extra rollouts it asks for,
      // re-plan, until the plan asks for nothing.
      const est = getEstimator("v05");
      for (const [s, e] of batches(data.n, batchSize)) {
        const run = runAdaptiveBatch(data, s, e, spec.prior, spec.params);
        acc.initTests += run.rejectedAtInit.length;
        acc.rejectedAtInit += run.rejectedAtInit.filter(Boolean).length;
        const out = computeBatch(est, run.groups, SCALE);
        for (let i = s; i < e; i++) acc.add(data.p[i]!, run.groups[i - s]!.rewards, out.groups[i - s]!, false);
      }
      break;
    }
    case "v0": {
      // V0's allocation from the prior, then the empirical-mean baseline (Dr.GRPO) on each prompt's rollouts.
      const policy = getBudgetPolicy("v0");
      const est = getEstimator("dr_grpo");
      for (const [s, e] of batches(data.n, batchSize)) {
        const planGroups: PlanGroup[] = [];
        for (let i = s; i < e; i++) planGroups.push({ promptId: String(i), rewards: [], prior: prior(spec.prior, i) });
        const plan = policy.plan(planGroups, SCALE, { ...spec.params, totalBudget: spec.perPrompt * (e - s) });
        const groups: Group[] = plan.plans.map((pl, g) => ({ promptId: pl.promptId, rewards: rewardsOf(data, s + g, 0, pl.targetRollouts) }));
        const out = computeBatch(est, groups, SCALE);
        for (let i = s; i < e; i++) acc.add(data.p[i]!, groups[i - s]!.rewards, out.groups[i - s]!, false);
      }
      break;
    }
  }
  return acc.finish();
}

export interface AdaptiveBatch {
  groups: Array<Group & { rewards: number[] }>;
  /** Per prompt: the first test (at k_init rollouts) rejected the prior. */
  rejectedAtInit: boolean[];
  /** Planning rounds until the plan asked for nothing. */
  rounds: number;
}

/**
 * V0.5's adaptive budget run sequentially on prompts [s, e): plan with the v05
 * policy (which first tops every prompt up to k_init), sample the extra
 * rollouts it asks for, re-plan, until the plan asks for nothing.
 */
export function runAdaptiveBatch(data: SeedData, s: number, e: number, model: PriorModel, params: BudgetParameters): AdaptiveBatch {
  const policy = getBudgetPolicy("v05");
  const groups: Array<Group & { rewards: number[] }> = [];
  for (let i = s; i < e; i++) groups.push({ promptId: String(i), rewards: [], prior: priorFor(model, data.p[i]!, data.z[i]!, data.h[i]!) });
  const rejectedAtInit = new Array<boolean>(groups.length).fill(false);
  const tested = new Array<boolean>(groups.length).fill(false);
  for (let round = 1; ; round++) {
    if (round > params.kMax + 2) throw new Error("v05 planning did not terminate");
    const plan = policy.plan(groups, SCALE, params);
    plan.plans.forEach((pl, g) => {
      if (!tested[g] && pl.reason !== "initial_rollouts") {
        tested[g] = true;
        rejectedAtInit[g] = pl.reason !== "prior_accepted";
      }
      if (pl.extraRollouts > 0) {
        const group = groups[g]!;
        if (group.rewards.length + pl.extraRollouts > POOL) throw new Error("rollout pool exhausted");
        group.rewards.push(...rewardsOf(data, s + g, group.rewards.length, group.rewards.length + pl.extraRollouts));
      }
    });
    if (plan.totalExtraRollouts === 0) return { groups, rejectedAtInit, rounds: round };
  }
}

// ---------------------------------------------------------------------------
// The default grid of settings.

export interface GridOptions {
  meanKs: readonly number[];
  rlooKs: readonly number[];
  dapoK: number;
  pvpo: { k: number; m: number; drifts: readonly number[] };
  /** Logit noise levels for the prior-quality sweep (0 = perfect prior). */
  sigmas: readonly number[];
  /** Pass-rate shifts for the bias sweep. */
  shifts: readonly number[];
  hallucination: { fractions: readonly number[]; sigma: number };
  /** Include the maximally wrong prior. */
  opposite: boolean;
  v05FixedKs: readonly number[];
  budget: BudgetParameters;
  v0: { perPrompt: readonly number[]; prior: PriorModel };
}

export const DEFAULT_GRID: GridOptions = {
  meanKs: [2, 4, 8, 16],
  rlooKs: [4, 16],
  dapoK: 16,
  pvpo: { k: 4, m: 16, drifts: [0, 0.5, 1] },
  sigmas: [0, 0.05, 0.1, 0.2, 0.5, 1],
  shifts: [-0.4, -0.3, -0.2, -0.1, 0.1, 0.2, 0.3, 0.4],
  hallucination: { fractions: [0.1, 0.3], sigma: 0.1 },
  opposite: true,
  v05FixedKs: [4, 8],
  budget: { ...DEFAULT_BUDGET_PARAMETERS },
  v0: { perPrompt: [4, 8], prior: { kind: "logit_noise", sigma: 0.2 } },
};

function priorId(m: PriorModel): string {
  switch (m.kind) {
    case "perfect":
      return "perfect";
    case "logit_noise":
      return m.sigma === 0 ? "perfect" : `sigma${m.sigma}`;
    case "shift":
      return `shift${m.shift > 0 ? "+" : ""}${m.shift}`;
    case "hallucinate":
      return `halluc${m.fraction}`;
    case "opposite":
      return "opposite";
  }
}

export function priorModels(grid: GridOptions): PriorModel[] {
  const out: PriorModel[] = [];
  for (const s of grid.sigmas) out.push(s === 0 ? { kind: "perfect" } : { kind: "logit_noise", sigma: s });
  for (const shift of grid.shifts) out.push({ kind: "shift", shift });
  for (const fraction of grid.hallucination.fractions) out.push({ kind: "hallucinate", fraction, sigma: grid.hallucination.sigma });
  if (grid.opposite) out.push({ kind: "opposite" });
  return out;
}

export function buildSettings(grid: GridOptions = DEFAULT_GRID): Setting[] {
  const out: Setting[] = [];
  for (const k of grid.meanKs) {
    out.push({ id: `grpo_k${k}`, family: "empirical_mean", label: `GRPO/Dr.GRPO mean, k=${k}`, spec: { kind: "mean", estimator: "grpo", k } });
  }
  for (const k of grid.rlooKs) out.push({ id: `rloo_k${k}`, family: "rloo", label: `RLOO, k=${k}`, spec: { kind: "mean", estimator: "rloo", k } });
  out.push({ id: `dapo_k${grid.dapoK}`, family: "dapo", label: `DAPO (dynamic sampling), G=${grid.dapoK}`, spec: { kind: "dapo", k: grid.dapoK } });
  for (const drift of grid.pvpo.drifts) {
    out.push({
      id: `pvpo_m${grid.pvpo.m}_drift${drift}`,
      family: "pvpo",
      label: `PVPO static V (M=${grid.pvpo.m}), drift ${drift} logit, k=${grid.pvpo.k}`,
      spec: { kind: "pvpo", k: grid.pvpo.k, m: grid.pvpo.m, drift },
    });
  }
  for (const prior of priorModels(grid)) {
    for (const k of grid.v05FixedKs) {
      out.push({
        id: `v05_fixed${k}_${priorId(prior)}`,
        family: "v05_fixed",
        label: `V0.5 fixed k=${k}, ${describePrior(prior)}`,
        spec: { kind: "v05_fixed", k, prior },
      });
    }
    out.push({
      id: `v05_adaptive_${priorId(prior)}`,
      family: "v05_adaptive",
      label: `V0.5 adaptive ${grid.budget.kInit}→${grid.budget.kMax}, ${describePrior(prior)}`,
      spec: { kind: "v05_adaptive", prior, params: grid.budget },
    });
  }
  for (const perPrompt of grid.v0.perPrompt) {
    out.push({
      id: `v0_b${perPrompt}`,
      family: "v0",
      label: `V0 allocation (${perPrompt}/prompt avg, ${describePrior(grid.v0.prior)}) + mean`,
      spec: { kind: "v0", perPrompt, prior: grid.v0.prior, params: { ...DEFAULT_BUDGET_PARAMETERS } },
    });
  }
  return out;
}
