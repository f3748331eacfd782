// LearnerService handlers: validate, run the step in order, checkpoint, push.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { FailedPreconditionError, InvalidArgumentError } from "../../../../shared/errors";
import {
  LossAggregation,
  StepResponse,
  type Checkpoint,
  type LearnerServiceService,
  type StepRequest,
  type Trajectory,
} from "../../../../shared/gen/valor/learner/v1/learner.pb";
import type { UnaryHandlers } from "../../../../shared/grpc/handlers";
import type { Logger } from "../../../../shared/telemetry/logger";
import { requireInRange } from "../../../../shared/validation";
import type { OnnxTrainer } from "../backend/onnx-trainer";
import type { RolloutPusher } from "../clients/rollout-push";
import type { SerialQueue } from "../domain/serial-queue";
import { groupMeanRewards } from "../../../../shared/training/rewards";
import { buildTrainBatch, type BatchLimits } from "../domain/train-batch";
import type { LossAggregationName, OptimizerSettings, PolicyLossSettings, TrainState } from "../domain/train-state";
import type { CheckpointMeta, CheckpointStore } from "../store/checkpoint-store";

export interface LearnerRuntimeState {
  state: TrainState;
  lastResult: StepResponse | undefined;
  lastCheckpoint: CheckpointMeta | undefined;
}

export interface LearnerDeps {
  runId: string;
  trainer: OnnxTrainer;
  checkpoints: CheckpointStore;
  pusher: RolloutPusher;
  queue: SerialQueue;
  runtime: LearnerRuntimeState;
  limits: BatchLimits;
  checkpointEvery: number;
  executionProvider: string;
  logger: Logger;
}

const aggregationNames: Partial<Record<LossAggregation, LossAggregationName>> = {
  [LossAggregation.LOSS_AGGREGATION_TOKEN_MEAN]: "token-mean",
  [LossAggregation.LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN]: "seq-mean-token-mean",
  [LossAggregation.LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM_NORM]: "seq-mean-token-sum-norm",
};

type Objective = { kind: "policy"; loss: PolicyLossSettings } | { kind: "reval"; beta: number; groupMeanReward: boolean };

/** Exactly one of `loss` (policy gradient) and `reval`. */
function stepObjective(request: StepRequest): Objective {
  if (request.loss && request.reval) throw new InvalidArgumentError("reval", "set either loss (policy gradient) or reval, not both");
  if (request.reval) {
    const beta = request.reval.beta;
    if (!(beta > 0 && Number.isFinite(beta))) throw new InvalidArgumentError("reval.beta", `must be > 0, got ${beta}`);
    return { kind: "reval", beta, groupMeanReward: request.reval.groupMeanReward };
  }
  return { kind: "policy", loss: lossSettings(request.loss) };
}

function withGroupMeanRewards(trajectories: Trajectory[]): Trajectory[] {
  const shaped = groupMeanRewards(trajectories);
  return trajectories.map((t, i) => ({ ...t, reward: shaped[i]! }));
}

function lossSettings(l: StepRequest["loss"]): PolicyLossSettings {
  if (!l) throw new InvalidArgumentError("loss", "is required (or reval)");
  const aggregation = aggregationNames[l.aggregation];
  if (!aggregation) throw new InvalidArgumentError("loss.aggregation", "is required: TOKEN_MEAN, SEQ_MEAN_TOKEN_MEAN or SEQ_MEAN_TOKEN_SUM_NORM");
  if (aggregation === "seq-mean-token-sum-norm" && !(l.lossScaleFactor > 0)) {
    throw new InvalidArgumentError("loss.loss_scale_factor", "must be > 0 for SEQ_MEAN_TOKEN_SUM_NORM (e.g. the longest response allowed)");
  }
  if (!(l.dualClip > 1)) throw new InvalidArgumentError("loss.dual_clip", `must be > 1 (verl uses 3.0), got ${l.dualClip}`);
  return {
    clipRatioLow: requireInRange(l.clipRatioLow, 0, 0.999, "loss.clip_ratio_low"),
    clipRatioHigh: requireInRange(l.clipRatioHigh, 0, 100, "loss.clip_ratio_high"),
    dualClip: l.dualClip,
    klCoef: requireInRange(l.klCoef, 0, 1e6, "loss.kl_coef"),
    aggregation,
    lossScaleFactor: aggregation === "seq-mean-token-sum-norm" ? l.lossScaleFactor : 1,
  };
}

function optimizerSettings(request: StepRequest): OptimizerSettings {
  const o = request.optimizer;
  if (!o) throw new InvalidArgumentError("optimizer", "is required");
  if (!(o.learningRate > 0 && o.learningRate < 1)) throw new InvalidArgumentError("optimizer.learning_rate", `must be in (0, 1), got ${o.learningRate}`);
  const eps = o.eps ?? 1e-8;
  if (!(eps > 0 && eps < 1)) throw new InvalidArgumentError("optimizer.eps", `must be in (0, 1), got ${eps}`);
  const maxGradNorm = o.maxGradNorm ?? 1;
  if (!(maxGradNorm > 0 && Number.isFinite(maxGradNorm))) throw new InvalidArgumentError("optimizer.max_grad_norm", `must be > 0, got ${maxGradNorm}`);
  return {
    learningRate: o.learningRate,
    beta1: requireInRange(o.beta1 ?? 0.9, 0, 0.999999, "optimizer.beta1"),
    beta2: requireInRange(o.beta2 ?? 0.999, 0, 0.999999, "optimizer.beta2"),
    eps,
    weightDecay: requireInRange(o.weightDecay ?? 0.01, 0, 1, "optimizer.weight_decay"),
    maxGradNorm,
  };
}

export function checkpointMessage(meta: CheckpointMeta | undefined): Checkpoint | undefined {
  return meta && { step: BigInt(meta.step), policyVersion: BigInt(meta.step), sha256: meta.sha256, savedAtUnixMs: BigInt(meta.savedAt.getTime()) };
}

export function createLearnerHandlers(deps: LearnerDeps): UnaryHandlers<typeof LearnerServiceService> {
  const { runtime } = deps;

  function requireRun(runId: string): void {
    if (runId !== deps.runId) throw new FailedPreconditionError(`this learner serves run ${deps.runId}, not ${JSON.stringify(runId)}`);
  }

  async function checkpoint(): Promise<CheckpointMeta> {
    const meta = await deps.checkpoints.save(deps.runId, runtime.state, runtime.lastResult && StepResponse.toJSON(runtime.lastResult));
    runtime.lastCheckpoint = meta;
    return meta;
  }

  return {
    async step(request) {
      requireRun(request.runId);
      const objective = stepObjective(request);
      const optimizer = optimizerSettings(request);
      const trajectories =
        objective.kind === "reval" && objective.groupMeanReward
          ? withGroupMeanRewards(request.trajectories)
          : request.trajectories;
      const batch = buildTrainBatch(trajectories, deps.limits, objective.kind === "reval" ? { kind: "reval" } : { kind: "policy", requireRef: objective.loss.klCoef > 0 });
      return deps.queue.run(async (): Promise<StepResponse> => {
        const current = runtime.state.step;
        if (request.step === current && runtime.lastResult?.step === current) return { ...runtime.lastResult, replayed: true };
        if (request.step !== current + 1n) {
          throw new FailedPreconditionError(`step ${request.step} is out of order: the learner is at step ${current}; send step ${current + 1n}`);
        }
        const t0 = performance.now();
        const outcome =
          objective.kind === "reval"
            ? await deps.trainer.revalStep(runtime.state, batch, objective.beta, optimizer)
            : await deps.trainer.step(runtime.state, batch, objective.loss, optimizer);
        const seconds = (performance.now() - t0) / 1000;
        runtime.state = outcome.state;
        const pushes = await deps.pusher.push(outcome.state.step, outcome.state.params);
        for (const p of pushes.filter((x) => !x.ok)) deps.logger.warn({ address: p.address, error: p.error, step: Number(outcome.state.step) }, "weights push failed");
        const n = request.trajectories.length;
        runtime.lastResult = {
          step: outcome.state.step,
          policyVersion: outcome.state.step,
          metrics: {
            ...outcome.metrics,
            stepSeconds: seconds,
            replayedFraction: request.trajectories.filter((t) => t.replayed).length / n,
            // Versions are counted before this step: a trajectory sampled by the current policy has age 0.
            meanStaleness: request.trajectories.reduce((s, t) => s + Number(current - t.policyVersion), 0) / n,
          },
          pushedTo: pushes.filter((p) => p.ok).map((p) => p.address),
          replayed: false,
        };
        if (deps.checkpointEvery > 0 && outcome.state.step % BigInt(deps.checkpointEvery) === 0n) await checkpoint();
        return runtime.lastResult;
      });
    },

    async saveCheckpoint(request) {
      requireRun(request.runId);
      const meta = await deps.queue.run(checkpoint);
      return { checkpoint: checkpointMessage(meta) };
    },

    async getStatus() {
      return {
        runId: deps.runId,
        step: runtime.state.step,
        policyVersion: runtime.state.step,
        lastCheckpoint: checkpointMessage(runtime.lastCheckpoint),
        executionProvider: deps.executionProvider,
        numParameters: BigInt(runtime.state.params.length),
        weightsSha256: createHash("sha256").update(Buffer.from(runtime.state.params.buffer, runtime.state.params.byteOffset, runtime.state.params.byteLength)).digest("hex"),
      };
    },

    async pushPolicy(request) {
      requireRun(request.runId);
      // In the queue, so that a step's newer version cannot be overtaken by this older one.
      return deps.queue.run(async () => {
        const results = await deps.pusher.push(runtime.state.step, runtime.state.params);
        return { policyVersion: runtime.state.step, results: results.map((r) => ({ address: r.address, ok: r.ok, error: r.error ?? "" })) };
      });
    },
  };
}
