// Checkpoints in MongoDB: one small document per checkpoint in `checkpoints`
// (run id, step, AdamW step counter, the last step's result, a sha256, where
// its bytes are) and its bytes (params, AdamW m and v: float32, in that order)
// in parts of at most 1 MiB in a collection of its own,
// `checkpoint_parts.<hash of the run id>.<uuid>`. The document is written
// after the parts, so a checkpoint becomes visible only once complete, and
// deleted before they are dropped.
//
// Not GridFS: FerretDB v1 (the local database) answers a query by reading the
// whole collection (it uses no index), so with one GridFS bucket for every
// run, reading one 4 MB checkpoint took 2.5 s and deleting one 3.7 s with
// 75 MB stored, ~40 s to read one with 1.6 GB; even parts in one collection
// per run cost 0.45 s per deletion. Here a read reads only its own parts, and
// deleting a checkpoint drops its collection.
//
// Retention: after a save, the run keeps its newest `keep` checkpoints (0: all)
// and drops every other parts collection of the run, including those of a save
// cut short before its document was written.
import { createHash, randomUUID } from "node:crypto";
import { Binary, type Collection, type Db } from "mongodb";
import { withDatabase } from "../../../../shared/mongo";
import type { TrainState } from "../domain/train-state";

export interface CheckpointMeta {
  runId: string;
  step: number;
  adamStep: number;
  numParameters: number;
  sha256: string;
  savedAt: Date;
  /** The last step's response, so a retried Step after a restart is answered again. */
  lastResult?: unknown;
}

interface CheckpointDoc extends CheckpointMeta {
  _id: string;
  /** The collection of its parts, and their number. */
  collection: string;
  parts: number;
}

interface PartDoc {
  _id: number;
  data: Binary | Uint8Array;
}

/** A stored checkpoint: its metadata, and its bytes (params, AdamW m, AdamW v) on demand, verified against the sha256. */
export interface StoredCheckpoint {
  meta: CheckpointMeta;
  bytes(): Promise<Buffer>;
}

export interface CheckpointStoreOptions {
  /** Checkpoints kept per run, newest first; 0 keeps every one. */
  keep: number;
  /** Called when older checkpoints could not be deleted (the new one is saved; the next save deletes them). */
  onPruneError: (err: unknown) => void;
}

const PART_BYTES = 1 << 20;
const NEWEST_FIRST = { step: -1, savedAt: -1 } as const;

export class CheckpointStore {
  private readonly checkpoints: Collection<CheckpointDoc>;

  constructor(
    private readonly db: Db,
    private readonly options: CheckpointStoreOptions = { keep: 0, onPruneError: () => undefined },
  ) {
    this.checkpoints = db.collection<CheckpointDoc>("checkpoints");
  }

  /** The index behind `latest` and retention on MongoDB (FerretDB v1 accepts it and scans the small documents). */
  async init(): Promise<void> {
    await withDatabase(() => this.checkpoints.createIndex({ runId: 1, ...NEWEST_FIRST }));
  }

  async save(runId: string, state: TrainState, lastResult: unknown): Promise<CheckpointMeta> {
    return withDatabase(async () => {
      const bytes = Buffer.concat([state.params, state.adamM, state.adamV].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
      const meta: CheckpointMeta = {
        runId,
        step: Number(state.step),
        adamStep: state.adamStep,
        numParameters: state.params.length,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        savedAt: new Date(),
        lastResult,
      };
      const uuid = randomUUID();
      const collection = `${partsPrefix(runId)}${uuid}`;
      const parts: PartDoc[] = [];
      for (let start = 0; start < bytes.length; start += PART_BYTES) parts.push({ _id: parts.length, data: bytes.subarray(start, start + PART_BYTES) });
      await this.db.collection<PartDoc>(collection).insertMany(parts);
      await this.checkpoints.insertOne({ _id: `${runId}/step-${meta.step}/${uuid}`, ...meta, collection, parts: parts.length });
      await this.prune(runId).catch(this.options.onPruneError);
      return meta;
    });
  }

  /** The run's newest checkpoint, verified against its sha256; undefined when it has none. */
  async latest(runId: string): Promise<{ meta: CheckpointMeta; state: TrainState } | undefined> {
    return withDatabase(async () => {
      const doc = await this.checkpoints.findOne({ runId }, { sort: NEWEST_FIRST });
      if (!doc) return undefined;
      const bytes = await this.read(doc);
      const n = doc.numParameters;
      const all = new Float32Array(3 * n);
      Buffer.from(all.buffer).set(bytes);
      return {
        meta: metaOf(doc),
        state: { step: BigInt(doc.step), params: all.slice(0, n), adamM: all.slice(n, 2 * n), adamV: all.slice(2 * n), adamStep: doc.adamStep },
      };
    });
  }

  /** The run's checkpoints, by step; of a step saved more than once, the newest. */
  async list(runId: string): Promise<StoredCheckpoint[]> {
    return withDatabase(async () => {
      const docs = await this.checkpoints.find({ runId }, { sort: NEWEST_FIRST }).toArray();
      const byStep = new Map<number, CheckpointDoc>();
      for (const d of docs) if (!byStep.has(d.step)) byStep.set(d.step, d);
      return [...byStep.values()].reverse().map((doc) => ({ meta: metaOf(doc), bytes: () => withDatabase(() => this.read(doc)) }));
    });
  }

  private async read(doc: CheckpointDoc): Promise<Buffer> {
    const parts = new Array<Uint8Array>(doc.parts);
    for (const part of await this.db.collection<PartDoc>(doc.collection).find().toArray()) {
      parts[part._id] = part.data instanceof Binary ? part.data.buffer : part.data;
    }
    const missing = parts.findIndex((p) => p === undefined); // holes included
    if (missing >= 0) throw new Error(`checkpoint ${doc._id} is corrupt: part ${missing} of ${doc.parts} is missing`);
    const bytes = Buffer.concat(parts);
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest !== doc.sha256) throw new Error(`checkpoint ${doc._id} is corrupt: sha256 ${digest}, expected ${doc.sha256}`);
    if (bytes.length !== 12 * doc.numParameters) throw new Error(`checkpoint ${doc._id}: ${bytes.length} bytes, expected 3 × 4 × ${doc.numParameters}`);
    return bytes;
  }

  /**
   * Deletes the run's checkpoints beyond the newest `keep`, the documents first (so a
   * half-deleted one is never read), then drops every parts collection of the run that no
   * document names. One learner owns a run and saves one checkpoint at a time, so no save
   * of the run is in progress here.
   */
  private async prune(runId: string): Promise<void> {
    if (this.options.keep === 0) return;
    const docs = await this.checkpoints.find({ runId }, { sort: NEWEST_FIRST, projection: { _id: 1, collection: 1 } }).toArray();
    const old = docs.slice(this.options.keep);
    if (old.length > 0) await this.checkpoints.deleteMany({ _id: { $in: old.map((d) => d._id) } });
    const kept = new Set(docs.slice(0, this.options.keep).map((d) => d.collection));
    const prefix = partsPrefix(runId);
    for (const { name } of await this.db.listCollections({}, { nameOnly: true }).toArray()) {
      if (name.startsWith(prefix) && !kept.has(name)) await this.db.collection(name).drop();
    }
  }
}

/** The start of the run's parts collections' names (a hash: run ids may hold characters that collection names may not). */
function partsPrefix(runId: string): string {
  return `checkpoint_parts.${createHash("sha256").update(runId).digest("hex").slice(0, 16)}.`;
}

function metaOf(doc: CheckpointDoc): CheckpointMeta {
  const { _id, collection, parts, ...meta } = doc;
  return meta;
}
