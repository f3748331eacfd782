// The training controller: one run of the RLVR loop across the services.
// Per step: draw prompts → (PVPO) filter by reference statistics → (V0.5)
// priors from the value service → k rollouts from the rollout service →
// verification by the reward service → (V0.5) the baseline service's budget
// plan, extra rollouts until it is satisfied; (DAPO) more prompt batches until
// the batch holds only informative groups → advantages from the baseline
// service → learner update(s) (ReVal: fresh batch and replay samples) → the
// learner pushes the new weights to the rollout service → outcomes back to
// the value service's context → metrics recorded in MongoDB.
//
// Resuming: prompts and sampling seeds are functions of (seed, step), every
// write is idempotent, the learner checkpoints every step, and the pending
// step document holds the learner updates of the step in progress with their
// results. A step is therefore finished exactly once, whatever was
// interrupted (the controller, the learner or any other service).
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import type { GroupAdvantages } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import type { PriorProvenance } from "../../../shared/gen/valor/common/v1/prior.pb";
import { LossAggregation, StepRequest, StepResponse, Trajectory as LearnerTrajectory } from "../../../shared/gen/valor/learner/v1/learner.pb";
import type { Trajectory as ReplayTrajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import type { Sample } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { unary } from "../../../shared/grpc/client";
import { ValorError } from "../../../shared/errors";
import { toDomainError } from "../../../shared/mongo";
import { groupMeanRewards } from "../../../shared/training/rewards";
import type { ServiceClients } from "./clients";
import { configFingerprint, type RunConfig } from "./config";
import { getRecipe, type Aggregation, type Recipe } from "./domain/algorithms";
import { drawBatch, stepSeed, taskPrompts, type TaskPrompt, type TaskPrompts } from "./domain/prompts";
import type { EvalRecord, StepRecord } from "./domain/records";
import { advantageStats, mean, passRate, priorSquaredError, type TrainedGroup } from "./domain/step-stats";
import type { PendingStep, RunStore, StoredRun } from "./store/run-store";

export interface ProgressSink {
  begin(run: StoredRun): void;
  step(record: StepRecord): void;
  evaluation(record: EvalRecord): void;
  note(message: string): void;
  end(run: StoredRun): void;
}

export interface ControllerDeps {
  clients: ServiceClients;
  store: RunStore;
  logger: Logger;
  progress: ProgressSink;
  /** Resolves when every service is reachable again (local mode: restarted processes are listening). */
  servicesReady(): Promise<void>;
  /** Aborted on Ctrl-C: the current step is left pending and the run is marked interrupted. */
  signal?: AbortSignal;
}

/** One rollout with its verified reward. */
interface Rollout {
  sample: Sample;
  reward: number;
}

/** A prompt's rollouts during a step. */
interface Group {
  prompt: TaskPrompt;
  rollouts: Rollout[];
  prior?: number;
}

const AGGREGATIONS: Record<Aggregation, LossAggregation> = {
  token_mean: LossAggregation.LOSS_AGGREGATION_TOKEN_MEAN,
  seq_mean_token_mean: LossAggregation.LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN,
  seq_mean_token_sum_norm: LossAggregation.LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM_NORM,
};

const RETRYABLE = new Set([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED, grpcStatus.CANCELLED]);
const MAX_ATTEMPTS = 6;
const REVAL_REFERENCE = "reval-reference";
const GENERATE_CHUNK_SEQUENCES = 1_024;
const VERIFY_CHUNK = 2_048;
const LONG_DEADLINE_MS = 120_000;

export class InterruptedError extends Error {
  constructor() {
    super("interrupted");
    this.name = "InterruptedError";
  }
}

/** A transient gRPC status, or the run store's database briefly away (e.g. the local FerretDB restarting). */
const isRetryable = (err: unknown) =>
  (typeof (err as ServiceError)?.code === "number" && RETRYABLE.has((err as ServiceError).code)) ||
  (toDomainError(err) instanceof ValorError && (toDomainError(err) as ValorError).retryable);

export class TrainingRun {
  private readonly recipe: Recipe;
  private readonly prompts: TaskPrompts;
  private readonly scale: RewardScale;
  private run!: StoredRun;
  /** The last recorded step (null before the first). */
  private lastStep: StepRecord | null = null;
  /** PVPO: the training pool after the reference filter, and the reference policy that filtered it. */
  private activePool: TaskPrompt[];
  private filteredBy = "";
  private sessionStart = 0;
  private wallAtSessionStart = 0;

  constructor(
    private readonly config: RunConfig,
    private readonly deps: ControllerDeps,
  ) {
    this.recipe = getRecipe(config.algorithm);
    this.prompts = taskPrompts(config.seed, config.task.train_prompts, config.task.eval_prompts, config.task.levels);
    this.activePool = this.prompts.train;
    this.scale = this.recipe.rewardScale === "signed" ? RewardScale.REWARD_SCALE_SIGNED : RewardScale.REWARD_SCALE_BINARY;
  }

  get runId(): string {
    return this.config.run_id;
  }

  /** Creates or resumes the run and trains it to `steps`; resolves with the final run document. */
  async train(): Promise<StoredRun> {
    await this.openRun();
    const { progress, store } = this.deps;
    progress.begin(this.run);
    try {
      await this.retrying("prepare", () => this.prepare());
      for (;;) {
        const done = this.run.completedSteps;
        // Also catches an evaluation that an interruption skipped.
        if (this.evalDue(done) && !(await store.hasEval(this.runId, done))) await this.retrying("evaluate", () => this.evaluate(done));
        if (done >= this.config.steps) break;
        this.throwIfAborted();
        progress.step(await this.retrying(`step ${done + 1}`, () => this.runStep(done + 1)));
      }
      await this.saveWall({ status: "completed" });
    } catch (err) {
      const interrupted = err instanceof InterruptedError;
      await this.saveWall({ status: interrupted ? "interrupted" : "failed", ...(interrupted ? {} : { error: String((err as Error)?.message ?? err) }) }).catch(() => undefined);
      progress.end(this.run);
      throw err;
    }
    progress.end(this.run);
    return this.run;
  }

  private evalDue(step: number): boolean {
    const every = this.config.task.eval_every;
    return step === 0 || step === this.config.steps || (every > 0 && step % every === 0);
  }

  private throwIfAborted(): void {
    if (this.deps.signal?.aborted) throw new InterruptedError();
  }

  private elapsed(): number {
    return this.wallAtSessionStart + (performance.now() - this.sessionStart) / 1000;
  }

  private async saveWall(patch: Partial<StoredRun>): Promise<void> {
    Object.assign(this.run, patch, { wallSeconds: this.elapsed() });
    await this.deps.store.updateRun(this.runId, { ...patch, wallSeconds: this.run.wallSeconds, completedSteps: this.run.completedSteps });
  }

  private async openRun(): Promise<void> {
    const { store, logger } = this.deps;
    const fingerprint = configFingerprint(this.config);
    const now = Date.now();
    const existing = await store.getRun(this.runId);
    if (existing && existing.fingerprint !== fingerprint) {
      throw new Error(
        `run ${this.runId} exists with a different configuration (only steps and label may change on resume); choose another run_id`,
      );
    }
    this.run =
      existing ??
      (await store.createRun({
        runId: this.runId,
        label: this.config.label,
        algorithm: this.config.algorithm,
        config: this.config as unknown as Record<string, unknown>,
        status: "running",
        steps: this.config.steps,
        completedSteps: 0,
        referenceRollouts: 0,
        wallSeconds: 0,
        createdAtUnixMs: now,
        updatedAtUnixMs: now,
        resumes: 0,
        fingerprint,
      }));
    if (existing) {
      // A finished run can be extended: only the step count differs.
      this.run.resumes += existing.completedSteps < existing.steps || existing.status !== "completed" ? 1 : 0;
      this.run.steps = this.config.steps;
      this.run.label = this.config.label;
      this.run.config = this.config as unknown as Record<string, unknown>;
      logger.info({ runId: this.runId, completedSteps: existing.completedSteps, status: existing.status }, "resuming run");
    }
    this.lastStep = await store.lastStep(this.runId);
    if ((this.lastStep?.step ?? 0) !== this.run.completedSteps) {
      // The step was recorded but the run document not updated (interrupted in between).
      this.run.completedSteps = this.lastStep?.step ?? 0;
    }
    this.run.status = "running";
    this.sessionStart = performance.now();
    this.wallAtSessionStart = this.run.wallSeconds;
    await store.updateRun(this.runId, { status: "running", steps: this.run.steps, label: this.run.label, config: this.run.config, resumes: this.run.resumes });
  }

  /**
   * Runs fn; on a transient gRPC failure (a service restarting, the database
   * briefly away) waits for the services and tries again. fn must be safe to
   * repeat: every step and evaluation is.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.throwIfAborted();
      try {
        await this.syncPolicy();
        return await fn();
      } catch (err) {
        if (!isRetryable(err) || attempt >= MAX_ATTEMPTS) throw err;
        const wait = Math.min(8_000, 250 * 2 ** attempt);
        this.deps.progress.note(`${what}: ${(err as ServiceError).details || (err as Error).message}; retrying (attempt ${attempt + 1}/${MAX_ATTEMPTS})`);
        this.deps.logger.warn({ runId: this.runId, what, attempt, err: String(err) }, "transient failure; retrying");
        await this.deps.servicesReady();
        // Remote services have no readiness signal here: back off before the next attempt.
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Makes the rollout service sample from the learner's current version (a restarted rollout service starts from the initial weights). */
  private async syncPolicy(): Promise<void> {
    const { learner, rollout } = this.deps.clients;
    const status = await unary(learner.getStatus.bind(learner), {});
    if (status.runId !== this.runId) throw new Error(`the learner at this address serves run ${status.runId}, not ${this.runId}`);
    const policy = await unary(rollout.getPolicy.bind(rollout), {});
    if (policy.policyVersion === status.policyVersion) return;
    const pushed = await unary(learner.pushPolicy.bind(learner), { runId: this.runId }, LONG_DEADLINE_MS);
    const after = await unary(rollout.getPolicy.bind(rollout), {});
    if (after.policyVersion !== status.policyVersion) {
      throw new Error(`the rollout service holds policy version ${after.policyVersion}, the learner ${status.policyVersion}; push: ${JSON.stringify(pushed.results)}`);
    }
    this.deps.progress.note(`rollout service brought to policy version ${status.policyVersion}`);
  }

  // ---------------------------------------------------------------- sampling

  private async generate(prompts: readonly TaskPrompt[], k: number, seed: number, temperature = this.config.sampling.temperature): Promise<Sample[]> {
    const { rollout } = this.deps.clients;
    const perRequest = Math.max(1, Math.floor(GENERATE_CHUNK_SEQUENCES / k));
    const out: Sample[] = [];
    for (let i = 0; i < prompts.length; i += perRequest) {
      const chunk = prompts.slice(i, i + perRequest);
      const res = await unary(
        rollout.generate.bind(rollout),
        {
          prompts: chunk.map((p) => ({ promptId: p.id, text: p.text })),
          samplesPerPrompt: k,
          sampling: { temperature, topP: this.config.sampling.top_p, maxNewTokens: this.config.sampling.max_new_tokens, seed: BigInt(seed + i) },
        },
        LONG_DEADLINE_MS,
      );
      out.push(...res.samples);
    }
    return out;
  }

  /** Verifies samples with the reward service; rewards on the run's scale, in order. */
  private async verify(samples: readonly Sample[], byId: ReadonlyMap<string, TaskPrompt>, scale = this.scale): Promise<number[]> {
    const { reward } = this.deps.clients;
    const rewards: number[] = [];
    for (let i = 0; i < samples.length; i += VERIFY_CHUNK) {
      const chunk = samples.slice(i, i + VERIFY_CHUNK);
      const res = await unary(
        reward.verify.bind(reward),
        {
          items: chunk.map((s, j) => ({ id: `i${i + j}`, response: s.text, gold: byId.get(s.promptId)!.gold, taskKind: "exact" })),
          options: { rewardScale: scale, strict: true, percentPolicy: 0, defaultTaskKind: "exact" },
        },
        LONG_DEADLINE_MS,
      );
      rewards.push(...res.results.map((r) => r.reward));
    }
    return rewards;
  }

  private async rollouts(prompts: readonly TaskPrompt[], k: number, seed: number): Promise<Map<string, Rollout[]>> {
    const samples = await this.generate(prompts, k, seed);
    const rewards = await this.verify(samples, new Map(prompts.map((p) => [p.id, p])));
    const out = new Map<string, Rollout[]>(prompts.map((p) => [p.id, []]));
    samples.forEach((sample, i) => out.get(sample.promptId)!.push({ sample, reward: rewards[i]! }));
    return out;
  }

  // ---------------------------------------------------------------- preparation

  /** PVPO: reference statistics before training (and their filter); ReVal: the reference pin and the buffer. */
  private async prepare(): Promise<void> {
    if (this.recipe.usesReference) await this.ensureReference(this.run.completedSteps);
    if (this.recipe.loss === "reval") await this.ensureRevalReference();
  }

  private referenceIdAt(step: number): string {
    return `${this.runId}/ref@${step}`;
  }

  /** The reference statistics in force after `step` steps (gathered at the last refresh point). */
  private async ensureReference(step: number): Promise<void> {
    const every = this.config.pvpo.refresh_every;
    const refreshedAt = every > 0 ? Math.floor(step / every) * every : 0;
    const refId = this.referenceIdAt(refreshedAt);
    if (this.run.referencePolicyId !== refId) await this.gatherReference(refreshedAt, refId);
    if (this.filteredBy !== refId) await this.loadReferenceFilter(refId);
  }

  /** Rolls out the current policy M times on every training prompt and records the rewards. */
  private async gatherReference(step: number, refId: string): Promise<void> {
    const { baseline } = this.deps.clients;
    const M = this.config.pvpo.reference_rollouts;
    const pool = this.prompts.train;
    this.deps.progress.note(`PVPO: ${M} reference rollouts on each of ${pool.length} training prompts (policy after step ${step})`);
    const chunk = 64;
    for (let i = 0; i < pool.length; i += chunk) {
      this.throwIfAborted();
      const prompts = pool.slice(i, i + chunk);
      const groups = await this.rollouts(prompts, M, stepSeed(this.config.seed, step, `reference/${i}`));
      await unary(baseline.recordReferenceRewards.bind(baseline), {
        referencePolicyId: refId,
        batchId: `chunk-${i}`,
        rewardScale: this.scale,
        prompts: prompts.map((p) => ({ promptId: p.id, rewards: groups.get(p.id)!.map((r) => r.reward) })),
      });
    }
    await unary(baseline.activateReferencePolicy.bind(baseline), { lineage: this.runId, referencePolicyId: refId });
    this.run.referencePolicyId = refId;
    this.run.referenceRollouts += M * pool.length;
    await this.deps.store.updateRun(this.runId, { referencePolicyId: refId, referenceRollouts: this.run.referenceRollouts });
  }

  private async loadReferenceFilter(refId: string): Promise<void> {
    const { baseline } = this.deps.clients;
    const res = await unary(baseline.getReferenceStatistics.bind(baseline), {
      reference: { $case: "referencePolicyId", value: refId },
      promptIds: this.prompts.train.map((p) => p.id),
      rewardScale: this.scale,
    });
    const skip = new Set<string>();
    for (const s of res.statistics) {
      const drop = s.class === 1 || (s.class === 3 && this.config.pvpo.hard_prompts === "skip");
      if (drop) skip.add(s.promptId);
    }
    this.activePool = this.prompts.train.filter((p) => !skip.has(p.id));
    if (this.activePool.length === 0) throw new Error("PVPO: the reference filter left no training prompts");
    this.filteredBy = refId;
    this.deps.progress.note(`PVPO: reference ${refId} keeps ${this.activePool.length} of ${this.prompts.train.length} prompts`);
  }

  /** ReVal: the reference pin (held by the rollout service) and the run's buffer capacity. */
  private async ensureRevalReference(): Promise<void> {
    const { rollout, replay } = this.deps.clients;
    await unary(replay!.configureRun.bind(replay!), { runId: this.runId, capacity: BigInt(this.config.reval.buffer_capacity) });
    const wanted = this.run.revalReferenceVersion ?? 0;
    const policy = await unary(rollout.getPolicy.bind(rollout), {});
    const pinned = policy.pinned.find((p) => p.label === REVAL_REFERENCE);
    if (pinned && Number(pinned.policyVersion) === wanted) return;
    // The pin is lost when the rollout service restarts; it can be made again only while it holds that version.
    if (Number(policy.policyVersion) === wanted) {
      await unary(rollout.pinPolicy.bind(rollout), { label: REVAL_REFERENCE, policyVersion: BigInt(wanted) });
      return;
    }
    this.deps.progress.note(`ReVal: reference version ${wanted} is no longer held; resetting the reference to the current policy`);
    await this.resetRevalReference();
  }

  private async resetRevalReference(): Promise<void> {
    const { rollout, replay } = this.deps.clients;
    const pinned = await unary(rollout.pinPolicy.bind(rollout), { label: REVAL_REFERENCE, policyVersion: 0n });
    const resetId = `reference-v${pinned.policyVersion}`;
    // The buffer's reference statistics belong to the old reference: flush them (kept in history, marked stale).
    await unary(replay!.flush.bind(replay!), { runId: this.runId, resetId });
    this.run.revalReferenceVersion = Number(pinned.policyVersion);
    this.run.revalResetId = resetId;
    await this.deps.store.updateRun(this.runId, { revalReferenceVersion: this.run.revalReferenceVersion, revalResetId: resetId });
  }

  // ---------------------------------------------------------------- one step

  private async runStep(step: number): Promise<StepRecord> {
    const t0 = performance.now();
    const { store, clients } = this.deps;
    const status = await unary(clients.learner.getStatus.bind(clients.learner), {});
    const learnerStep = Number(status.step);
    const recordedVersion = this.lastStep?.policyVersion ?? 0;
    let pending = await store.getPending(this.runId, step);
    if (!pending && learnerStep !== recordedVersion) {
      throw new Error(
        `the learner is at step ${learnerStep} but the run recorded policy version ${recordedVersion} after step ${step - 1}: ` +
          "it resumed from an older checkpoint (set checkpoint_every: 1 to make every step durable)",
      );
    }
    if (!pending) {
      if (this.recipe.usesReference) await this.ensureReference(step - 1);
      if (this.recipe.loss === "reval") await this.maybeResetRevalReference(step);
      pending = await this.sampleStep(step, learnerStep);
      await store.putPending(pending);
    }
    const responses = await this.applyUpdates(pending, learnerStep);
    return this.finishStep(pending, responses, (performance.now() - t0) / 1000);
  }

  private async maybeResetRevalReference(step: number): Promise<void> {
    const R = this.config.reval.reference_reset_every;
    await this.ensureRevalReference();
    if (R > 0 && step > 1 && (step - 1) % R === 0) await this.resetRevalReference();
  }

  /** Everything before the learner: prompts, rollouts, rewards, advantages; the first update's request. */
  private async sampleStep(step: number, policyVersion: number): Promise<PendingStep> {
    const c = this.config;
    const seed = c.seed;
    const drawn: TaskPrompt[] = [];
    const draw = (index: number) => {
      const used = new Set(drawn.map((p) => p.id));
      const picked = drawBatch(this.activePool.length, c.prompts_per_step, seed, step, index)
        .map((i) => this.activePool[i]!)
        .filter((p) => !used.has(p.id));
      drawn.push(...picked);
      return picked;
    };

    let groups: Group[] = [];
    let dropped = 0;
    let extraRollouts = 0;
    let priors: Awaited<ReturnType<TrainingRun["predict"]>> | undefined;
    let sampledRollouts = 0;
    const sample = async (prompts: TaskPrompt[], purpose: string): Promise<Group[]> => {
      const got = await this.rollouts(prompts, c.rollouts_per_prompt, stepSeed(seed, step, purpose));
      sampledRollouts += prompts.length * c.rollouts_per_prompt;
      return prompts.map((p) => ({ prompt: p, rollouts: got.get(p.id)! }));
    };

    if (this.recipe.dynamicSampling) {
      // DAPO: keep only groups with mixed outcomes, drawing more prompt batches until the batch is full.
      const maxDraws = c.dapo.max_generation_batches || Number.MAX_SAFE_INTEGER;
      for (let d = 0; d < maxDraws && groups.length < c.prompts_per_step; d++) {
        const prompts = draw(d);
        if (prompts.length === 0) break;
        const fresh = await sample(prompts, `generate/${d}`);
        const informative = fresh.filter((g) => new Set(g.rollouts.map((r) => r.reward)).size > 1);
        dropped += fresh.length - informative.length;
        groups.push(...informative);
      }
      groups = groups.slice(0, c.prompts_per_step);
    } else {
      const prompts = draw(0);
      if (this.recipe.usesPrior) priors = await this.predict(prompts, policyVersion);
      groups = await sample(prompts, "generate");
      if (priors) {
        groups.forEach((g, i) => (g.prior = priors!.passRates[i]));
        extraRollouts = await this.extraRollouts(step, groups, priors.provenance);
        sampledRollouts += extraRollouts;
      }
    }

    const sampled = groups.flatMap((g) => g.rollouts);
    const partialBase = {
      runId: this.runId,
      step,
      promptsDrawn: drawn.length,
      promptsTrained: groups.length,
      rollouts: sampledRollouts,
      // Per prompt that reached the update: DAPO pays for the groups it drops.
      rolloutsPerPrompt: sampledRollouts / Math.max(1, groups.length || drawn.length),
      cumulativeRollouts: 0,
      cumulativeReferenceRollouts: this.run.referenceRollouts,
      meanReward: passRate(sampled.map((r) => r.reward)),
      extraRollouts,
      priorRejectionRate: null as number | null,
      priorSquaredError: priors ? priorSquaredError(groups.map((g) => g.prior!), groups.map((g) => passRate(g.rollouts.map((r) => r.reward)))) : null,
      valueContextSize: priors ? priors.contextSize : null,
      droppedGroups: dropped,
    };

    let trained: TrainedGroup[] = [];
    let request: StepRequest | undefined;
    if (this.recipe.loss === "reval") {
      request = await this.revalFreshUpdate(step, policyVersion, groups);
      trained = groups.map((g) => ({ promptId: g.prompt.id, baseline: mean(g.rollouts.map((r) => r.reward)), advantages: [] }));
    } else if (groups.length > 0) {
      const adv = await this.advantages(groups, priors?.provenance);
      partialBase.priorRejectionRate = this.recipe.usesPrior ? adv.rejectionRate : null;
      trained = adv.groups.map((g) => ({ promptId: g.promptId, baseline: g.baseline, advantages: g.advantages }));
      request = this.policyGradientRequest(policyVersion + 1, groups, adv.groups);
    }
    const stats = advantageStats(trained);
    const previous = this.lastStep?.cumulativeRollouts ?? 0;
    return {
      runId: this.runId,
      step,
      samplingPolicyVersion: policyVersion,
      partial: { ...partialBase, cumulativeRollouts: previous + sampledRollouts, ...stats },
      requests: request ? [StepRequest.toJSON(request)] : [],
      responses: [],
      observations: this.recipe.usesPrior ? groups.map((g) => ({ promptId: g.prompt.id, text: g.prompt.text, rewards: g.rollouts.map((r) => r.reward) })) : undefined,
    };
  }

  private async predict(prompts: readonly TaskPrompt[], policyVersion: number) {
    const { value } = this.deps.clients;
    const res = await unary(value!.predict.bind(value!), {
      policyId: this.runId,
      policyVersion: BigInt(policyVersion),
      prompts: prompts.map((p) => ({ promptId: p.id, text: p.text })),
      modelId: "",
    });
    const p = res.provenance!;
    return {
      passRates: res.passRates,
      contextSize: p.contextSize,
      provenance: {
        modelId: p.modelId,
        policyId: this.runId,
        policyVersion: BigInt(policyVersion),
        contextSize: p.contextSize,
        contextAge: Number(p.contextAge),
      },
    };
  }

  /** V0.5: asks the baseline service for a plan and samples what it asks for, until it asks for nothing more. */
  private async extraRollouts(step: number, groups: Group[], provenance: PriorProvenance): Promise<number> {
    const { baseline } = this.deps.clients;
    const c = this.config;
    let extra = 0;
    for (let round = 0; round < c.v05.k_max; round++) {
      const plan = await unary(baseline.planRollouts.bind(baseline), {
        policy: "v05",
        rewardScale: this.scale,
        groups: groups.map((g) => ({ promptId: g.prompt.id, rewards: g.rollouts.map((r) => r.reward), prior: { passRate: g.prior!, provenance } })),
        parameters: { kInit: c.rollouts_per_prompt, kMax: c.v05.k_max, costPerRollout: c.v05.cost_per_rollout, maxExtraRollouts: c.v05.max_extra_rollouts },
      });
      if (plan.totalExtraRollouts === 0) break;
      // One Generate per distinct count (a request has one samples_per_prompt); the rollout service batches them together.
      const byCount = new Map<number, Group[]>();
      for (const p of plan.plans) {
        if (p.extraRollouts === 0) continue;
        const g = groups.find((x) => x.prompt.id === p.promptId)!;
        byCount.set(p.extraRollouts, [...(byCount.get(p.extraRollouts) ?? []), g]);
      }
      await Promise.all(
        [...byCount].map(async ([count, gs]) => {
          const got = await this.rollouts(gs.map((g) => g.prompt), count, stepSeed(c.seed, step, `extra/${round}/${count}`));
          for (const g of gs) g.rollouts.push(...got.get(g.prompt.id)!);
        }),
      );
      extra += plan.totalExtraRollouts;
    }
    return extra;
  }

  private async advantages(groups: readonly Group[], provenance?: PriorProvenance): Promise<{ groups: GroupAdvantages[]; rejectionRate: number }> {
    const { baseline } = this.deps.clients;
    const res = await unary(baseline.computeAdvantages.bind(baseline), {
      estimator: this.recipe.estimator,
      rewardScale: this.scale,
      groups: groups.map((g) => ({
        promptId: g.prompt.id,
        rewards: g.rollouts.map((r) => r.reward),
        prior: g.prior === undefined ? undefined : { passRate: g.prior, provenance },
      })),
      referencePolicyId: this.recipe.usesReference ? this.run.referencePolicyId! : "",
    });
    return { groups: res.groups, rejectionRate: res.summary?.priorRejectionRate ?? 0 };
  }

  private policyGradientRequest(learnerStep: number, groups: readonly Group[], advantages: readonly GroupAdvantages[]): StepRequest {
    const c = this.config;
    const loss = this.recipe.loss as Exclude<Recipe["loss"], "reval">;
    const trajectories = groups.flatMap((g, gi) =>
      g.rollouts.map((r, i) =>
        LearnerTrajectory.fromPartial({
          promptTokenIds: r.sample.promptTokenIds,
          responseTokenIds: r.sample.responseTokenIds,
          oldLogprobs: r.sample.logprobs,
          advantage: advantages[gi]!.advantages[i]!,
          policyVersion: r.sample.policyVersion,
          groupId: g.prompt.id,
        }),
      ),
    );
    return {
      runId: this.runId,
      step: BigInt(learnerStep),
      trajectories,
      loss: {
        clipRatioLow: c.loss.clip_ratio_low ?? loss.clipRatioLow,
        clipRatioHigh: c.loss.clip_ratio_high ?? loss.clipRatioHigh,
        dualClip: loss.dualClip,
        klCoef: 0,
        aggregation: AGGREGATIONS[loss.aggregation],
        // Dr.GRPO's constant normaliser: the longest response allowed.
        lossScaleFactor: c.sampling.max_new_tokens,
      },
      optimizer: this.optimizer(learnerStep),
      reval: undefined,
    };
  }

  /** The optimizer settings of learner update `learnerStep` (1, 2, …): the learning rate after warm-up. */
  private optimizer(learnerStep: number) {
    const o = this.config.optimizer;
    const warmup = o.warmup_updates > 0 ? Math.min(1, learnerStep / o.warmup_updates) : 1;
    return { learningRate: o.learning_rate * warmup, weightDecay: o.weight_decay, maxGradNorm: o.max_grad_norm };
  }

  // ---------------------------------------------------------------- ReVal

  /** Scores the fresh batch under the reference, appends it to the buffer, and builds the fresh update. */
  private async revalFreshUpdate(step: number, policyVersion: number, groups: readonly Group[]): Promise<StepRequest> {
    const { rollout, replay } = this.deps.clients;
    const rollouts = groups.flatMap((g) => g.rollouts.map((r) => ({ ...r, group: g })));
    const trainedRewards = this.config.reval.group_mean_reward ? groupMeanRewards(rollouts.map((r) => ({ reward: r.reward, groupId: r.group.prompt.id }))) : rollouts.map((r) => r.reward);
    const reference = await unary(
      rollout.score.bind(rollout),
      { sequences: rollouts.map((r) => ({ promptTokenIds: r.sample.promptTokenIds, responseTokenIds: r.sample.responseTokenIds })), policyLabel: REVAL_REFERENCE },
      LONG_DEADLINE_MS,
    );
    const fresh: ReplayTrajectory[] = rollouts.map((r, i) => ({
      promptId: r.group.prompt.id,
      groupId: `${r.group.prompt.id}@${step}`,
      promptTokenIds: r.sample.promptTokenIds,
      responseTokenIds: r.sample.responseTokenIds,
      promptText: r.group.prompt.text,
      responseText: r.sample.text,
      responseLogprobs: r.sample.logprobs,
      reward: trainedRewards[i]!,
      policyVersion: BigInt(r.sample.policyVersion),
      refLogprobSum: reference.scores[i]!.sumLogprob,
      refValue: reference.scores[i]!.firstValue,
      createdAtUnixMs: BigInt(Date.now()),
    }));
    await unary(replay!.append.bind(replay!), { runId: this.runId, step: BigInt(step), startIndex: 0, trajectories: fresh, expectedResetId: this.run.revalResetId ?? "" }, LONG_DEADLINE_MS);
    return this.revalRequest(policyVersion + 1, fresh, false);
  }

  private revalRequest(learnerStep: number, trajectories: readonly ReplayTrajectory[], replayed: boolean): StepRequest {
    return {
      runId: this.runId,
      step: BigInt(learnerStep),
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
      loss: undefined,
      // The buffer holds r̃ already when group-mean rewards are on: a replayed sample lacks its group.
      reval: { beta: this.config.reval.beta, groupMeanReward: false },
      optimizer: this.optimizer(learnerStep),
    };
  }

  /** The update after `index` updates of this step: K − 1 uniform samples from the buffer follow the fresh one. */
  private async nextRevalRequest(pending: PendingStep, index: number, learnerStep: number): Promise<StepRequest> {
    const { replay } = this.deps.clients;
    const fresh = StepRequest.fromJSON(pending.requests[0]);
    const drawn = await unary(replay!.sample.bind(replay!), {
      runId: this.runId,
      batchSize: fresh.trajectories.length,
      withReplacement: false,
      seed: BigInt(stepSeed(this.config.seed, pending.step, `replay/${index}`)),
    });
    return this.revalRequest(learnerStep, drawn.trajectories.map((t) => t.trajectory!), true);
  }

  // ---------------------------------------------------------------- learner

  /** Sends the step's updates that the learner has not applied; each request is saved before it is sent. */
  private async applyUpdates(pending: PendingStep, learnerStepAtStart: number): Promise<StepResponse[]> {
    const { learner } = this.deps.clients;
    const total = this.recipe.loss === "reval" ? this.config.reval.updates_per_step : pending.requests.length;
    const responses = pending.responses.map((r) => StepResponse.fromJSON(r));
    let learnerStep = learnerStepAtStart;
    for (let i = responses.length; i < total; i++) {
      if (i >= pending.requests.length) {
        const request = await this.nextRevalRequest(pending, i, pending.samplingPolicyVersion + i + 1);
        pending.requests.push(StepRequest.toJSON(request));
        await this.deps.store.putPending(pending);
      }
      const request = StepRequest.fromJSON(pending.requests[i]);
      // Already applied by a learner that then lost our connection: it answers with the recorded result.
      if (Number(request.step) < learnerStep) throw new Error(`update ${request.step} of step ${pending.step} is older than the learner's step ${learnerStep}`);
      const response = await unary(learner.step.bind(learner), request, LONG_DEADLINE_MS);
      learnerStep = Number(response.step);
      responses.push(response);
      pending.responses.push(StepResponse.toJSON(response));
      await this.deps.store.putPending(pending);
    }
    return responses;
  }

  private async finishStep(pending: PendingStep, responses: readonly StepResponse[], seconds: number): Promise<StepRecord> {
    const { store, clients } = this.deps;
    if (pending.observations && clients.value) {
      await unary(clients.value.observe.bind(clients.value), {
        policyId: this.runId,
        policyVersion: BigInt(pending.samplingPolicyVersion),
        batchId: `step-${pending.step}`,
        rewardScale: this.scale,
        observations: pending.observations,
      });
    }
    const first = responses[0]?.metrics;
    const metricsMean = (f: (m: NonNullable<StepResponse["metrics"]>) => number) => mean(responses.map((r) => f(r.metrics!)));
    const reval = this.recipe.loss === "reval";
    this.run.completedSteps = pending.step;
    const record: StepRecord = {
      ...pending.partial,
      policyVersion: responses.length > 0 ? Number(responses[responses.length - 1]!.policyVersion) : pending.samplingPolicyVersion,
      loss: first?.loss ?? 0,
      clipFraction: first?.clipFraction ?? 0,
      approxKl: first?.approxKl ?? 0,
      entropy: first?.entropy ?? 0,
      gradNorm: first?.gradNorm ?? 0,
      residualAbsMean: reval ? metricsMean((m) => m.residualAbsMean) : null,
      replayedFraction: reval ? metricsMean((m) => m.replayedFraction) : null,
      meanStaleness: reval ? metricsMean((m) => m.meanStaleness) : null,
      updates: responses.length,
      stepSeconds: seconds,
      elapsedSeconds: this.elapsed(),
      completedAtUnixMs: Date.now(),
    };
    await store.recordStep(record);
    this.lastStep = record;
    await store.clearPending(this.runId, pending.step);
    await this.saveWall({});
    return record;
  }

  // ---------------------------------------------------------------- evaluation

  /** mean@k at the training temperature and greedy accuracy on the held-out prompts; mean@k on the training pool. */
  private async evaluate(step: number): Promise<EvalRecord> {
    const c = this.config;
    const { learner } = this.deps.clients;
    const status = await unary(learner.getStatus.bind(learner), {});
    const evalSet = this.prompts.eval;
    const byId = new Map(evalSet.map((p) => [p.id, p]));
    // The same seed at every evaluation: differences between evaluations come from the policy, not the draw.
    const seed = stepSeed(c.seed, 0, "eval");
    const sampled = await this.generate(evalSet, c.task.eval_samples, seed);
    const greedy = await this.generate(evalSet, 1, seed, 0);
    const trainPool = this.prompts.train.slice(0, evalSet.length);
    const trainSampled = await this.generate(trainPool, c.task.eval_samples, seed);
    const binary = RewardScale.REWARD_SCALE_BINARY;
    const [rewards, greedyRewards] = [await this.verify(sampled, byId, binary), await this.verify(greedy, byId, binary)];
    const trainRewards = await this.verify(trainSampled, new Map(trainPool.map((p) => [p.id, p])), binary);
    const byLevel = (level: number) => mean(sampled.flatMap((s, i) => (byId.get(s.promptId)!.level === level ? [rewards[i]!] : [])));
    const record: EvalRecord = {
      runId: this.runId,
      step,
      policyVersion: Number(status.policyVersion),
      // Evaluations follow the step they are named after.
      cumulativeRollouts: step === 0 ? 0 : (this.lastStep?.cumulativeRollouts ?? 0),
      elapsedSeconds: this.elapsed(),
      prompts: evalSet.length,
      samplesPerPrompt: c.task.eval_samples,
      accuracy: mean(rewards),
      greedyAccuracy: mean(greedyRewards),
      trainPoolAccuracy: mean(trainRewards),
      accuracyByLevel: [1, 2, 3, 4, 5].map(byLevel),
      completedAtUnixMs: Date.now(),
    };
    await this.deps.store.recordEval(record);
    this.deps.progress.evaluation(record);
    return record;
  }
}
