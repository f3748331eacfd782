// The replay store's data model, independent of gRPC and MongoDB.
import type { Trajectory } from "../../../../shared/gen/valor/replay/v1/replay.pb";

export type { Trajectory };

/** A trajectory in a run's buffer. */
export interface Entry {
  step: number;
  index: number;
  seq: number;
  epoch: number;
  /** Unix ms when its append was acknowledged. */
  insertedAt: number;
  /** Times Sample drew it. */
  reuse: number;
  trajectory: Trajectory;
  /** The trajectory's protobuf encoding, when the service caches it (trajectories never change). */
  encoded?: Uint8Array;
}

/**
 * The commit record of one append: trajectories (step, start_index + i) got
 * sequence numbers first_seq + i. Its id is the append's idempotency key.
 */
export interface Manifest {
  id: string;
  runId: string;
  step: number;
  startIndex: number;
  count: number;
  firstSeq: number;
  epoch: number;
  insertedAt: number;
  /** Documents holding the trajectories, in order. */
  parts: string[];
}

export interface RunDoc {
  runId: string;
  capacity: number;
  /** Trajectories with seq < watermark are evicted, whatever the capacity (set when the capacity changes). */
  watermark: number;
  createdAt: number;
}

export interface ResetDoc {
  runId: string;
  resetId: string;
  epoch: number;
  at: number;
}

/** One acknowledged Sample call: the sequence numbers it drew. */
export interface SampleDoc {
  runId: string;
  epoch: number;
  /** Dense per (run, epoch): 0, 1, 2, ... */
  k: number;
  /** Newest seq in the buffer when it was drawn. */
  headSeq: number;
  seqs: number[];
}

/** Idempotency key of an append; run ids never contain a space. */
export const manifestId = (runId: string, step: number, startIndex: number) => `${runId} ${step} ${startIndex}`;
export const resetDocId = (runId: string, resetId: string) => `${runId} ${resetId}`;
export const sampleDocId = (runId: string, epoch: number, k: number) => `${runId} ${epoch} ${k}`;
