// The study's chart options: the cost/accuracy frontier, prior quality and
// prior rejection, one of each per difficulty mix.
import { baseOption, r5, type ChartSpec } from "../../../shared/report/charts";
import type { MixResult, SettingResult } from "./study";
import type { PriorModel } from "./priors";

function priorOf(s: SettingResult): PriorModel | undefined {
  const spec = s.spec;
  return spec.kind === "v05_fixed" || spec.kind === "v05_adaptive" || spec.kind === "v0" ? spec.prior : undefined;
}

function sigmaOf(s: SettingResult): number | undefined {
  const p = priorOf(s);
  if (!p) return undefined;
  if (p.kind === "perfect") return 0;
  if (p.kind === "logit_noise") return p.sigma;
  return undefined;
}

function shiftOf(s: SettingResult): number | undefined {
  const p = priorOf(s);
  if (!p) return undefined;
  if (p.kind === "perfect") return 0;
  if (p.kind === "shift") return p.shift;
  return undefined;
}

function point(s: SettingResult, x = s.metrics.rolloutsPerPrompt.mean, y = s.metrics.mse.mean) {
  return { name: s.label, value: [r5(x), r5(y)] };
}

/** MSE against mean rollouts per prompt: the cost/accuracy frontier. */
export function frontierChart(mix: MixResult): ChartSpec {
  const by = (f: (s: SettingResult) => boolean) => mix.settings.filter(f);
  const v05Group = (s: SettingResult, group: string) => {
    const p = priorOf(s);
    if (!p || (s.family !== "v05_fixed" && s.family !== "v05_adaptive")) return false;
    const g =
      p.kind === "perfect" || (p.kind === "logit_noise" && p.sigma <= 0.2)
        ? "accurate"
        : p.kind === "logit_noise"
          ? "noisy"
          : p.kind === "shift" && Math.abs(p.shift) <= 0.2
            ? "biased"
            : p.kind === "shift"
              ? "very biased"
              : p.kind === "hallucinate"
                ? "hallucinating"
                : "opposite";
    return g === group;
  };
  const series: Array<Record<string, unknown>> = [
    {
      name: "Empirical mean (GRPO / Dr.GRPO)",
      type: "line",
      symbolSize: 9,
      data: by((s) => s.family === "empirical_mean").map((s) => point(s)),
    },
    { name: "RLOO", type: "scatter", symbol: "diamond", symbolSize: 11, data: by((s) => s.family === "rloo").map((s) => point(s)) },
    { name: "DAPO G=16 (per kept prompt)", type: "scatter", symbol: "triangle", symbolSize: 12, data: by((s) => s.family === "dapo").map((s) => point(s)) },
    { name: "PVPO static V (+16 offline ref. rollouts)", type: "scatter", symbol: "rect", symbolSize: 10, data: by((s) => s.family === "pvpo").map((s) => point(s)) },
    { name: "V0 allocation + mean", type: "scatter", symbol: "pin", symbolSize: 14, data: by((s) => s.family === "v0").map((s) => point(s)) },
  ];
  const groups: Array<[string, string]> = [
    ["accurate", "V0.5, accurate prior (σ ≤ 0.2)"],
    ["noisy", "V0.5, noisy prior (σ 0.5–1)"],
    ["biased", "V0.5, biased prior (±0.1, ±0.2)"],
    ["very biased", "V0.5, very biased prior (±0.3, ±0.4)"],
    ["hallucinating", "V0.5, hallucinating prior (10–30%)"],
    ["opposite", "V0.5, maximally wrong prior"],
  ];
  for (const [g, name] of groups) {
    const data = by((s) => v05Group(s, g)).map((s) => point(s));
    if (data.length) series.push({ name, type: "scatter", symbolSize: 8, data });
  }
  const positive = mix.settings.every((s) => s.metrics.mse.mean > 0);
  return {
    id: `frontier_${mix.mix.id}`,
    title: `MSE vs rollouts per prompt — ${mix.mix.id}`,
    option: {
      ...baseOption(`Baseline MSE vs rollouts per prompt (${mix.mix.id})`, `${mix.mix.label}. MSE on the pass-rate scale; lower-left is better.`),
      xAxis: { type: "log", logBase: 2, name: "on-policy rollouts per prompt (log2)", nameLocation: "middle", nameGap: 30, min: 2, max: 32 },
      yAxis: { type: positive ? "log" : "value", name: "baseline MSE vs true p" + (positive ? " (log)" : ""), nameLocation: "middle", nameGap: 60 },
      series,
    },
  };
}

/** MSE of V0.5 as the prior's logit noise grows, against the empirical mean at k = 4 and 16. */
export function priorQualityChart(mix: MixResult): ChartSpec {
  const sigmas = [...new Set(mix.settings.map(sigmaOf).filter((x): x is number => x !== undefined))].sort((a, b) => a - b);
  const find = (family: string, k: number | undefined, sigma: number) =>
    mix.settings.find((s) => s.family === family && sigmaOf(s) === sigma && (k === undefined || (s.spec.kind === "v05_fixed" && s.spec.k === k)));
  const fixedKs = [...new Set(mix.settings.flatMap((s) => (s.spec.kind === "v05_fixed" ? [s.spec.k] : [])))].sort((a, b) => a - b);
  const series: Array<Record<string, unknown>> = [];
  for (const k of fixedKs) {
    series.push({ name: `V0.5 fixed k=${k}: MSE`, type: "line", symbolSize: 8, data: sigmas.map((sg) => r5(find("v05_fixed", k, sg)?.metrics.mse.mean ?? NaN)) });
  }
  series.push({ name: "V0.5 adaptive 4→16: MSE", type: "line", symbolSize: 8, data: sigmas.map((sg) => r5(find("v05_adaptive", undefined, sg)?.metrics.mse.mean ?? NaN)) });
  for (const id of ["grpo_k4", "grpo_k16"]) {
    const s = mix.settings.find((x) => x.id === id);
    if (s) series.push({ name: `${s.label}: MSE`, type: "line", symbol: "none", lineStyle: { type: "dashed" }, data: sigmas.map(() => r5(s.metrics.mse.mean)) });
  }
  series.push({
    name: "V0.5 adaptive: rollouts/prompt (right axis)",
    type: "bar",
    yAxisIndex: 1,
    barWidth: 14,
    itemStyle: { opacity: 0.35 },
    data: sigmas.map((sg) => r5(find("v05_adaptive", undefined, sg)?.metrics.rolloutsPerPrompt.mean ?? NaN)),
  });
  return {
    id: `prior_quality_${mix.mix.id}`,
    title: `MSE vs prior quality — ${mix.mix.id}`,
    option: {
      ...baseOption(`V0.5 baseline MSE vs prior quality (${mix.mix.id})`, "Prior p̂ = σ(logit p + σ·z); σ = 0 is a perfect prior. Dashed: empirical mean."),
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", name: "prior logit noise σ", nameLocation: "middle", nameGap: 30, data: sigmas.map((s) => (s === 0 ? "0 (perfect)" : String(s))) },
      yAxis: [
        { type: "value", name: "baseline MSE vs true p", nameLocation: "middle", nameGap: 60 },
        { type: "value", name: "rollouts per prompt", nameLocation: "middle", nameGap: 40, min: 0, max: 16, interval: 4, splitLine: { show: false } },
      ],
      series,
    },
  };
}

/** How often the test rejects a systematically biased prior, and what it costs. */
export function rejectionChart(mix: MixResult): ChartSpec {
  const shifts = [...new Set(mix.settings.map(shiftOf).filter((x): x is number => x !== undefined))].sort((a, b) => a - b);
  const find = (family: string, shift: number, k?: number) =>
    mix.settings.find((s) => s.family === family && shiftOf(s) === shift && (k === undefined || (s.spec.kind === "v05_fixed" && s.spec.k === k)));
  const xy = (f: (s: SettingResult) => number, family: string, k?: number) =>
    shifts.map((sh) => {
      const s = find(family, sh, k);
      return [sh, s ? r5(f(s)) : NaN];
    });
  return {
    id: `rejection_vs_bias_${mix.mix.id}`,
    title: `Rejection rate vs prior bias — ${mix.mix.id}`,
    option: {
      ...baseOption(`Prior-rejection rate vs prior bias (${mix.mix.id})`, "p̂ = clamp(p + bias, 0, 1). First test at k_init = 4; final = after the adaptive budget's extra rollouts."),
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", name: "prior bias on the pass-rate scale", nameLocation: "middle", nameGap: 30, min: -0.5, max: 0.5, interval: 0.1 },
      yAxis: [
        { type: "value", name: "rejection rate", nameLocation: "middle", nameGap: 50, min: 0, max: 1 },
        { type: "value", name: "rollouts per prompt / MSE×100", nameLocation: "middle", nameGap: 40, min: 0, max: 16, interval: 4, splitLine: { show: false } },
      ],
      series: [
        { name: "rejection rate, first test (k=4)", type: "line", symbolSize: 8, data: xy((s) => s.metrics.rejectionRate.mean, "v05_fixed", 4) },
        { name: "rejection rate, final (adaptive)", type: "line", symbolSize: 8, data: xy((s) => s.metrics.rejectionRate.mean, "v05_adaptive") },
        { name: "adaptive: rollouts/prompt (right)", type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, data: xy((s) => s.metrics.rolloutsPerPrompt.mean, "v05_adaptive") },
        { name: "adaptive: MSE×100 (right)", type: "line", yAxisIndex: 1, lineStyle: { type: "dotted" }, data: xy((s) => 100 * s.metrics.mse.mean, "v05_adaptive") },
      ],
    },
  };
}

export function buildCharts(mixes: readonly MixResult[]): ChartSpec[] {
  return mixes.flatMap((m) => [frontierChart(m), priorQualityChart(m), rejectionChart(m)]);
}
