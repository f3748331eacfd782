// Reference statistics in MongoDB.
//
// Collection `reference_statistics`: one document per (referencePolicyId,
// promptId), unique. Each record is one atomic single-document update that
// $inc's the counters and $push'es the batch id, guarded by
// `appliedBatches: {$ne: batchId}`. Concurrent writers therefore never lose an
// update, and a retried batch never counts twice, without transactions (which
// FerretDB v1 lacks).
//
// Collection `reference_lineages`: one document per lineage holding the active
// reference policy and the history of activations; superseded references keep
// their statistics.
import type { Collection, Db } from "mongodb";
import { isDuplicateKey, withDatabase } from "../../../../shared/mongo";
import type { RecordResult, ReferenceStatistics, ReferenceStore, ReferenceTally } from "../domain/reference";

interface StatisticsDoc {
  referencePolicyId: string;
  promptId: string;
  rollouts: number;
  correct: number;
  passSum: number;
  appliedBatches: string[];
  createdAt: Date;
  updatedAt: Date;
}

interface LineageDoc {
  _id: string;
  activeReferencePolicyId: string;
  activatedAt: Date;
  history: Array<{ referencePolicyId: string; activatedAt: Date }>;
}

/** Concurrent single-document updates in flight per record call. */
const WRITE_CONCURRENCY = 16;

export class MongoReferenceStore implements ReferenceStore {
  private readonly statistics: Collection<StatisticsDoc>;
  private readonly lineages: Collection<LineageDoc>;
  private indexes: Promise<void> | undefined;

  constructor(db: Db) {
    this.statistics = db.collection<StatisticsDoc>("reference_statistics");
    this.lineages = db.collection<LineageDoc>("reference_lineages");
  }

  /** Creates the indexes once; a failure (e.g. database down) is retried on the next call. */
  private ensureIndexes(): Promise<void> {
    this.indexes ??= this.statistics
      .createIndex({ referencePolicyId: 1, promptId: 1 }, { unique: true, name: "reference_prompt_unique" })
      .then(() => undefined)
      .catch((err: unknown) => {
        this.indexes = undefined;
        throw err;
      });
    return this.indexes;
  }

  async record(
    referencePolicyId: string,
    batchId: string,
    tallies: ReadonlyArray<{ promptId: string; tally: ReferenceTally }>,
    timeoutMs?: number,
  ): Promise<RecordResult> {
    return withDatabase(async () => {
      await this.ensureIndexes();
      const result: RecordResult = { applied: 0, alreadyApplied: 0 };
      let next = 0;
      const worker = async () => {
        while (next < tallies.length) {
          const item = tallies[next++]!;
          if (await this.apply(referencePolicyId, batchId, item.promptId, item.tally, timeoutMs)) result.applied++;
          else result.alreadyApplied++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, tallies.length) }, worker));
      return result;
    });
  }

  /** Adds one prompt's tally unless this batch already did; true when it was added now. */
  private async apply(referencePolicyId: string, batchId: string, promptId: string, tally: ReferenceTally, timeoutMs?: number): Promise<boolean> {
    const now = new Date();
    const filter = { referencePolicyId, promptId, appliedBatches: { $ne: batchId } };
    const update = {
      $inc: { rollouts: tally.rollouts, correct: tally.correct, passSum: tally.passSum },
      $push: { appliedBatches: batchId },
      $set: { updatedAt: now },
      $setOnInsert: { createdAt: now },
    };
    try {
      const res = await this.statistics.updateOne(filter, update, { upsert: true, timeoutMS: timeoutMs });
      return res.matchedCount + res.upsertedCount > 0;
    } catch (err) {
      // The upsert collided with an existing document: either this batch is
      // already in it, or another writer created it a moment ago. Update it.
      if (!isDuplicateKey(err)) throw err;
      const res = await this.statistics.updateOne(filter, update, { timeoutMS: timeoutMs });
      return res.matchedCount > 0;
    }
  }

  async get(referencePolicyId: string, promptIds: readonly string[], timeoutMs?: number): Promise<Map<string, ReferenceStatistics>> {
    return withDatabase(async () => {
      const docs = await this.statistics
        .find(
          { referencePolicyId, promptId: { $in: [...promptIds] } },
          { projection: { _id: 0, promptId: 1, rollouts: 1, correct: 1, passSum: 1 }, timeoutMS: timeoutMs },
        )
        .toArray();
      return new Map(
        docs.map((d) => [d.promptId, { promptId: d.promptId, rollouts: d.rollouts, correct: d.correct, passSum: d.passSum }]),
      );
    });
  }

  async activate(lineage: string, referencePolicyId: string, timeoutMs?: number): Promise<string> {
    return withDatabase(async () => {
      const now = new Date();
      try {
        const before = await this.lineages.findOneAndUpdate(
          { _id: lineage, activeReferencePolicyId: { $ne: referencePolicyId } },
          {
            $set: { activeReferencePolicyId: referencePolicyId, activatedAt: now },
            $push: { history: { referencePolicyId, activatedAt: now } },
          },
          { upsert: true, returnDocument: "before", timeoutMS: timeoutMs },
        );
        return before?.activeReferencePolicyId ?? "";
      } catch (err) {
        // Already the active one: nothing changes; report what it superseded.
        if (!isDuplicateKey(err)) throw err;
        const doc = await this.lineages.findOne({ _id: lineage }, { timeoutMS: timeoutMs });
        const history = doc?.history ?? [];
        return history.length >= 2 ? history[history.length - 2]!.referencePolicyId : "";
      }
    });
  }

  async active(lineage: string, timeoutMs?: number): Promise<string | undefined> {
    return withDatabase(async () => {
      const doc = await this.lineages.findOne({ _id: lineage }, { timeoutMS: timeoutMs });
      return doc?.activeReferencePolicyId;
    });
  }
}
