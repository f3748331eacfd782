// What the replay manager needs from persistent storage. Every read is by
// document id except the three per-run listings (runs, manifests, resets), which
// touch only small documents: FerretDB v1 answers any other query by scanning
// the whole collection (see the README).
import type { Manifest, ResetDoc, RunDoc, SampleDoc, Trajectory } from "./types";

export type InsertOutcome = "inserted" | "duplicate";

export interface ReplayStore {
  getRun(runId: string): Promise<RunDoc | undefined>;
  insertRun(doc: RunDoc): Promise<InsertOutcome>;
  /** Single writer per run: a plain update is safe. */
  updateRun(runId: string, capacity: number, watermark: number): Promise<void>;
  listRuns(): Promise<RunDoc[]>;
  listManifests(runId: string): Promise<Manifest[]>;
  listResets(runId: string): Promise<ResetDoc[]>;
  /** Stores trajectories under fresh document ids (never overwriting); returns the ids in order. */
  writeParts(runId: string, manifestId: string, trajectories: readonly Trajectory[]): Promise<string[]>;
  /** The commit point of an append: unique per (run, step, start index). */
  insertManifest(manifest: Manifest): Promise<InsertOutcome>;
  getManifest(id: string): Promise<Manifest | undefined>;
  readParts(partIds: readonly string[]): Promise<Trajectory[]>;
  insertReset(doc: ResetDoc): Promise<InsertOutcome>;
  getReset(runId: string, resetId: string): Promise<ResetDoc | undefined>;
  insertSample(doc: SampleDoc): Promise<InsertOutcome>;
  getSample(runId: string, epoch: number, k: number): Promise<SampleDoc | undefined>;
}
