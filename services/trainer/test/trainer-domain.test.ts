// The controller's pure parts: configuration, recipes, prompt batches and step statistics.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../shared/config";
import { InvalidArgumentError } from "../../../shared/errors";
import { configFingerprint, parseTrainConfig } from "../src/config";
import { ALGORITHM_NAMES, getRecipe } from "../src/domain/algorithms";
import { drawBatch, taskPrompts } from "../src/domain/prompts";
import type { EvalRecord, StepRecord } from "../src/domain/records";
import { advantageStats, passRate, priorSquaredError } from "../src/domain/step-stats";
import { createProgress } from "../src/progress";
import type { StoredRun } from "../src/store/run-store";

function problems(doc: unknown): string[] {
  try {
    parseTrainConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("training configuration", () => {
  it("merges defaults into each run, names runs after their settings, and fills every default", () => {
    const file = parseTrainConfig({
      defaults: { steps: 5, optimizer: { learning_rate: 2e-4 } },
      runs: [{ algorithm: "grpo", rollouts_per_prompt: 16 }, { algorithm: "v05", optimizer: { warmup_updates: 0 } }],
    });
    assert.equal(file.services.mode, "local");
    const [grpo, v05] = file.runs;
    assert.equal(grpo!.run_id, "grpo-k16-seed1");
    assert.equal(grpo!.label, "GRPO k=16");
    assert.equal(v05!.label, "V0.5 k_init=4");
    assert.deepEqual(v05!.optimizer, { learning_rate: 2e-4, warmup_updates: 0, weight_decay: 0, max_grad_norm: 1 });
    assert.equal(grpo!.steps, 5);
    assert.equal(grpo!.task.eval_samples, 4);
    assert.equal(grpo!.reval.updates_per_step, 2);
  });

  it("accepts a single run at the top level", () => {
    const file = parseTrainConfig({ algorithm: "dapo", steps: 3, run_id: "mine" });
    assert.deepEqual(
      file.runs.map((r) => r.run_id),
      ["mine"],
    );
  });

  it("lists every problem by field path", () => {
    const found = problems({
      services: { mode: "remote" },
      defaults: { steps: 1 },
      runs: [{ algorithm: "ppo" }, { algorithm: "grpo", sampling: { temperature: -1 }, colour: "red" }, { algorithm: "grpo", run_id: "a.b" }],
    });
    const text = found.join("\n");
    assert.match(text, /^services\.addresses: is required in remote mode$/m);
    assert.match(text, /^services\.mongodb_uri: is required in remote mode$/m);
    assert.match(text, /^runs\[0\]\.algorithm: /m);
    assert.match(text, /^runs\[1\]\.sampling\.temperature: /m);
    assert.match(text, /^runs\[1\]: .*colour/m);
    assert.match(text, /^runs\[2\]\.run_id: /m);
    assert.match(problems({ runs: [{ algorithm: "grpo", steps: 1 }, { algorithm: "grpo", steps: 2 }] }).join(), /runs\[1\]\.run_id: grpo-k4-seed1 appears twice/);
    assert.match(problems({ steps: 1, runs: [{ algorithm: "grpo" }] }).join(), /steps: unknown top-level key/);
  });

  it("fingerprints everything but the step count and the label", () => {
    const [a, b, c] = parseTrainConfig({
      defaults: { algorithm: "grpo" },
      runs: [
        { run_id: "a", steps: 5 },
        { run_id: "a2", steps: 50, label: "longer" },
        { run_id: "a3", steps: 5, seed: 2 },
      ],
    }).runs;
    assert.equal(configFingerprint({ ...a!, run_id: "x" }), configFingerprint({ ...b!, run_id: "x" }));
    assert.notEqual(configFingerprint({ ...a!, run_id: "x" }), configFingerprint({ ...c!, run_id: "x" }));
  });
});

describe("recipes", () => {
  it("follow the papers' conventions", () => {
    assert.deepEqual(ALGORITHM_NAMES, ["grpo", "dr_grpo", "rloo", "dapo", "pvpo", "v05", "reval"]);
    const dapo = getRecipe("dapo");
    assert.equal(dapo.rewardScale, "signed");
    assert.ok(dapo.dynamicSampling);
    assert.deepEqual(dapo.loss, { clipRatioLow: 0.2, clipRatioHigh: 0.28, dualClip: 3, aggregation: "token_mean" });
    assert.equal(getRecipe("dr_grpo").loss !== "reval" && (getRecipe("dr_grpo").loss as { aggregation: string }).aggregation, "seq_mean_token_sum_norm");
    assert.ok(getRecipe("pvpo").usesReference);
    assert.ok(getRecipe("v05").usesPrior);
    assert.equal(getRecipe("reval").loss, "reval");
  });

  it("answers an unknown name with the valid ones", () => {
    assert.throws(
      () => getRecipe("ppo", "runs[3].algorithm"),
      (err: InvalidArgumentError) => err.fieldPath === "runs[3].algorithm" && /valid: grpo, dr_grpo, rloo, dapo, pvpo, v05, reval/.test(err.message),
    );
  });
});

describe("prompts", () => {
  it("keep training and evaluation prompts apart, and the evaluation set fixed across seeds", () => {
    const a = taskPrompts(1, 500, 100, [1, 2, 3, 4, 5]);
    const b = taskPrompts(2, 500, 100, [1, 2, 3, 4, 5]);
    const train = new Set(a.train.map((p) => p.text));
    assert.ok(a.eval.every((p) => !train.has(p.text)));
    assert.deepEqual(a.eval, b.eval);
    assert.notDeepEqual(a.train, b.train);
    assert.ok(a.train.every((p) => /^-?\d+$/.test(p.gold)));
  });

  it("draws the same distinct batch for the same (seed, step, draw), and another for the next", () => {
    const one = drawBatch(1000, 32, 7, 3);
    assert.deepEqual(one, drawBatch(1000, 32, 7, 3));
    assert.equal(new Set(one).size, 32);
    assert.ok(one.every((i) => i >= 0 && i < 1000));
    assert.notDeepEqual(one, drawBatch(1000, 32, 7, 4));
    assert.notDeepEqual(one, drawBatch(1000, 32, 7, 3, 1));
    assert.deepEqual([...drawBatch(5, 32, 7, 3)].sort(), [0, 1, 2, 3, 4]);
  });

  it("draws uniformly over the pool", () => {
    const counts = new Array(50).fill(0);
    for (let step = 0; step < 2000; step++) for (const i of drawBatch(50, 5, 1, step)) counts[i] += 1;
    // Each index expects 200 draws; a chi-square over 49 degrees of freedom stays under 85 (p ≈ 0.001).
    const chi = counts.reduce((s, c) => s + (c - 200) ** 2 / 200, 0);
    assert.ok(chi < 85, `chi-square ${chi}`);
  });
});

describe("step statistics", () => {
  it("summarise advantages and baselines over the trained rollouts", () => {
    const s = advantageStats([
      { promptId: "a", baseline: 0.5, advantages: [0.5, -0.5, 0.5, -0.5] },
      { promptId: "b", baseline: 1, advantages: [0, 0, 0, 0] },
    ]);
    assert.equal(s.baselineMean, 0.75);
    assert.equal(s.advantageMean, 0);
    assert.equal(s.advantageAbsMean, 0.25);
    assert.equal(s.zeroAdvantageFraction, 0.5);
    assert.ok(Math.abs(s.advantageStd - Math.sqrt(1 / 7)) < 1e-12);
    assert.deepEqual(advantageStats([]), { baselineMean: 0, advantageMean: 0, advantageStd: 0, advantageAbsMean: 0, zeroAdvantageFraction: 0 });
  });

  it("count a pass at the top of either reward scale", () => {
    assert.equal(passRate([1, 0, 0, 1]), 0.5);
    assert.equal(passRate([1, -1, -1, -1]), 0.25);
    assert.equal(passRate([]), 0);
    assert.ok(Math.abs(priorSquaredError([0.5, 1], [0.25, 1]) - 0.03125) < 1e-12);
  });
});

describe("progress", () => {
  it("writes plain lines with the step, reward, rollouts, prior rejections and an ETA when not on a terminal", () => {
    let text = "";
    const out = { isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
    const progress = createProgress(out);
    const run = { runId: "r", label: "V0.5 k_init=4", steps: 10, completedSteps: 0, status: "running", wallSeconds: 0 } as StoredRun;
    progress.begin(run);
    progress.step({ step: 1, meanReward: 0.5, rollouts: 150, rolloutsPerPrompt: 4.69, cumulativeRollouts: 150, priorRejectionRate: 0.125, droppedGroups: 0, stepSeconds: 1.2 } as StepRecord);
    progress.evaluation({ step: 1, samplesPerPrompt: 4, accuracy: 0.41, greedyAccuracy: 0.47, trainPoolAccuracy: 0.45 } as EvalRecord);
    progress.end({ ...run, status: "completed", completedSteps: 10, wallSeconds: 12 });
    assert.match(text, /V0\.5 k_init=4 \(r\): starting, 10 steps/);
    assert.match(text, /step 1: reward 0\.500, rollouts 150 \(4\.69\/prompt, 150 total\), prior rejected 12\.5%, 1\.20 s, ETA \d+ s/);
    assert.match(text, /eval after step 1: held-out mean@4 41\.0%, greedy 47\.0%; training pool mean@4 45\.0%/);
    assert.match(text, /completed after 10 steps, 12\.0 s/);
    assert.doesNotMatch(text, /\x1b\[/, "no terminal control codes");
  });
});
