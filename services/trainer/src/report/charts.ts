// The training report's charts: one line per run, in the same colour on every
// chart. A chart no run has a point for is left out rather than drawn empty.
import { baseOption, PALETTE, r5, type ChartSpec } from "../../../../shared/report/charts";
import type { EvalRecord, StepRecord } from "../domain/records";
import { referenceRolloutsAt, runNames, type TrainingRunData } from "./runs";

export interface TrainingCharts {
  charts: ChartSpec[];
  /** Titles of the charts left out because no run has data for them. */
  empty: string[];
}

interface Curve {
  name: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

interface Axis {
  name: string;
  /** Steps are whole numbers; rollout counts are not worth fractional ticks either. */
  integer?: boolean;
}

interface LineChart {
  id: string;
  title: string;
  subtitle: string;
  x: Axis;
  y: Axis;
  curves: Curve[];
}

function lineChartSpec(c: LineChart): ChartSpec {
  const axis = (a: Axis, nameGap: number) => ({ type: "value", name: a.name, nameLocation: "middle", nameGap, ...(a.integer ? { minInterval: 1 } : {}) });
  return {
    id: c.id,
    title: c.title,
    option: {
      ...baseOption(c.title, c.subtitle),
      tooltip: { trigger: "axis" },
      xAxis: { ...axis(c.x, 30), min: 0 },
      // Not anchored at 0: the differences between runs are a few points of accuracy.
      yAxis: { ...axis(c.y, 60), scale: true },
      series: c.curves.map((curve) => ({
        name: curve.name,
        type: "line",
        symbolSize: 6,
        itemStyle: { color: curve.color },
        lineStyle: { color: curve.color, type: curve.dashed ? "dashed" : "solid" },
        data: [...curve.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => [r5(x), r5(y)]),
      })),
    },
  };
}

/** The evaluations' k and prompt count, when every evaluation agrees. */
function evalShape(runs: readonly TrainingRunData[]): { k: number; prompts: number } | undefined {
  const shapes = new Map(runs.flatMap((r) => r.evals.map((e) => [`${e.samplesPerPrompt}/${e.prompts}`, { k: e.samplesPerPrompt, prompts: e.prompts }] as const)));
  return shapes.size === 1 ? [...shapes.values()][0] : undefined;
}

/** An accuracy every evaluation records, charted against steps and against rollouts. */
interface AccuracyMetric {
  id: string;
  /** The titles of its chart against steps and of its chart against rollouts. */
  stepTitle: string;
  rolloutsTitle: string;
  axis: string;
  /** What the metric is, the subtitles' first sentence. */
  meaning: string;
  value: (e: EvalRecord) => number;
}

export function buildTrainingCharts(runs: readonly TrainingRunData[]): TrainingCharts {
  const names = runNames(runs);
  const curves = (points: (r: TrainingRunData) => Array<[number, number]>): Curve[] =>
    runs.map((r, i) => ({ name: names[i]!, color: PALETTE[i % PALETTE.length]!, points: points(r) }));
  const perStep = (value: (s: StepRecord) => number | null) =>
    curves((r) => r.steps.flatMap((s): Array<[number, number]> => {
      const v = value(s);
      return v === null ? [] : [[s.step, v]];
    }));
  const step: Axis = { name: "training step", integer: true };
  const shape = evalShape(runs);
  const meanAtK = shape ? `mean@${shape.k}` : "mean@k";
  const heldOut: AccuracyMetric = {
    id: "accuracy",
    stepTitle: "Eval accuracy vs training step",
    rolloutsTitle: "Eval accuracy vs rollouts consumed",
    axis: "held-out accuracy (mean@k)",
    meaning: `Held-out accuracy, what generalises: ${meanAtK} over ${shape?.prompts ?? "the"} held-out prompts.`,
    value: (e) => e.accuracy,
  };
  const trainPool: AccuracyMetric = {
    id: "train_pool_accuracy",
    stepTitle: "Training-pool accuracy vs step",
    rolloutsTitle: "Training-pool accuracy vs rollouts consumed",
    axis: "training-pool accuracy (mean@k)",
    meaning: `Training-pool accuracy, what the updates fit: ${meanAtK} over a fixed sample of ${shape ? `up to ${shape.prompts}` : "the"} training prompts.`,
    value: (e) => e.trainPoolAccuracy,
  };
  const accuracyCharts = (m: AccuracyMetric): LineChart[] => {
    const y: Axis = { name: m.axis };
    const byRollouts = curves((r) => r.evals.map((e) => [e.cumulativeRollouts, m.value(e)]));
    const withReference = runs.flatMap((r, i): Curve[] => {
      if (!r.steps.some((s) => s.cumulativeReferenceRollouts > 0)) return [];
      const points = r.evals.map((e): [number, number] => [e.cumulativeRollouts + referenceRolloutsAt(r.steps, e.step), m.value(e)]);
      return [{ name: `${names[i]!} + reference rollouts`, color: byRollouts[i]!.color, points, dashed: true }];
    });
    return [
      { id: `${m.id}_vs_step`, title: m.stepTitle, subtitle: `${m.meaning} Step 0 is the initial policy.`, x: step, y, curves: curves((r) => r.evals.map((e) => [e.step, m.value(e)])) },
      {
        id: `${m.id}_vs_rollouts`,
        title: m.rolloutsTitle,
        subtitle: `${m.meaning}\nSolid: policy rollouts; dashed: policy + reference-policy rollouts (PVPO).`,
        x: { name: "rollouts consumed", integer: true },
        y,
        curves: [...byRollouts, ...withReference],
      },
    ];
  };

  const all: LineChart[] = [
    ...accuracyCharts(heldOut),
    ...accuracyCharts(trainPool),
    { id: "rollouts_per_prompt", title: "Rollouts per prompt vs step", subtitle: "Policy rollouts over prompts drawn, extra rollouts and oversampling included.", x: step, y: { name: "rollouts per prompt" }, curves: perStep((s) => s.rolloutsPerPrompt) },
    { id: "prior_rejection", title: "Prior-rejection rate vs step", subtitle: "Share of value-model priors the real-time test rejected (runs with priors only).", x: step, y: { name: "prior-rejection rate" }, curves: perStep((s) => s.priorRejectionRate) },
    { id: "train_reward", title: "Train reward vs step", subtitle: "Mean binary reward (pass rate) of the step's rollouts.", x: step, y: { name: "mean reward" }, curves: perStep((s) => s.meanReward) },
    { id: "zero_advantage_fraction", title: "Zero-advantage fraction vs step", subtitle: "Share of trained rollouts whose advantage is zero: no gradient.", x: step, y: { name: "zero-advantage fraction" }, curves: perStep((s) => s.zeroAdvantageFraction) },
    { id: "advantage_abs_mean", title: "Mean |advantage| vs step", subtitle: "Mean absolute advantage over the trained rollouts.", x: step, y: { name: "mean |advantage|" }, curves: perStep((s) => s.advantageAbsMean) },
  ];
  const drawn = all.map((c) => ({ ...c, curves: c.curves.filter((curve) => curve.points.length > 0) }));
  return {
    charts: drawn.filter((c) => c.curves.length > 0).map(lineChartSpec),
    empty: drawn.filter((c) => c.curves.length === 0).map((c) => c.title),
  };
}
