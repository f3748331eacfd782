// The rollout and learner services as real processes with a real database:
// sampling, scoring, weight pushes, policy-gradient steps, checkpoints and
// restarts, and a short RL run that must raise the policy's reward.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  LearnerServiceClient,
  LossAggregation,
  Trajectory,
  type StepRequest,
} from "../../../shared/gen/valor/learner/v1/learner.pb";
import { FinishReason, RolloutServiceClient, type GenerateRequest, type Sample } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { unary } from "../../../shared/grpc/client";
import { checkAnswer, generateProblems } from "../../../shared/models/arith-task";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { computeBatch, getEstimator } from "../../baseline/src/domain/estimators";
import { SCALES } from "../../baseline/src/domain/scale";

const RUN = "loop-test";
let db: TestDatabase;
let rollout: ServiceProcess;
let learner: ServiceProcess;
let rolloutClient: RolloutServiceClient;
let learnerClient: LearnerServiceClient;

const startLearner = () =>
  startServiceProcess("learner", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    LEARNER_RUN_ID: RUN,
    LEARNER_ROLLOUT_ADDRESSES: rollout.address,
    LEARNER_CHECKPOINT_EVERY: "0",
    LEARNER_INTRA_OP_THREADS: "1",
  });

before(async () => {
  db = await openTestDatabase();
  rollout = await startServiceProcess("rollout", { ROLLOUT_INTRA_OP_THREADS: "1" });
  rolloutClient = new RolloutServiceClient(rollout.address, credentials.createInsecure());
  learner = await startLearner();
  learnerClient = new LearnerServiceClient(learner.address, credentials.createInsecure());
});

after(async () => {
  rolloutClient?.close();
  learnerClient?.close();
  await learner?.stop();
  await rollout?.stop();
  await db?.close();
});

const generate = (prompts: string[], samplesPerPrompt: number, seed: bigint, temperature = 1) =>
  unary(rolloutClient.generate.bind(rolloutClient), {
    prompts: prompts.map((text, i) => ({ promptId: `p${i}`, text })),
    samplesPerPrompt,
    sampling: { temperature, topP: 1, maxNewTokens: 8, seed },
  } satisfies GenerateRequest);
const score = (samples: Sample[], policyLabel = "") =>
  unary(rolloutClient.score.bind(rolloutClient), {
    sequences: samples.map((s) => ({ promptTokenIds: s.promptTokenIds, responseTokenIds: s.responseTokenIds })),
    policyLabel,
  });
const status_ = () => unary(learnerClient.getStatus.bind(learnerClient), {});

function stepRequest(step: bigint, samples: Sample[], advantages: number[], lr = 0.01): StepRequest {
  return {
    runId: RUN,
    step,
    trajectories: samples.map(
      (s, i): Trajectory =>
        Trajectory.fromPartial({
          promptTokenIds: s.promptTokenIds,
          responseTokenIds: s.responseTokenIds,
          oldLogprobs: s.logprobs,
          advantage: advantages[i]!,
          policyVersion: s.policyVersion,
        }),
    ),
    loss: { clipRatioLow: 0.2, clipRatioHigh: 0.28, dualClip: 3, klCoef: 0, aggregation: LossAggregation.LOSS_AGGREGATION_TOKEN_MEAN, lossScaleFactor: 0 },
    optimizer: { learningRate: lr, weightDecay: 0 },
  };
}
const step = (req: StepRequest) => unary(learnerClient.step.bind(learnerClient), req, 60_000);
async function nextStep(): Promise<bigint> {
  return (await status_()).step + 1n;
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const STEPS = Number(process.env.RL_SMOKE_STEPS ?? 12);
const LR = Number(process.env.RL_SMOKE_LR ?? 1e-4);

async function rejects(promise: Promise<unknown>, code: status, detail?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: ServiceError) => {
    assert.equal(err.code, code, `${status[err.code]}: ${err.details}`);
    if (detail) assert.match(err.details, detail);
    return true;
  });
}

describe("rollout service", () => {
  it("samples reproducibly from a seed, with log-probs that Score reproduces", async () => {
    const prompts = ["12*7-5=", "3+4=", "(8+9)*3="];
    const a = await generate(prompts, 4, 11n);
    const b = await generate(prompts, 4, 11n);
    assert.deepEqual(a.samples, b.samples);
    assert.equal(a.samples.length, 12);
    assert.ok(a.samples.every((s) => s.finishReason === FinishReason.FINISH_REASON_STOP || s.finishReason === FinishReason.FINISH_REASON_LENGTH));
    // The cached decode and a full forward pass agree on every token's log-probability.
    const scored = await score(a.samples);
    scored.scores.forEach((sc, i) => sc.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - a.samples[i]!.logprobs[j]!) < 1e-4, `${lp} vs ${a.samples[i]!.logprobs[j]}`)));
  });

  it("is greedy and deterministic at temperature 0, whatever the batch", async () => {
    const alone = await generate(["3+4="], 1, 1n, 0);
    const batched = await generate(["9*12=", "3+4=", "(2+2)*5="], 3, 99n, 0);
    assert.deepEqual(batched.samples[3]!.responseTokenIds, alone.samples[0]!.responseTokenIds);
  });

  it("refuses bad input with the field path", async () => {
    await rejects(generate(["1+x="], 1, 1n), status.INVALID_ARGUMENT, /^prompts\[0\]\.text: /);
    await rejects(unary(rolloutClient.generate.bind(rolloutClient), { prompts: [{ promptId: "a", text: "1+1=" }], samplesPerPrompt: 0, sampling: { maxNewTokens: 4, seed: 0n } }), status.INVALID_ARGUMENT, /^samples_per_prompt/);
    await rejects(unary(rolloutClient.generate.bind(rolloutClient), { prompts: [{ promptId: "a", text: "1+1=" }], samplesPerPrompt: 1, sampling: { maxNewTokens: 0, seed: 0n } }), status.INVALID_ARGUMENT, /^sampling\.max_new_tokens/);
    await rejects(unary(rolloutClient.score.bind(rolloutClient), { sequences: [{ promptTokenIds: [1, 5], responseTokenIds: [5, 99] }], policyLabel: "" }), status.INVALID_ARGUMENT, /^sequences\[0\]\.response_token_ids\[1\]/);
    await rejects(unary(rolloutClient.score.bind(rolloutClient), { sequences: [{ promptTokenIds: [1], responseTokenIds: [5] }], policyLabel: "nope" }), status.NOT_FOUND);
  });

  it("refuses weights of the wrong size, an old version, or a corrupted stream, and keeps serving the current one", async () => {
    const before_ = (await unary(rolloutClient.getPolicy.bind(rolloutClient), {})).policyVersion;
    const push = (version: bigint, values: Float32Array, sha?: string) =>
      new Promise<void>((resolve, reject) => {
        const bytes = Buffer.from(values.buffer);
        const call = rolloutClient.updateWeights((err) => (err ? reject(err) : resolve()));
        call.write({ part: { $case: "header", value: { policyVersion: version, numValues: BigInt(values.length), sha256: sha ?? createHash("sha256").update(bytes).digest("hex") } } });
        call.write({ part: { $case: "chunk", value: bytes } });
        call.end();
      });
    await rejects(push(1000n, new Float32Array(10)), status.INVALID_ARGUMENT, /^header\.num_values/);
    await rejects(push(before_, new Float32Array(340_608)), status.FAILED_PRECONDITION, /not newer/);
    await rejects(push(1000n, new Float32Array(340_608), "0".repeat(64)), status.INVALID_ARGUMENT, /^header\.sha256/);
    assert.equal((await unary(rolloutClient.getPolicy.bind(rolloutClient), {})).policyVersion, before_);
  });
});

it("fails fast with a clear message when CUDA is requested and unavailable", async (t) => {
  if (process.env.VALOR_HAS_CUDA === "1") return t.skip("a CUDA provider is installed");
  await assert.rejects(startServiceProcess("rollout", { ROLLOUT_EXECUTION_PROVIDER: "cuda" }), /exited with code 1[\s\S]*ROLLOUT_EXECUTION_PROVIDER=cuda/);
});

describe("learner service", () => {
  it("raises the log-probability of positively rewarded responses and lowers negative ones, pushing each version", async () => {
    const samples = (await generate(["23+45=", "7*8=", "5-9="], 2, 5n)).samples;
    const before_ = await score(samples);
    const up = await step(stepRequest(await nextStep(), samples, samples.map(() => 1), 1e-5));
    assert.deepEqual(up.pushedTo, [rollout.address]);
    assert.equal((await unary(rolloutClient.getPolicy.bind(rolloutClient), {})).policyVersion, up.policyVersion);
    const raised = await score(samples);
    raised.scores.forEach((sc, i) => assert.ok(sc.sumLogprob > before_.scores[i]!.sumLogprob, `sample ${i}: positive advantage raises log π`));
    // Old log-probs are the current policy's, as a trainer would send them.
    const current = samples.map((s, i) => ({ ...s, logprobs: raised.scores[i]!.logprobs }));
    await step(stepRequest(await nextStep(), current, samples.map(() => -1), 1e-5));
    const lowered = await score(samples);
    lowered.scores.forEach((sc, i) => assert.ok(sc.sumLogprob < raised.scores[i]!.sumLogprob, `sample ${i}: negative advantage lowers log π`));
  });

  it("scores under a pinned version after newer weights arrive", async () => {
    const samples = (await generate(["6*7=", "9-3="], 2, 21n)).samples;
    const pinned = await unary(rolloutClient.pinPolicy.bind(rolloutClient), { label: "reference", policyVersion: 0n });
    const before_ = await score(samples);
    await step(stepRequest(await nextStep(), samples, [1, -1, 1, -1], 1e-4));
    const reference = await score(samples, "reference");
    assert.equal(reference.policyVersion, pinned.policyVersion);
    assert.deepEqual(reference.scores, before_.scores);
    assert.notDeepEqual((await score(samples)).scores, before_.scores);
  });

  it("sees exactly the weights the rollout service sampled with (ratio 1, no clipping)", async () => {
    const samples = (await generate(["4+4=", "16*3="], 4, 8n)).samples;
    const res = await step(stepRequest(await nextStep(), samples, samples.map((_, i) => (i % 3) - 1)));
    assert.ok(Math.abs(res.metrics!.approxKl) < 1e-5, `approx KL ${res.metrics!.approxKl}`);
    assert.equal(res.metrics!.clipFraction, 0);
  });

  it("repeats the last step's result instead of applying it twice, and refuses steps out of order", async () => {
    const samples = (await generate(["2+2="], 2, 3n)).samples;
    const req = stepRequest(await nextStep(), samples, [1, -1]);
    const first = await step(req);
    const again = await step(req);
    assert.equal(again.replayed, true);
    assert.equal(again.policyVersion, first.policyVersion);
    assert.equal((await status_()).step, first.step);
    await rejects(step({ ...req, step: req.step + 5n }), status.FAILED_PRECONDITION, /out of order/);
    await rejects(step({ ...req, step: req.step + 1n, trajectories: [{ ...req.trajectories[0]!, advantage: NaN }] }), status.INVALID_ARGUMENT, /^trajectories\[0\]\.advantage/);
    await rejects(step({ ...req, runId: "another-run" }), status.FAILED_PRECONDITION);
    assert.equal((await status_()).step, first.step, "rejected steps change nothing");
  });

  it("resumes after kill -9 from its checkpoint at the same step with identical weights", async () => {
    const saved = await unary(learnerClient.saveCheckpoint.bind(learnerClient), { runId: RUN });
    const before_ = await status_();
    assert.equal(saved.checkpoint!.step, before_.step);
    await learner.stop("SIGKILL");
    learnerClient.close();
    learner = await startLearner();
    learnerClient = new LearnerServiceClient(learner.address, credentials.createInsecure());
    const after_ = await status_();
    assert.equal(after_.step, before_.step);
    assert.equal(after_.weightsSha256, before_.weightsSha256);
    assert.ok(learner.logs.some((l) => l.message === "resumed from checkpoint"));
  });
});

describe("ReVal", () => {
  /** ReVal trajectories whose reference is the current policy, scored by the rollout service. */
  async function revalTrajectories(rewards: number[], seed: bigint): Promise<Trajectory[]> {
    const samples = (await generate(["14*6=", "(3+4)*5="], rewards.length / 2, seed)).samples;
    const ref = await score(samples);
    return samples.map((s, i) =>
      Trajectory.fromPartial({
        promptTokenIds: s.promptTokenIds,
        responseTokenIds: s.responseTokenIds,
        refLogprobs: ref.scores[i]!.logprobs,
        refValue: ref.scores[i]!.firstValue,
        reward: rewards[i]!,
        groupId: s.promptId,
        policyVersion: s.policyVersion,
      }),
    );
  }
  const revalStep = async (trajectories: Trajectory[], beta: number) =>
    step({ runId: RUN, step: await nextStep(), trajectories, reval: { beta, groupMeanReward: true }, optimizer: { learningRate: 1e-9, weightDecay: 0 } });

  it("has a loss of exactly 0 at initialisation: r̃ = 0 and π_θ = π_ref (calibration)", async () => {
    const res = await revalStep(await revalTrajectories([1, 1, 0, 0], 31n), 0.02);
    assert.ok(res.metrics!.loss < 1e-8, `loss ${res.metrics!.loss}`);
    assert.ok(res.metrics!.residualAbsMean < 1e-4, `|δ| ${res.metrics!.residualAbsMean}`);
  });

  it("matches the hand-computed loss: residual −r̃/β when π_θ = π_ref", async () => {
    // Groups [1, 0] and [0, 1]: r̃ = ±0.5; β = 0.5 → residuals ∓1 → loss 1, mean δ 0, mean |δ| 1.
    const res = await revalStep(await revalTrajectories([1, 0, 0, 1], 32n), 0.5);
    assert.ok(Math.abs(res.metrics!.loss - 1) < 1e-4, `loss ${res.metrics!.loss}`);
    assert.ok(Math.abs(res.metrics!.residualMean) < 1e-4);
    assert.ok(Math.abs(res.metrics!.residualAbsMean - 1) < 1e-4);
  });

  it("reports the share of replayed data and its staleness", async () => {
    const fresh = await revalTrajectories([1, 0, 1, 0], 33n);
    const current = (await status_()).policyVersion;
    const mixed = fresh.map((t, i) => (i < 2 ? { ...t, replayed: true, policyVersion: current - 4n } : t));
    const res = await revalStep(mixed, 0.02);
    assert.equal(res.metrics!.replayedFraction, 0.5);
    assert.equal(res.metrics!.meanStaleness, 2);
  });

  it("refuses a ReVal step without a reference or with both objectives", async () => {
    const [t] = await revalTrajectories([1, 0], 34n);
    await rejects(revalStep([{ ...t!, refLogprobs: [] }], 0.02), status.INVALID_ARGUMENT, /^trajectories\[0\]\.ref_logprobs/);
    await rejects(
      step({ ...stepRequest(await nextStep(), [], []), trajectories: [t!], reval: { beta: 0.02, groupMeanReward: false } }),
      status.INVALID_ARGUMENT,
      /^reval: /,
    );
  });
});

describe("a short RL run", () => {
  it("raises the policy's reward with GRPO advantages from the baseline library", async (t) => {
    // Fresh services: the tests above have moved the shared policy around.
    const freshRollout = await startServiceProcess("rollout", { ROLLOUT_INTRA_OP_THREADS: "1" });
    const freshLearner = await startServiceProcess("learner", {
      MONGODB_URI: db.uri,
      MONGODB_DATABASE: db.database,
      LEARNER_RUN_ID: "rl-smoke",
      LEARNER_ROLLOUT_ADDRESSES: freshRollout.address,
      LEARNER_CHECKPOINT_EVERY: "0",
      LEARNER_INTRA_OP_THREADS: "1",
    });
    const rc = new RolloutServiceClient(freshRollout.address, credentials.createInsecure());
    const lc = new LearnerServiceClient(freshLearner.address, credentials.createInsecure());
    try {
      const prompts = generateProblems(2024, 16, "train", [2, 3]);
      const sample = (n: number, seed: bigint) =>
        unary(rc.generate.bind(rc), { prompts: prompts.map((p, i) => ({ promptId: `p${i}`, text: p.prompt })), samplesPerPrompt: n, sampling: { temperature: 1, topP: 1, maxNewTokens: 8, seed } });
      const reward = (s: Sample) => (checkAnswer(s.text, prompts[Number(s.promptId.slice(1))]!.answer) ? 1 : 0);
      const meanReward = async () => {
        const { samples } = await sample(16, 777n);
        return sum(samples.map(reward)) / samples.length;
      };
      const initial = await meanReward();
      const k = 8;
      for (let i = 1; i <= STEPS; i++) {
        const { samples } = await sample(k, BigInt(100 + i));
        const groups = prompts.map((_, g) => ({ promptId: `p${g}`, rewards: samples.slice(g * k, (g + 1) * k).map(reward) }));
        const advantages = computeBatch(getEstimator("grpo"), groups, SCALES.binary).groups.flatMap((g) => g.advantages);
        const req = { ...stepRequest(BigInt(i), samples, advantages, LR), runId: "rl-smoke" };
        await unary(lc.step.bind(lc), req, 60_000);
      }
      const final = await meanReward();
      t.diagnostic(`mean reward ${initial.toFixed(3)} → ${final.toFixed(3)} after ${STEPS} GRPO steps (lr ${LR})`);
      assert.ok(final > initial + 0.05, `mean reward ${initial.toFixed(3)} → ${final.toFixed(3)} after ${STEPS} steps`);
    } finally {
      rc.close();
      lc.close();
      await freshLearner.stop();
      await freshRollout.stop();
    }
  });
});
