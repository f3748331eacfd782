// Reference statistics in MongoDB, insert-only.
//
// Collection `reference_rewards` is a ledger: one document per
// (referencePolicyId, promptId, batchId) with that batch's tally, under a
// deterministic _id. Recording is a plain insert, so a retried batch hits the
// unique _id and is not counted again, and concurrent writers never lose an
// update. Statistics are the sum of a prompt's ledger entries, read through an
// index on (referencePolicyId, promptId).
//
// Why not one counter document per prompt with $inc: FerretDB v1 (the local
// database) applies updates as unisolated read-modify-writes. Measured here: 50
// concurrent {$inc: {n: 1}} on one document leave n = 11, and a guarded
// update ({batch: {$ne: b}}) applied the same batch 4 times out of 8. Inserts
// against a unique key are exact on both FerretDB and MongoDB.
//
// Collection `reference_activations`: one document per activation of a
// reference policy in a lineage; the latest is the active one, the earlier ones
// are superseded but kept, and so are their statistics.
//
// Collection `reference_policies`: one document per reference policy that has
// recorded rewards (_id = its id, inserted before its first ledger entry), so
// activating a policy that never recorded anything is refused by an _id lookup
// (FerretDB v1 indexes nothing else).
import { FailedPreconditionError } from "../../../../shared/errors";
import type { Collection, Db } from "mongodb";
import { isDuplicateKey, withDatabase } from "../../../../shared/mongo";
import type { RecordResult, ReferenceStatistics, ReferenceStore, ReferenceTally } from "../domain/reference";

interface LedgerDoc extends ReferenceTally {
  _id: string;
  referencePolicyId: string;
  promptId: string;
  batchId: string;
  recordedAt: Date;
}

interface ActivationDoc {
  lineage: string;
  referencePolicyId: string;
  activatedAt: Date;
}

/** Concurrent inserts in flight per record call. */
const WRITE_CONCURRENCY = 16;

/** Ids never contain a space (see shared/validation ID_PATTERN), so it separates the parts unambiguously. */
const ledgerId = (referencePolicyId: string, promptId: string, batchId: string) => `${referencePolicyId} ${promptId} ${batchId}`;

export class MongoReferenceStore implements ReferenceStore {
  private readonly ledger: Collection<LedgerDoc>;
  private readonly activations: Collection<ActivationDoc>;
  private readonly policies: Collection<{ _id: string; firstRecordedAt: Date }>;
  private indexes: Promise<void> | undefined;

  constructor(db: Db) {
    this.ledger = db.collection<LedgerDoc>("reference_rewards");
    this.activations = db.collection<ActivationDoc>("reference_activations");
    this.policies = db.collection("reference_policies");
  }

  /** Creates the indexes once; a failure (e.g. database down) is retried on the next call. */
  private ensureIndexes(): Promise<void> {
    this.indexes ??= Promise.all([
      this.ledger.createIndex({ referencePolicyId: 1, promptId: 1 }, { name: "reference_prompt" }),
      this.activations.createIndex({ lineage: 1, activatedAt: -1 }, { name: "lineage_latest" }),
    ])
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
      const recordedAt = new Date();
      try {
        await this.policies.insertOne({ _id: referencePolicyId, firstRecordedAt: recordedAt }, { timeoutMS: timeoutMs });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      let next = 0;
      const worker = async () => {
        while (next < tallies.length) {
          const { promptId, tally } = tallies[next++]!;
          try {
            await this.ledger.insertOne(
              { _id: ledgerId(referencePolicyId, promptId, batchId), referencePolicyId, promptId, batchId, recordedAt, ...tally },
              { timeoutMS: timeoutMs },
            );
            result.applied++;
          } catch (err) {
            // First write of a (reference, prompt, batch) wins; a retry finds it there.
            if (!isDuplicateKey(err)) throw err;
            result.alreadyApplied++;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, tallies.length) }, worker));
      return result;
    });
  }

  async get(referencePolicyId: string, promptIds: readonly string[], timeoutMs?: number): Promise<Map<string, ReferenceStatistics>> {
    return withDatabase(async () => {
      const docs = await this.ledger
        .find(
          { referencePolicyId, promptId: { $in: [...promptIds] } },
          { projection: { _id: 0, promptId: 1, rollouts: 1, correct: 1, passSum: 1 }, timeoutMS: timeoutMs },
        )
        .toArray();
      const stats = new Map<string, ReferenceStatistics>();
      for (const d of docs) {
        const s = stats.get(d.promptId);
        if (s) {
          s.rollouts += d.rollouts;
          s.correct += d.correct;
          s.passSum += d.passSum;
        } else {
          stats.set(d.promptId, { promptId: d.promptId, rollouts: d.rollouts, correct: d.correct, passSum: d.passSum });
        }
      }
      return stats;
    });
  }

  private latest(lineage: string, limit: number, timeoutMs?: number): Promise<ActivationDoc[]> {
    return this.activations.find({ lineage }, { sort: { activatedAt: -1, _id: -1 }, limit, timeoutMS: timeoutMs }).toArray();
  }

  async activate(lineage: string, referencePolicyId: string, timeoutMs?: number): Promise<string> {
    return withDatabase(async () => {
      await this.ensureIndexes();
      if (!(await this.policies.findOne({ _id: referencePolicyId }, { timeoutMS: timeoutMs }))) {
        throw new FailedPreconditionError(`reference policy ${JSON.stringify(referencePolicyId)} has no recorded rewards: call RecordReferenceRewards first`);
      }
      const [current, previous] = await this.latest(lineage, 2, timeoutMs);
      // Already active: nothing changes; report what it superseded.
      if (current?.referencePolicyId === referencePolicyId) return previous?.referencePolicyId ?? "";
      await this.activations.insertOne({ lineage, referencePolicyId, activatedAt: new Date() }, { timeoutMS: timeoutMs });
      return current?.referencePolicyId ?? "";
    });
  }

  async active(lineage: string, timeoutMs?: number): Promise<string | undefined> {
    return withDatabase(async () => {
      const [current] = await this.latest(lineage, 1, timeoutMs);
      return current?.referencePolicyId;
    });
  }
}
