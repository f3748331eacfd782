// ReVal's training schedule over the services (arXiv 2603.23355, Appendix A):
// each iteration samples a fresh batch, scores it under the reference policy,
// adds it to the replay buffer, and makes K learner updates — one on the fresh
// batch, then K − 1 on uniform samples from the buffer. Every R iterations the
// reference is reset to the current policy; the buffer's reference statistics
// are then stale, so it is flushed (the issue allows recompute or flush; the
// flush keeps the store's history, marked stale).
//
// The buffer holds the reward the update uses: with group-mean rewards that is
// r̃ = r − mean of its prompt's group, computed when the group is complete
// (a sample from the buffer no longer has its whole group).
import { Trajectory as LearnerTrajectory, type LearnerServiceClient, type StepResponse } from "../gen/valor/learner/v1/learner.pb";
import type { ReplayServiceClient, Trajectory as ReplayTrajectory } from "../gen/valor/replay/v1/replay.pb";
import type { RolloutServiceClient, Sample } from "../gen/valor/rollout/v1/rollout.pb";
import { unary } from "../grpc/client";
import { groupMeanRewards } from "./rewards";

export interface ReValScheduleOptions {
  learnerRunId: string;
  replayRunId: string;
  /** β (the paper: 0.002 for ~5K-token responses, 0.02 for ~600). */
  beta: number;
  /** K: updates per iteration, the first on the fresh batch (default 2). */
  updatesPerIteration: number;
  /** R: reset the reference to the current policy every R iterations (default 200). */
  referenceResetEvery: number;
  groupMeanReward: boolean;
  samplesPerPrompt: number;
  maxNewTokens: number;
  temperature: number;
  learningRate: number;
  /** Replay buffer capacity M (default 5,120). */
  bufferCapacity: number;
}

export const REVAL_DEFAULTS = { beta: 0.02, updatesPerIteration: 2, referenceResetEvery: 200, groupMeanReward: true, bufferCapacity: 5_120 };

export interface Prompt {
  id: string;
  text: string;
}

export interface IterationReport {
  iteration: number;
  meanReward: number;
  /** One per learner update, the fresh batch first. */
  updates: StepResponse[];
  referenceReset: boolean;
  referenceVersion: bigint;
}

const REFERENCE = "reval-reference";

export class ReValSchedule {
  private iteration = 0;
  private referenceVersion = 0n;
  private resetId = "";

  constructor(
    private readonly clients: { rollout: RolloutServiceClient; learner: LearnerServiceClient; replay: ReplayServiceClient },
    private readonly reward: (prompt: Prompt, sample: Sample) => number,
    private readonly options: ReValScheduleOptions,
  ) {}

  /** Pins the reference to the current policy and sizes the run's buffer. */
  async start(): Promise<void> {
    const { rollout, replay } = this.clients;
    await unary(replay.configureRun.bind(replay), { runId: this.options.replayRunId, capacity: BigInt(this.options.bufferCapacity) });
    this.referenceVersion = (await unary(rollout.pinPolicy.bind(rollout), { label: REFERENCE, policyVersion: 0n })).policyVersion;
  }

  async runIteration(prompts: readonly Prompt[]): Promise<IterationReport> {
    const { rollout, replay } = this.clients;
    const o = this.options;
    const index = this.iteration++;

    const referenceReset = index > 0 && index % o.referenceResetEvery === 0;
    if (referenceReset) {
      this.referenceVersion = (await unary(rollout.pinPolicy.bind(rollout), { label: REFERENCE, policyVersion: 0n })).policyVersion;
      this.resetId = `reference-v${this.referenceVersion}`;
      await unary(replay.flush.bind(replay), { runId: o.replayRunId, resetId: this.resetId });
    }

    const { samples } = await unary(rollout.generate.bind(rollout), {
      prompts: prompts.map((p) => ({ promptId: p.id, text: p.text })),
      samplesPerPrompt: o.samplesPerPrompt,
      sampling: { temperature: o.temperature, topP: 1, maxNewTokens: o.maxNewTokens, seed: BigInt(index) },
    });
    const byId = new Map(prompts.map((p) => [p.id, p]));
    const rewards = samples.map((s) => this.reward(byId.get(s.promptId)!, s));
    const trained = o.groupMeanReward ? groupMeanRewards(samples.map((s, i) => ({ reward: rewards[i]!, groupId: s.promptId }))) : rewards;
    const reference = await unary(rollout.score.bind(rollout), {
      sequences: samples.map((s) => ({ promptTokenIds: s.promptTokenIds, responseTokenIds: s.responseTokenIds })),
      policyLabel: REFERENCE,
    });

    const fresh: ReplayTrajectory[] = samples.map((s, i) => ({
      promptId: s.promptId,
      groupId: `${s.promptId}@${index}`,
      promptTokenIds: s.promptTokenIds,
      responseTokenIds: s.responseTokenIds,
      promptText: byId.get(s.promptId)!.text,
      responseText: s.text,
      responseLogprobs: s.logprobs,
      reward: trained[i]!,
      policyVersion: BigInt(s.policyVersion),
      refLogprobSum: reference.scores[i]!.sumLogprob,
      refValue: reference.scores[i]!.firstValue,
      createdAtUnixMs: BigInt(Date.now()),
    }));
    await unary(replay.append.bind(replay), { runId: o.replayRunId, step: BigInt(index), startIndex: 0, trajectories: fresh, expectedResetId: this.resetId });

    const updates: StepResponse[] = [await this.update(fresh, false)];
    for (let k = 1; k < o.updatesPerIteration; k++) {
      const drawn = await unary(replay.sample.bind(replay), { runId: o.replayRunId, batchSize: fresh.length, withReplacement: false, seed: BigInt(index * 1_000 + k) });
      updates.push(await this.update(drawn.trajectories.map((t) => t.trajectory!), true));
    }
    return {
      iteration: index,
      meanReward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
      updates,
      referenceReset,
      referenceVersion: this.referenceVersion,
    };
  }

  private async update(trajectories: ReplayTrajectory[], replayed: boolean): Promise<StepResponse> {
    const { learner } = this.clients;
    const status = await unary(learner.getStatus.bind(learner), {});
    return unary(
      learner.step.bind(learner),
      {
        runId: this.options.learnerRunId,
        step: status.step + 1n,
        trajectories: trajectories.map((t) =>
          LearnerTrajectory.fromPartial({
            promptTokenIds: t.promptTokenIds,
            responseTokenIds: t.responseTokenIds,
            reward: t.reward,
            refValue: t.refValue,
            refLogprobSum: t.refLogprobSum,
            groupId: t.groupId,
            policyVersion: BigInt(t.policyVersion),
            replayed,
          }),
        ),
        // Rewards are already r̃ when group-mean is on: the group is complete only here.
        reval: { beta: this.options.beta, groupMeanReward: false },
        optimizer: { learningRate: this.options.learningRate, weightDecay: 0 },
      },
      60_000,
    );
  }
}
