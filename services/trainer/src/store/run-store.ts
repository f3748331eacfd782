// Training runs in MongoDB: the run document, one insert-only document per
// completed step and per evaluation (deterministic ids, so a repeated write
// is a no-op), and the pending step — what a step has done so far, written
// before each learner update so that a resumed run finishes that step instead
// of losing or repeating it.
import type { Collection, Db } from "mongodb";
import { isDuplicateKey } from "../../../../shared/mongo";
import type { EvalRecord, RunRecord, StepRecord } from "../domain/records";

export interface StoredRun extends RunRecord {
  /** configFingerprint() of the run's configuration. */
  fingerprint: string;
  /** PVPO: the active reference policy and the steps at which statistics were gathered. */
  referencePolicyId?: string;
  /** ReVal: the policy version pinned as the reference, and the replay reset id that goes with it. */
  revalReferenceVersion?: number;
  revalResetId?: string;
}

/** A step in progress: its controller-side metrics and the learner updates sent so far, with their results. */
export interface PendingStep {
  runId: string;
  step: number;
  partial: Omit<StepRecord, "policyVersion" | "loss" | "clipFraction" | "approxKl" | "entropy" | "gradNorm" | "residualAbsMean" | "replayedFraction" | "meanStaleness" | "updates" | "stepSeconds" | "elapsedSeconds" | "completedAtUnixMs">;
  /** StepRequest.toJSON() of each update, in order. */
  requests: unknown[];
  /** StepResponse.toJSON() of the updates that returned. */
  responses: unknown[];
  /** V0.5: observations to add to the value context once the step is done. */
  observations?: Array<{ promptId: string; text: string; rewards: number[] }>;
  samplingPolicyVersion: number;
}

type WithId<T> = T & { _id: string };

const pad = (n: number) => String(n).padStart(9, "0");

export class RunStore {
  private readonly runs: Collection<WithId<StoredRun>>;
  private readonly steps: Collection<WithId<StepRecord>>;
  private readonly evals: Collection<WithId<EvalRecord>>;
  private readonly pending: Collection<WithId<PendingStep>>;

  constructor(db: Db) {
    this.runs = db.collection("train_runs");
    this.steps = db.collection("train_steps");
    this.evals = db.collection("train_evals");
    this.pending = db.collection("train_pending");
  }

  async getRun(runId: string): Promise<StoredRun | null> {
    const doc = await this.runs.findOne({ _id: runId });
    return doc && strip(doc);
  }

  async listRuns(): Promise<StoredRun[]> {
    return (await this.runs.find({}).sort({ createdAtUnixMs: 1 }).toArray()).map(strip);
  }

  /** Creates the run; resolves with the stored one when it exists already. */
  async createRun(run: StoredRun): Promise<StoredRun> {
    try {
      await this.runs.insertOne({ _id: run.runId, ...run });
      return run;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return (await this.getRun(run.runId))!;
    }
  }

  /** One controller writes a run at a time, so a plain $set is safe. */
  async updateRun(runId: string, patch: Partial<StoredRun>): Promise<void> {
    await this.runs.updateOne({ _id: runId }, { $set: { ...patch, updatedAtUnixMs: Date.now() } });
  }

  async recordStep(record: StepRecord): Promise<void> {
    await insertOnce(this.steps, { _id: `${record.runId}/${pad(record.step)}`, ...record });
  }

  async recordEval(record: EvalRecord): Promise<void> {
    await insertOnce(this.evals, { _id: `${record.runId}/${pad(record.step)}`, ...record });
  }

  async stepsOf(runId: string): Promise<StepRecord[]> {
    return (await this.steps.find({ runId }).toArray()).map(strip).sort((a, b) => a.step - b.step);
  }

  async lastStep(runId: string): Promise<StepRecord | null> {
    const [doc] = await this.steps.find({ runId }).sort({ step: -1 }).limit(1).toArray();
    return doc ? strip(doc) : null;
  }

  async evalsOf(runId: string): Promise<EvalRecord[]> {
    return (await this.evals.find({ runId }).toArray()).map(strip).sort((a, b) => a.step - b.step);
  }

  async hasEval(runId: string, step: number): Promise<boolean> {
    return (await this.evals.countDocuments({ _id: `${runId}/${pad(step)}` })) > 0;
  }

  async getPending(runId: string, step: number): Promise<PendingStep | null> {
    const doc = await this.pending.findOne({ _id: `${runId}/${pad(step)}` });
    return doc && strip(doc);
  }

  /** Replaces the pending step (single writer: the run's controller). */
  async putPending(p: PendingStep): Promise<void> {
    await this.pending.replaceOne({ _id: `${p.runId}/${pad(p.step)}` }, p, { upsert: true });
  }

  async clearPending(runId: string, step: number): Promise<void> {
    await this.pending.deleteOne({ _id: `${runId}/${pad(step)}` });
  }
}

function strip<T>(doc: WithId<T>): T {
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

async function insertOnce<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<void> {
  try {
    await collection.insertOne(doc as Parameters<Collection<T>["insertOne"]>[0]);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}
