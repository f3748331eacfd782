// Checkpoints in MongoDB GridFS (bucket `checkpoints`): one file per
// checkpoint holding params, AdamW m and v (float32, in that order), with the
// run id, step, AdamW step counter, the last step's result and a sha256 in its
// metadata. A checkpoint becomes visible only once all its chunks are written.
//
// Retention: after a save, the run keeps its newest `keep` checkpoints (0: all).
// Besides the disk, this bounds resume time: FerretDB v1 does not use the
// chunks' {files_id, n} index, so reading one checkpoint scans every stored chunk
// (~40 s per checkpoint with 1.6 GB stored).
import { createHash } from "node:crypto";
import { GridFSBucket, type Db } from "mongodb";
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

export interface CheckpointStoreOptions {
  /** Checkpoints kept per run, newest first; 0 keeps every one. */
  keep: number;
  /** Called when older checkpoints could not be deleted (the new one is saved; the next save retries). */
  onPruneError: (err: unknown) => void;
}

export class CheckpointStore {
  private readonly bucket: GridFSBucket;

  constructor(
    db: Db,
    private readonly options: CheckpointStoreOptions = { keep: 0, onPruneError: () => undefined },
  ) {
    this.bucket = new GridFSBucket(db, { bucketName: "checkpoints" });
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
      await new Promise<void>((resolve, reject) => {
        const upload = this.bucket.openUploadStream(`${runId}/step-${meta.step}`, { metadata: meta });
        upload.once("error", reject);
        upload.once("finish", () => resolve());
        upload.end(bytes);
      });
      await this.prune(runId).catch(this.options.onPruneError);
      return meta;
    });
  }

  /** Deletes the run's checkpoints beyond the newest `keep` (files first, so a half-deleted one is never read). */
  private async prune(runId: string): Promise<void> {
    if (this.options.keep === 0) return;
    const old = await this.bucket
      .find({ "metadata.runId": runId }, { sort: { "metadata.step": -1, uploadDate: -1 }, skip: this.options.keep, projection: { _id: 1 } })
      .toArray();
    for (const file of old) await this.bucket.delete(file._id);
  }

  /** The run's newest checkpoint, verified against its sha256; undefined when it has none. */
  async latest(runId: string): Promise<{ meta: CheckpointMeta; state: TrainState } | undefined> {
    return withDatabase(async () => {
      const [file] = await this.bucket.find({ "metadata.runId": runId }, { sort: { "metadata.step": -1, uploadDate: -1 }, limit: 1 }).toArray();
      if (!file) return undefined;
      const meta = file.metadata as CheckpointMeta;
      const chunks: Buffer[] = [];
      for await (const chunk of this.bucket.openDownloadStream(file._id)) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      const digest = createHash("sha256").update(bytes).digest("hex");
      if (digest !== meta.sha256) throw new Error(`checkpoint ${file.filename} is corrupt: sha256 ${digest}, expected ${meta.sha256}`);
      const n = meta.numParameters;
      const all = new Float32Array(3 * n);
      Buffer.from(all.buffer).set(bytes);
      return {
        meta,
        state: {
          step: BigInt(meta.step),
          params: all.slice(0, n),
          adamM: all.slice(n, 2 * n),
          adamV: all.slice(2 * n),
          adamStep: meta.adamStep,
        },
      };
    });
  }
}
