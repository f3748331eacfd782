// Value-model context in MongoDB, insert-only: one document per observed batch
// (`value_observations`, _id "<policy> <batch>"), so a retried Observe hits the
// unique id and adds nothing. A policy's context is read once per process
// (FerretDB answers only _id lookups from an index, so reads are kept off the
// hot path) and then kept in step in memory.
import type { Collection, Db } from "mongodb";
import { isDuplicateKey, withDatabase } from "../../../../shared/mongo";
import type { ContextRow, ObservedBatch } from "../domain/support-buffer";

interface BatchDoc {
  _id: string;
  policyId: string;
  batchId: string;
  policyVersion: number;
  observedAt: Date;
  rows: Array<{ promptId: string; text: string; passRate: number }>;
}

export interface ContextStore {
  /** Inserts a batch; false when it was there already. */
  insert(policyId: string, batch: ObservedBatch, timeoutMs?: number): Promise<boolean>;
  /** Every batch of a policy, oldest first. */
  load(policyId: string, timeoutMs?: number): Promise<ObservedBatch[]>;
}

export class MongoContextStore implements ContextStore {
  private readonly batches: Collection<BatchDoc>;

  constructor(db: Db) {
    this.batches = db.collection<BatchDoc>("value_observations");
  }

  async insert(policyId: string, batch: ObservedBatch, timeoutMs?: number): Promise<boolean> {
    return withDatabase(async () => {
      try {
        await this.batches.insertOne(
          {
            _id: `${policyId} ${batch.batchId}`,
            policyId,
            batchId: batch.batchId,
            policyVersion: Number(batch.policyVersion),
            observedAt: new Date(),
            rows: batch.rows.map((r) => ({ promptId: r.promptId, text: r.text, passRate: r.passRate })),
          },
          { timeoutMS: timeoutMs, writeConcern: { w: "majority", journal: true } },
        );
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    });
  }

  async load(policyId: string, timeoutMs?: number): Promise<ObservedBatch[]> {
    return withDatabase(async () => {
      const docs = await this.batches.find({ policyId }, { timeoutMS: timeoutMs }).toArray();
      docs.sort((a, b) => a.observedAt.getTime() - b.observedAt.getTime() || a._id.localeCompare(b._id));
      return docs.map((d) => ({
        batchId: d.batchId,
        policyVersion: BigInt(d.policyVersion),
        rows: d.rows.map((r): ContextRow => ({ ...r, policyVersion: BigInt(d.policyVersion) })),
      }));
    });
  }
}
