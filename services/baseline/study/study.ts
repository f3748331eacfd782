// Runs the grid over mixes and seeds and aggregates per-seed metrics into
// means with 95% t confidence intervals (seeds are the replication unit).
import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import { MIXES, type Mix } from "./population";
import {
  buildSettings,
  DEFAULT_GRID,
  makeSeedData,
  METRIC_KEYS,
  POOL,
  runSetting,
  type GridOptions,
  type SeedMetrics,
  type Setting,
} from "./simulate";

export type MetricKey = (typeof METRIC_KEYS)[number];

export interface StudyOptions {
  mixes: readonly string[];
  seeds: number;
  prompts: number;
  batchSize: number;
  baseSeed: number;
  grid: GridOptions;
  /** Only run settings whose id matches (tests). */
  only?: (setting: Setting) => boolean;
}

export const DEFAULT_STUDY_OPTIONS: StudyOptions = {
  mixes: ["beta_half", "dapo_like"],
  seeds: 8,
  prompts: 4096,
  batchSize: 256,
  baseSeed: 20260401,
  grid: DEFAULT_GRID,
};

export interface Summary {
  mean: number;
  /** Half-width of the 95% t interval over seeds; null with one seed or undefined values. */
  ci95: number | null;
  perSeed: number[];
}

export interface SettingResult {
  id: string;
  family: Setting["family"];
  label: string;
  spec: Setting["spec"];
  metrics: Record<MetricKey, Summary>;
  /** Paired per-seed difference simulated MSE − closed form (empirical mean and RLOO). */
  mseMinusClosedForm?: Summary;
}

export interface MixResult {
  mix: Mix;
  meanPassRate: number;
  /** Realised difficulty proportions under 16 rollouts (the DAPO/PVPO filter statistic). */
  solvedIn16: { never: number; mixed: number; always: number };
  settings: SettingResult[];
}

export interface StudyResult {
  config: Omit<StudyOptions, "only">;
  notes: string[];
  mixes: MixResult[];
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

function sampleStandardDeviation(values: readonly number[]): number {
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (values.length - 1));
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.every((v) => Number.isFinite(v));
  if (!finite) return { mean: NaN, ci95: null, perSeed: [...values] };
  const m = mean(values);
  if (values.length < 2) return { mean: m, ci95: null, perSeed: [...values] };
  const sd = sampleStandardDeviation(values);
  const t = tQuantile(0.975, values.length - 1);
  return { mean: m, ci95: (t * sd) / Math.sqrt(values.length), perSeed: [...values] };
}

export const NOTES = [
  "Rollouts are ±1 and every estimator runs on the signed scale (SCALES.signed), c = 0.0039.",
  "MSE and bias are on the pass-rate scale [0,1]: baseline mapped by (b+1)/2 and compared with the true p; signed-scale MSE is 4x.",
  "MSE and bias are averaged over prompts (each prompt weighs 1); RLOO uses each rollout's leave-one-out baseline r_i − A_i.",
  "Sign-error rate is pooled over rollouts: A_i·(r_i − p) < 0. Zero advantages are not sign errors; they are counted in the zero-gradient fraction.",
  "Zero-gradient group: all rewards equal and every advantage exactly 0.",
  "Rollouts per prompt are on-policy rollouts. DAPO: rollouts generated per kept prompt (16 / keep rate); its other metrics are over kept groups only. PVPO additionally spends M reference rollouts per prompt offline per refresh (not counted).",
  "Rejection rate: the final state's test (computeBatch's priorRejectionRate); rejectionRateAtInit: the first test at k_init rollouts.",
  "95% confidence intervals are t intervals over seeds (each seed draws fresh prompts, rollouts and prior noise); settings share random numbers within a seed.",
];

export function runStudy(options: StudyOptions, onProgress?: (msg: string) => void): StudyResult {
  const settings = buildSettings(options.grid).filter((s) => options.only?.(s) ?? true);
  const mixes: MixResult[] = [];
  for (const mixId of options.mixes) {
    const mix = MIXES[mixId];
    if (!mix) throw new Error(`unknown mix ${JSON.stringify(mixId)}; valid: ${Object.keys(MIXES).join(", ")}`);
    const perSetting = settings.map(() => [] as SeedMetrics[]);
    const passRates: number[] = [];
    const counts = { never: 0, mixed: 0, always: 0 };
    for (let s = 0; s < options.seeds; s++) {
      const data = makeSeedData(mix, options.prompts, options.baseSeed, s);
      let sumP = 0;
      for (let i = 0; i < data.n; i++) {
        sumP += data.p[i]!;
        let wins = 0;
        for (let j = 0; j < 16 && j < POOL; j++) if (data.pool[i * POOL + j]! > 0) wins++;
        if (wins === 0) counts.never++;
        else if (wins === 16) counts.always++;
        else counts.mixed++;
      }
      passRates.push(sumP / data.n);
      settings.forEach((setting, idx) => perSetting[idx]!.push(runSetting(setting, data, options.batchSize)));
      onProgress?.(`${mixId}: seed ${s + 1}/${options.seeds}`);
    }
    const total = options.seeds * options.prompts;
    mixes.push({
      mix,
      meanPassRate: mean(passRates),
      solvedIn16: { never: counts.never / total, mixed: counts.mixed / total, always: counts.always / total },
      settings: settings.map((setting, idx) => {
        const seeds = perSetting[idx]!;
        const metrics = Object.fromEntries(METRIC_KEYS.map((key) => [key, summarize(seeds.map((m) => m[key]))])) as Record<MetricKey, Summary>;
        const result: SettingResult = { id: setting.id, family: setting.family, label: setting.label, spec: setting.spec, metrics };
        if (seeds.every((m) => Number.isFinite(m.closedFormMse))) result.mseMinusClosedForm = summarize(seeds.map((m) => m.mse - m.closedFormMse));
        return result;
      }),
    });
  }
  const { only: _only, ...config } = options;
  return { config, notes: NOTES, mixes };
}
