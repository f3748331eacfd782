// The replay store in MongoDB (or FerretDB v1), insert-only for everything
// that must be exactly-once, and read by _id wherever possible.
//
// Collections:
//   replay_runs      {_id: runId, capacity, watermark, createdAt}    small; one writer per run
//   replay_parts     {_id: "<manifest id> <nonce> <i>", columns...}  the trajectories, ≤ 8 MiB each
//   replay_manifests {_id: "<run> <step> <start index>", ...}        small; the commit record of an append
//   replay_resets    {_id: "<run> <reset id>", epoch, ...}           small; one per Flush
//   replay_samples   {_id: "<run> <epoch> <k>", seqs, headSeq}       one per Sample call, k dense
//
// Why this shape: FerretDB v1 (SQLite) serves only `_id` equality from an
// index; every other filter, sort or `_id` range scans and decodes the whole
// collection (measured: ~0.35 ms per trajectory-sized document, so 20 s to
// reload 5,120 trajectories sorted by seq out of 10,240; 3.6 s for an `_id`
// range), while one 1.5 MB document is written in ~70 ms and read in ~90 ms by
// _id. So trajectories are written a whole append at a time into part
// documents, the small manifest that makes the append visible is inserted last
// under the append's idempotency key (a duplicate key = already committed), and
// loading a run scans only the small manifest and reset collections, then reads
// the parts it needs by _id.
import { randomUUID } from "node:crypto";
import type { Binary, Collection, Db, WriteConcernSettings } from "mongodb";
import { isDuplicateKey, withDatabase } from "../../../../shared/mongo";
import type { InsertOutcome, ReplayStore } from "../domain/store";
import { resetDocId, sampleDocId, type Manifest, type ResetDoc, type RunDoc, type SampleDoc, type Trajectory } from "../domain/types";
import { decodeColumns, encodeColumns, packSeqs, splitParts, unpackSeqs, type PartColumns } from "./codec";

interface RunRecord {
  _id: string;
  capacity: number;
  watermark: number;
  createdAt: number;
}
interface PartRecord extends PartColumns {
  _id: string;
  runId: string;
  manifestId: string;
}
/** A manifest as stored: its id is the document id. */
type ManifestRecord = Omit<Manifest, "id"> & { _id: string };
type ResetRecord = ResetDoc & { _id: string };
interface SampleRecord {
  _id: string;
  runId: string;
  epoch: number;
  k: number;
  headSeq: number;
  seqs: Binary;
}

/** Parts of one append read or written concurrently. */
const PART_CONCURRENCY = 4;

async function insertOnce<T extends { _id: string }>(col: Collection<T>, doc: T, writeConcern: WriteConcernSettings): Promise<InsertOutcome> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await col.insertOne(doc as any, { writeConcern });
    return "inserted";
  } catch (err) {
    if (isDuplicateKey(err)) return "duplicate";
    throw err;
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const toManifest = (r: ManifestRecord): Manifest => ({
  id: r._id,
  runId: r.runId,
  step: r.step,
  startIndex: r.startIndex,
  count: r.count,
  firstSeq: r.firstSeq,
  epoch: r.epoch,
  insertedAt: r.insertedAt,
  parts: r.parts,
});

export class MongoReplayStore implements ReplayStore {
  private readonly runs: Collection<RunRecord>;
  private readonly parts: Collection<PartRecord>;
  private readonly manifests: Collection<ManifestRecord>;
  private readonly resets: Collection<ResetRecord>;
  private readonly samples: Collection<SampleRecord>;
  private readonly wc: WriteConcernSettings;

  /** writeConcern "majority" (default) or a number of nodes; journaled either way. */
  constructor(db: Db, options: { writeConcern?: "majority" | number } = {}) {
    this.runs = db.collection("replay_runs");
    this.parts = db.collection("replay_parts");
    this.manifests = db.collection("replay_manifests");
    this.resets = db.collection("replay_resets");
    this.samples = db.collection("replay_samples");
    this.wc = { w: options.writeConcern ?? "majority", journal: true };
  }

  getRun(runId: string): Promise<RunDoc | undefined> {
    return withDatabase(async () => {
      const r = await this.runs.findOne({ _id: runId });
      return r ? { runId: r._id, capacity: r.capacity, watermark: r.watermark, createdAt: r.createdAt } : undefined;
    });
  }

  insertRun(doc: RunDoc): Promise<InsertOutcome> {
    return withDatabase(() =>
      insertOnce(this.runs, { _id: doc.runId, capacity: doc.capacity, watermark: doc.watermark, createdAt: doc.createdAt }, this.wc),
    );
  }

  updateRun(runId: string, capacity: number, watermark: number): Promise<void> {
    return withDatabase(async () => {
      await this.runs.updateOne({ _id: runId }, { $set: { capacity, watermark } }, { writeConcern: this.wc });
    });
  }

  listRuns(): Promise<RunDoc[]> {
    return withDatabase(async () =>
      (await this.runs.find({}).toArray())
        .map((r) => ({ runId: r._id, capacity: r.capacity, watermark: r.watermark, createdAt: r.createdAt }))
        .sort((a, b) => (a.runId < b.runId ? -1 : 1)),
    );
  }

  listManifests(runId: string): Promise<Manifest[]> {
    return withDatabase(async () => (await this.manifests.find({ runId }).toArray()).map(toManifest).sort((a, b) => a.firstSeq - b.firstSeq));
  }

  listResets(runId: string): Promise<ResetDoc[]> {
    return withDatabase(async () =>
      (await this.resets.find({ runId }).toArray())
        .map((r) => ({ runId: r.runId, resetId: r.resetId, epoch: r.epoch, at: r.at }))
        .sort((a, b) => a.epoch - b.epoch),
    );
  }

  writeParts(runId: string, manifestId: string, trajectories: readonly Trajectory[]): Promise<string[]> {
    return withDatabase(async () => {
      // A fresh nonce per attempt: a retry never collides with (or reuses) the
      // parts of an attempt that failed; only the manifest makes parts visible.
      const nonce = randomUUID().slice(0, 8);
      const chunks = splitParts(trajectories);
      const ids = chunks.map((_, i) => `${manifestId} ${nonce} ${i}`);
      await mapLimit(chunks, PART_CONCURRENCY, (chunk, i) =>
        this.parts.insertOne({ _id: ids[i]!, runId, manifestId, ...encodeColumns(chunk) }, { writeConcern: this.wc }),
      );
      return ids;
    });
  }

  insertManifest(m: Manifest): Promise<InsertOutcome> {
    return withDatabase(() =>
      insertOnce(
        this.manifests,
        {
          _id: m.id,
          runId: m.runId,
          step: m.step,
          startIndex: m.startIndex,
          count: m.count,
          firstSeq: m.firstSeq,
          epoch: m.epoch,
          insertedAt: m.insertedAt,
          parts: m.parts,
        },
        this.wc,
      ),
    );
  }

  getManifest(id: string): Promise<Manifest | undefined> {
    return withDatabase(async () => {
      const r = await this.manifests.findOne({ _id: id });
      return r ? toManifest(r) : undefined;
    });
  }

  readParts(partIds: readonly string[]): Promise<Trajectory[]> {
    return withDatabase(async () => {
      const chunks = await mapLimit(partIds, PART_CONCURRENCY, async (id) => {
        const r = await this.parts.findOne({ _id: id });
        if (!r) throw new Error(`replay part ${id} is missing`);
        return decodeColumns(r);
      });
      return chunks.flat();
    });
  }

  insertReset(doc: ResetDoc): Promise<InsertOutcome> {
    return withDatabase(() => insertOnce(this.resets, { _id: resetDocId(doc.runId, doc.resetId), ...doc }, this.wc));
  }

  getReset(runId: string, resetId: string): Promise<ResetDoc | undefined> {
    return withDatabase(async () => {
      const r = await this.resets.findOne({ _id: resetDocId(runId, resetId) });
      return r ? { runId: r.runId, resetId: r.resetId, epoch: r.epoch, at: r.at } : undefined;
    });
  }

  insertSample(doc: SampleDoc): Promise<InsertOutcome> {
    return withDatabase(() =>
      insertOnce(
        this.samples,
        { _id: sampleDocId(doc.runId, doc.epoch, doc.k), runId: doc.runId, epoch: doc.epoch, k: doc.k, headSeq: doc.headSeq, seqs: packSeqs(doc.seqs) },
        this.wc,
      ),
    );
  }

  getSample(runId: string, epoch: number, k: number): Promise<SampleDoc | undefined> {
    return withDatabase(async () => {
      const r = await this.samples.findOne({ _id: sampleDocId(runId, epoch, k) });
      return r ? { runId: r.runId, epoch: r.epoch, k: r.k, headSeq: r.headSeq, seqs: unpackSeqs(r.seqs) } : undefined;
    });
  }
}
