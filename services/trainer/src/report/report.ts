// `valor report`'s outputs for a set of training runs: results.json (every
// record), results.md (the final table), one SVG and PNG per chart, and a
// self-contained report.html (echarts inlined, works offline).
import { ReportFiles } from "../../../../shared/report/files";
import { chartDiv, escapeHtml, escapeMarkdown, formatNumber, formatPercent, htmlPage, htmlTable, markdownTable } from "../../../../shared/report/html";
import type { EvalRecord, RunRecord } from "../domain/records";
import { buildTrainingCharts } from "./charts";
import { byStep, referenceRolloutsAt, runNames, type TrainingRunData } from "./runs";

export type { TrainingRunData } from "./runs";

export interface TrainingReportOptions {
  /** Skip the PNG copies of the charts (default: written). */
  png?: boolean;
  title?: string;
  /** Adds two columns: the rollouts each run needed to reach this run's final held-out and training-pool accuracy. */
  referenceRunId?: string;
}

/** The final table's numbers for one run; null where the run has no data for it. */
export interface RunSummary {
  runId: string;
  label: string;
  algorithm: string;
  status: RunRecord["status"];
  steps: number;
  completedSteps: number;
  finalEvalStep: number | null;
  /** Held-out mean@k and greedy accuracy at the last evaluation; the best held-out mean@k of any. */
  finalAccuracy: number | null;
  finalGreedyAccuracy: number | null;
  bestAccuracy: number | null;
  bestAccuracyStep: number | null;
  /** Training-pool mean@k at the last evaluation. */
  finalTrainPoolAccuracy: number | null;
  policyRollouts: number;
  referenceRollouts: number;
  /** Policy rollouts over prompts drawn, over every step. */
  rolloutsPerPrompt: number | null;
  /** Mean over the steps that tested priors. */
  priorRejectionRate: number | null;
  wallSeconds: number;
  /**
   * With a reference run, per accuracy: the rollouts at the first evaluation
   * that reached the reference's final value, null if none did. Absent without a reference.
   */
  toReachReference?: Record<ReachMetric, Reach | null>;
}

/** The accuracies runs are timed to: held-out and training-pool mean@k. */
type ReachMetric = "accuracy" | "trainPoolAccuracy";

interface Reach {
  policyRollouts: number;
  referenceRollouts: number;
}

function mean(xs: readonly number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The run whose final accuracies the others are timed to; final is undefined when it has no evaluation. */
interface Reference {
  label: string;
  final: EvalRecord | undefined;
}

function findReference(runs: readonly TrainingRunData[], referenceRunId: string | undefined): Reference | undefined {
  if (referenceRunId === undefined) return undefined;
  const ref = runs.find((r) => r.run.runId === referenceRunId);
  if (!ref) throw new Error(`reference run ${referenceRunId} is not among the report's runs (${runs.map((r) => r.run.runId).join(", ")})`);
  return { label: ref.run.label, final: byStep(ref.evals).at(-1) };
}

function summarize({ run, steps, evals }: TrainingRunData, reference: Reference | undefined): RunSummary {
  const sortedEvals = byStep(evals);
  const last = sortedEvals.at(-1);
  // The first evaluation at the best accuracy.
  const best = sortedEvals.reduce<EvalRecord | undefined>((b, e) => (!b || e.accuracy > b.accuracy ? e : b), undefined);
  const prompts = steps.reduce((n, s) => n + s.promptsDrawn, 0);
  const rollouts = steps.reduce((n, s) => n + s.rollouts, 0);
  const summary: RunSummary = {
    runId: run.runId,
    label: run.label,
    algorithm: run.algorithm,
    status: run.status,
    steps: run.steps,
    completedSteps: run.completedSteps,
    finalEvalStep: last?.step ?? null,
    finalAccuracy: last?.accuracy ?? null,
    finalGreedyAccuracy: last?.greedyAccuracy ?? null,
    bestAccuracy: best?.accuracy ?? null,
    bestAccuracyStep: best?.step ?? null,
    finalTrainPoolAccuracy: last?.trainPoolAccuracy ?? null,
    policyRollouts: byStep(steps).at(-1)?.cumulativeRollouts ?? 0,
    referenceRollouts: run.referenceRollouts,
    rolloutsPerPrompt: prompts > 0 ? rollouts / prompts : null,
    priorRejectionRate: mean(steps.flatMap((s) => (s.priorRejectionRate === null ? [] : [s.priorRejectionRate]))),
    wallSeconds: run.wallSeconds,
  };
  if (!reference) return summary;
  const final = reference.final;
  const reach = (metric: ReachMetric): Reach | null => {
    const reached = final && sortedEvals.find((e) => e[metric] >= final[metric]);
    return reached ? { policyRollouts: reached.cumulativeRollouts, referenceRollouts: referenceRolloutsAt(steps, reached.step) } : null;
  };
  summary.toReachReference = { accuracy: reach("accuracy"), trainPoolAccuracy: reach("trainPoolAccuracy") };
  return summary;
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");
const orDash = (x: number | null, format: (x: number) => string) => (x === null ? "–" : format(x));
const accuracy = (x: number) => formatNumber(x, 3);

function reachCell(s: RunSummary, metric: ReachMetric, ref: Reference): string {
  if (!ref.final) return "–";
  const r = s.toReachReference?.[metric];
  if (!r) return "not reached";
  return r.referenceRollouts > 0 ? `${count(r.policyRollouts)} + ${count(r.referenceRollouts)} ref.` : count(r.policyRollouts);
}

interface Table {
  header: string[];
  rows: string[][];
}

function summaryTable(runs: readonly TrainingRunData[], summaries: readonly RunSummary[], ref: Reference | undefined): Table {
  const names = runNames(runs);
  const header = ["run", "algorithm", "steps", "final held-out mean@k", "final held-out greedy", "best held-out mean@k (step)", "final training-pool mean@k", "policy rollouts", "reference rollouts", "rollouts/prompt", "prior rejected", "wall time (s)", "status"];
  if (ref) {
    const target = (metric: ReachMetric) => (ref.final ? accuracy(ref.final[metric]) : "–");
    header.push(`rollouts to reach ${target("accuracy")} held-out (${ref.label}'s final)`, `rollouts to reach ${target("trainPoolAccuracy")} training-pool (${ref.label}'s final)`);
  }
  const rows = summaries.map((s, i) => [
    names[i]!,
    s.algorithm,
    `${s.completedSteps} / ${s.steps}`,
    orDash(s.finalAccuracy, accuracy),
    orDash(s.finalGreedyAccuracy, accuracy),
    s.bestAccuracy === null ? "–" : `${accuracy(s.bestAccuracy)} (${s.bestAccuracyStep})`,
    orDash(s.finalTrainPoolAccuracy, accuracy),
    count(s.policyRollouts),
    count(s.referenceRollouts),
    orDash(s.rolloutsPerPrompt, (x) => formatNumber(x, 2)),
    orDash(s.priorRejectionRate, formatPercent),
    formatNumber(s.wallSeconds, 1),
    s.status,
    ...(ref ? [reachCell(s, "accuracy", ref), reachCell(s, "trainPoolAccuracy", ref)] : []),
  ]);
  return { header, rows };
}

/** Plain-text paragraphs under the title (Markdown and HTML alike). */
function description(runs: readonly TrainingRunData[], chartsLeftOut: readonly string[], reference: Reference | undefined): string[] {
  const lines = [
    `${runs.length} run${runs.length === 1 ? "" : "s"}. Held-out mean@k (the mean pass rate over k samples per held-out prompt) is what generalises; training-pool mean@k, the same on a fixed sample of the training prompts, is what the updates fit. Final is the last evaluation; greedy is temperature-0 held-out accuracy; best is the highest held-out mean@k of any evaluation.`,
    "Policy rollouts count every rollout the policy sampled, extra rollouts and oversampling included; reference rollouts are PVPO's reference-policy rollouts, a real cost the policy count leaves out. Rollouts/prompt is policy rollouts over prompts drawn; prior rejected is the mean share of V0.5 priors the real-time test rejected (– for runs without priors).",
  ];
  if (reference) lines.push(`Rollouts to reach: the rollouts consumed at the first evaluation that reached ${reference.label}'s final held-out, respectively training-pool, mean@k.`);
  if (chartsLeftOut.length > 0) lines.push(`Left out, as no run has data for them: ${chartsLeftOut.join("; ")}.`);
  for (const { run } of runs) if (run.error) lines.push(`${run.label} ${run.status}: ${run.error}`);
  return lines;
}

export function writeTrainingReport(runs: readonly TrainingRunData[], dir: string, opts: TrainingReportOptions = {}): { files: string[] } {
  const title = opts.title ?? "Valor — training report";
  const reference = findReference(runs, opts.referenceRunId);
  const summaries = runs.map((r) => summarize(r, reference));
  const table = summaryTable(runs, summaries, reference);
  const { charts, empty } = buildTrainingCharts(runs);
  const text = description(runs, empty, reference);

  const out = new ReportFiles(dir);
  out.writeJson("results.json", { title, referenceRunId: opts.referenceRunId ?? null, runs: runs.map((r, i) => ({ summary: summaries[i], ...r })) });
  const markdown = [
    `# ${escapeMarkdown(title)}`,
    "",
    ...text.flatMap((t) => [escapeMarkdown(t), ""]),
    markdownTable(table.header, table.rows),
    "",
    "## Charts",
    "",
    ...charts.map((c) => `- ${c.title}: \`${c.id}.svg\``),
  ];
  out.write("results.md", markdown.join("\n") + "\n");
  out.writeCharts(charts, opts.png !== false);
  const configs = runs.map(({ run }) => `<h3>${escapeHtml(run.label)}</h3><pre>${escapeHtml(JSON.stringify(run.config, null, 2))}</pre>`).join("\n");
  const body = `<h1>${escapeHtml(title)}</h1>
${text.map((t) => `<p>${escapeHtml(t)}</p>`).join("\n")}
${htmlTable(table.header, table.rows)}
${charts.map(chartDiv).join("\n")}
<details><summary>Configurations</summary>${configs}</details>`;
  out.write("report.html", htmlPage(title, body, charts));
  return { files: out.files };
}
