// Filters and statistics over trajectories, evaluated in memory.
import type { FifoBuffer } from "./buffer";
import type { Manifest, Trajectory } from "./types";

export interface TrajectoryFilter {
  minPolicyVersion?: bigint;
  maxPolicyVersion?: bigint;
  promptId?: string;
  groupId?: string;
  minReward?: number;
  maxReward?: number;
  /** Acknowledgement time window, Unix ms, inclusive. */
  insertedAfter?: number;
  insertedBefore?: number;
  minStep?: number;
  maxStep?: number;
}

/** Whether a whole append can hold matches (step and time are per append). */
export function manifestMayMatch(f: TrajectoryFilter, m: Manifest): boolean {
  if (f.minStep !== undefined && m.step < f.minStep) return false;
  if (f.maxStep !== undefined && m.step > f.maxStep) return false;
  if (f.insertedAfter !== undefined && m.insertedAt < f.insertedAfter) return false;
  if (f.insertedBefore !== undefined && m.insertedAt > f.insertedBefore) return false;
  return true;
}

export function matches(f: TrajectoryFilter, step: number, insertedAt: number, t: Trajectory): boolean {
  if (f.minStep !== undefined && step < f.minStep) return false;
  if (f.maxStep !== undefined && step > f.maxStep) return false;
  if (f.insertedAfter !== undefined && insertedAt < f.insertedAfter) return false;
  if (f.insertedBefore !== undefined && insertedAt > f.insertedBefore) return false;
  if (f.minPolicyVersion !== undefined && t.policyVersion < f.minPolicyVersion) return false;
  if (f.maxPolicyVersion !== undefined && t.policyVersion > f.maxPolicyVersion) return false;
  if (f.promptId !== undefined && t.promptId !== f.promptId) return false;
  if (f.groupId !== undefined && t.groupId !== f.groupId) return false;
  if (f.minReward !== undefined && !(t.reward >= f.minReward)) return false;
  if (f.maxReward !== undefined && !(t.reward <= f.maxReward)) return false;
  return true;
}

export interface BufferStats {
  size: number;
  rewardMean: number;
  rewardStd: number;
  rewardMin: number;
  rewardMax: number;
  oldestSeq: number;
  newestSeq: number;
  /** Ascending policy version. */
  versions: Array<{ policyVersion: bigint; trajectories: number }>;
  /** Ascending reuse count. */
  reuseHistogram: Array<{ reuseCount: number; trajectories: number }>;
}

export function bufferStats(buffer: FifoBuffer): BufferStats {
  const versions = new Map<bigint, number>();
  const reuse = new Map<number, number>();
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const e of buffer.entries()) {
    const r = e.trajectory.reward;
    n++;
    // Welford: stable for any n.
    const delta = r - mean;
    mean += delta / n;
    m2 += delta * (r - mean);
    if (r < min) min = r;
    if (r > max) max = r;
    versions.set(e.trajectory.policyVersion, (versions.get(e.trajectory.policyVersion) ?? 0) + 1);
    reuse.set(e.reuse, (reuse.get(e.reuse) ?? 0) + 1);
  }
  return {
    size: n,
    rewardMean: n > 0 ? mean : 0,
    // Population std of the buffer's rewards.
    rewardStd: n > 0 ? Math.sqrt(m2 / n) : 0,
    rewardMin: n > 0 ? min : 0,
    rewardMax: n > 0 ? max : 0,
    oldestSeq: buffer.oldest()?.seq ?? 0,
    newestSeq: buffer.newest()?.seq ?? 0,
    versions: [...versions].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([policyVersion, trajectories]) => ({ policyVersion, trajectories })),
    reuseHistogram: [...reuse].sort((a, b) => a[0] - b[0]).map(([reuseCount, trajectories]) => ({ reuseCount, trajectories })),
  };
}
