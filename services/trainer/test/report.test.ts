// `valor report`'s files, and its HTML page in headless Chromium, from synthetic runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInChromium } from "../../../shared/report/browser";
import type { EvalRecord, RunRecord, StepRecord } from "../src/domain/records";
import { writeTrainingReport, type TrainingRunData } from "../src/report/report";

interface RunShape {
  runId: string;
  label: string;
  algorithm: string;
  steps: number;
  rolloutsPerPrompt: number;
  /** PVPO: reference rollouts before training, and per step. */
  referenceUpfront?: number;
  referencePerStep?: number;
  priors?: boolean;
  evalEvery?: number;
  /** Final held-out accuracy; it rises linearly from 0.2. */
  finalAccuracy?: number;
  /** Final training-pool accuracy; it rises linearly from 0.3. */
  finalTrainPoolAccuracy?: number;
  status?: RunRecord["status"];
  error?: string;
}

const PROMPTS = 32;

function syntheticRun(s: RunShape): TrainingRunData {
  const steps: StepRecord[] = [];
  for (let step = 1; step <= s.steps; step++) {
    const rollouts = PROMPTS * s.rolloutsPerPrompt;
    const progress = step / s.steps;
    steps.push({
      runId: s.runId,
      step,
      policyVersion: step,
      promptsDrawn: PROMPTS,
      promptsTrained: PROMPTS - 2,
      rollouts,
      rolloutsPerPrompt: s.rolloutsPerPrompt,
      cumulativeRollouts: step * rollouts,
      cumulativeReferenceRollouts: s.referencePerStep === undefined ? 0 : (s.referenceUpfront ?? 0) + step * s.referencePerStep,
      meanReward: 0.2 + 0.5 * progress + 0.03 * Math.sin(step),
      extraRollouts: s.priors ? step % 5 : 0,
      priorRejectionRate: s.priors ? 0.3 - 0.2 * progress : null,
      priorSquaredError: s.priors ? 0.05 : null,
      valueContextSize: s.priors ? 10 * step : null,
      droppedGroups: 2,
      baselineMean: 0.2 + 0.5 * progress,
      advantageMean: 0,
      advantageStd: 0.4,
      advantageAbsMean: 0.35 - 0.1 * progress,
      zeroAdvantageFraction: 0.4 - 0.2 * progress,
      loss: 0.1,
      clipFraction: 0.02,
      approxKl: 0.001,
      entropy: 1.2,
      gradNorm: 0.8,
      residualAbsMean: null,
      replayedFraction: null,
      meanStaleness: null,
      updates: 1,
      stepSeconds: 1.5,
      elapsedSeconds: 1.5 * step,
      completedAtUnixMs: 1_700_000_000_000 + step,
    });
  }
  const evals: EvalRecord[] = [];
  if (s.evalEvery !== undefined) {
    for (let step = 0; step <= s.steps; step += s.evalEvery) {
      const accuracy = 0.2 + ((s.finalAccuracy ?? 0.5) - 0.2) * (step / s.steps);
      evals.push({
        runId: s.runId,
        step,
        policyVersion: step,
        cumulativeRollouts: step * PROMPTS * s.rolloutsPerPrompt,
        elapsedSeconds: 1.5 * step,
        prompts: 64,
        samplesPerPrompt: 4,
        accuracy,
        greedyAccuracy: accuracy + 0.05,
        trainPoolAccuracy: 0.3 + ((s.finalTrainPoolAccuracy ?? 0.6) - 0.3) * (step / s.steps),
        accuracyByLevel: [accuracy + 0.2, accuracy, accuracy - 0.1],
        completedAtUnixMs: 1_700_000_000_000 + step,
      });
    }
  }
  const run: RunRecord = {
    runId: s.runId,
    label: s.label,
    algorithm: s.algorithm,
    config: { algorithm: s.algorithm, steps: s.steps, note: "</script><b>not markup</b>" },
    status: s.status ?? "completed",
    steps: s.steps,
    completedSteps: s.steps,
    referenceRollouts: s.referencePerStep === undefined ? 0 : (s.referenceUpfront ?? 0) + s.steps * s.referencePerStep,
    wallSeconds: 1.5 * s.steps,
    createdAtUnixMs: 1_700_000_000_000,
    updatedAtUnixMs: 1_700_000_100_000,
    resumes: 0,
    ...(s.error ? { error: s.error } : {}),
  };
  return { run, steps, evals };
}

// Labels come from config files: markup and Markdown's | must come through as text.
const V05 = `V0.5 <k=4> & "priors"`;
const PVPO = "PVPO | k=8";
const GRPO = "GRPO k=16";

const RUNS = [
  syntheticRun({ runId: "v05", label: V05, algorithm: "v05", steps: 12, rolloutsPerPrompt: 5, priors: true, evalEvery: 3, finalAccuracy: 0.6, finalTrainPoolAccuracy: 0.95 }),
  syntheticRun({ runId: "pvpo", label: PVPO, algorithm: "pvpo", steps: 12, rolloutsPerPrompt: 8, referenceUpfront: 256, referencePerStep: 32, evalEvery: 3, finalAccuracy: 0.45, finalTrainPoolAccuracy: 0.6 }),
  syntheticRun({ runId: "grpo", label: GRPO, algorithm: "grpo", steps: 6, rolloutsPerPrompt: 16, status: "failed", error: "learner <unavailable>" }),
];

const CHARTS = [
  ...["accuracy_vs_step", "accuracy_vs_rollouts", "train_pool_accuracy_vs_step", "train_pool_accuracy_vs_rollouts"],
  ...["rollouts_per_prompt", "prior_rejection", "train_reward", "zero_advantage_fraction", "advantage_abs_mean"],
];

function withTempDir(f: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "valor-training-report-"));
    try {
      await f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "writes JSON, Markdown, SVG, PNG and an HTML report that renders offline with no console errors",
  withTempDir(async (dir) => {
    const { files } = writeTrainingReport(RUNS, dir, { title: "Runs <a & b>", referenceRunId: "pvpo" });
    const names = files.map((f) => f.slice(dir.length + 1)).sort();
    assert.deepEqual(names, ["report.html", "results.json", "results.md", ...CHARTS.flatMap((c) => [`${c}.png`, `${c}.svg`])].sort());
    for (const chart of CHARTS) {
      const svg = readFileSync(join(dir, `${chart}.svg`), "utf8");
      assert.match(svg, /^<svg[\s\S]*<\/svg>$/);
      assert.ok(!svg.includes("<k=4>"), `${chart}: labels are escaped`);
      const png = readFileSync(join(dir, `${chart}.png`));
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    }
    // Only the run with priors is on the prior-rejection chart; only PVPO gets a dashed reference line.
    const priorSvg = readFileSync(join(dir, "prior_rejection.svg"), "utf8");
    assert.ok(priorSvg.includes("&lt;k=4&gt;") && !priorSvg.includes(PVPO) && !priorSvg.includes(GRPO));
    for (const chart of ["accuracy_vs_rollouts", "train_pool_accuracy_vs_rollouts"]) {
      assert.ok(readFileSync(join(dir, `${chart}.svg`), "utf8").includes(`${PVPO} + reference rollouts`), chart);
    }
    // Subtitles say which prompts each accuracy is measured on.
    assert.ok(readFileSync(join(dir, "accuracy_vs_step.svg"), "utf8").includes("mean@4 over 64 held-out prompts"));
    assert.ok(readFileSync(join(dir, "train_pool_accuracy_vs_step.svg"), "utf8").includes("mean@4 over a fixed sample of up to 64 training prompts"));

    const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    assert.equal(json.referenceRunId, "pvpo");
    const [v05, pvpo, grpo] = json.runs.map((r: { summary: unknown }) => r.summary);
    assert.equal(json.runs[0].steps.length, 12);
    assert.equal(v05.finalAccuracy, 0.6);
    assert.equal(v05.finalTrainPoolAccuracy, 0.95);
    assert.equal(v05.policyRollouts, 12 * 32 * 5);
    assert.ok(Math.abs(v05.priorRejectionRate - (0.3 - (0.2 * 6.5) / 12)) < 1e-12);
    // V0.5 passes PVPO's final held-out 0.45 at step 9 (0.2 + 0.4 · 9/12 = 0.5; 0.4 at step 6),
    // and its final training-pool 0.6 at step 6 (0.3 + 0.65 · 6/12 = 0.625; 0.4625 at step 3).
    assert.deepEqual(v05.toReachReference, {
      accuracy: { policyRollouts: 9 * 32 * 5, referenceRollouts: 0 },
      trainPoolAccuracy: { policyRollouts: 6 * 32 * 5, referenceRollouts: 0 },
    });
    const pvpoFinal = { policyRollouts: 12 * 32 * 8, referenceRollouts: 256 + 12 * 32 };
    assert.deepEqual(pvpo.toReachReference, { accuracy: pvpoFinal, trainPoolAccuracy: pvpoFinal });
    assert.equal(pvpo.referenceRollouts, 256 + 12 * 32);
    assert.equal(pvpo.priorRejectionRate, null);
    assert.equal(grpo.finalAccuracy, null);
    assert.equal(grpo.finalTrainPoolAccuracy, null);
    assert.deepEqual(grpo.toReachReference, { accuracy: null, trainPoolAccuracy: null });

    const md = readFileSync(join(dir, "results.md"), "utf8");
    assert.match(md, /^# Runs \\<a & b>\n/);
    assert.match(
      md,
      /\| run \| algorithm \| steps \| final held-out mean@k \| final held-out greedy \| best held-out mean@k \(step\) \| final training-pool mean@k \| .* \| rollouts to reach 0\.450 held-out \(PVPO \\\| k=8's final\) \| rollouts to reach 0\.600 training-pool \(PVPO \\\| k=8's final\) \|\n/,
    );
    const rows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| run "));
    assert.equal(rows.length, 3);
    assert.equal(rows[0], `| V0.5 \\<k=4> & "priors" | v05 | 12 / 12 | 0.600 | 0.650 | 0.600 (12) | 0.950 | 1,920 | 0 | 5.00 | 19.2% | 18.0 | completed | 1,440 | 960 |`);
    assert.equal(rows[1], "| PVPO \\| k=8 | pvpo | 12 / 12 | 0.450 | 0.500 | 0.450 (12) | 0.600 | 3,072 | 640 | 8.00 | – | 18.0 | completed | 3,072 + 640 ref. | 3,072 + 640 ref. |");
    assert.equal(rows[2], "| GRPO k=16 | grpo | 6 / 6 | – | – | – | – | 3,072 | 0 | 16.00 | – | 9.0 | failed | not reached | not reached |");
    assert.match(md, /\nGRPO k=16 failed: learner \\<unavailable>\n/);

    const html = readFileSync(join(dir, "report.html"), "utf8");
    assert.ok(html.includes("<title>Runs &lt;a &amp; b&gt;</title>"));
    assert.ok(!html.includes("<b>not markup</b>") && !html.includes("learner <unavailable>"));

    const page = await renderInChromium<{ header: string[]; rows: string[][]; trainPoolFinal: number[][]; scripts: number; config: string }>(
      join(dir, "report.html"),
      `({
        header: [...document.querySelectorAll("table thead th")].map((th) => th.textContent),
        trainPoolFinal: echarts.getInstanceByDom(document.getElementById("train_pool_accuracy_vs_step")).getOption().series.map((s) => s.data.at(-1)),
        rows: [...document.querySelectorAll("table tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
        scripts: document.querySelectorAll("script").length,
        config: document.querySelector("details pre").textContent,
      })`,
    );
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.requests, [], "the report loads nothing from the network");
    assert.equal(page.chartsRendered, String(CHARTS.length));
    assert.deepEqual(page.charts.map((c) => c.id), CHARTS);
    for (const c of page.charts) {
      assert.ok(c.instance, `${c.id}: echarts instance`);
      assert.ok(c.paths > 20, `${c.id}: ${c.paths} svg paths`);
      assert.ok(c.width > 500 && c.height > 300, `${c.id}: visible`);
    }
    assert.deepEqual(page.probe.rows.map((r) => r[0]), [V05, PVPO, GRPO], "one row per run, labels as text");
    assert.deepEqual(page.probe.header.slice(-2), [`rollouts to reach 0.450 held-out (${PVPO}'s final)`, `rollouts to reach 0.600 training-pool (${PVPO}'s final)`]);
    assert.deepEqual(page.probe.rows[0]!.slice(3, 7), ["0.600", "0.650", "0.600 (12)", "0.950"], "held-out final, greedy, best; training-pool final");
    assert.deepEqual(page.probe.rows[0]!.slice(-2), ["1,440", "960"]);
    assert.deepEqual(page.probe.trainPoolFinal, [[12, 0.95], [12, 0.6]], "the training-pool chart plots training-pool accuracy");
    assert.equal(page.probe.scripts, 2, "echarts and the renderer, nothing injected");
    assert.match(page.probe.config, /<\/script><b>not markup<\/b>/);
  }),
);

test(
  "runs without evaluations, steps or priors: charts with no data are left out, the rest still renders",
  withTempDir(async (dir) => {
    const fresh = syntheticRun({ runId: "fresh", label: "just started", algorithm: "grpo", steps: 0, rolloutsPerPrompt: 16, status: "running" });
    const noEvals = syntheticRun({ runId: "grpo", label: GRPO, algorithm: "grpo", steps: 4, rolloutsPerPrompt: 16 });
    const { files } = writeTrainingReport([fresh, noEvals], dir, { png: false, referenceRunId: "fresh" });
    const names = files.map((f) => f.slice(dir.length + 1)).sort();
    assert.deepEqual(names, ["advantage_abs_mean.svg", "report.html", "results.json", "results.md", "rollouts_per_prompt.svg", "train_reward.svg", "zero_advantage_fraction.svg"]);
    const md = readFileSync(join(dir, "results.md"), "utf8");
    assert.match(md, /Left out, as no run has data for them: Eval accuracy vs training step; Eval accuracy vs rollouts consumed; Training-pool accuracy vs step; Training-pool accuracy vs rollouts consumed; Prior-rejection rate vs step\./);
    assert.match(md, /\| just started \| grpo \| 0 \/ 0 \| – \| – \| – \| – \| 0 \| 0 \| – \| – \| 0\.0 \| running \| – \| – \|\n/);
    assert.match(md, /\| rollouts to reach – held-out \(just started's final\) \| rollouts to reach – training-pool \(just started's final\) \|\n/);

    const page = await renderInChromium(join(dir, "report.html"));
    assert.deepEqual(page.errors, []);
    assert.equal(page.chartsRendered, "4");
    for (const c of page.charts) assert.ok(c.instance && c.paths > 20, `${c.id}: rendered`);

    assert.throws(() => writeTrainingReport([fresh], dir, { referenceRunId: "nope" }), /reference run nope is not among the report's runs/);
  }),
);
