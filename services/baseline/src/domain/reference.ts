// Reference-policy statistics for PVPO: per (reference policy, prompt) counts
// of rollouts, fully correct rollouts and summed pass rate, and the group
// sampling class derived from them.
import type { Scale } from "./scale";

export type PromptClass = "drop" | "keep" | "hard";

export interface ReferenceTally {
  rollouts: number;
  /** Rollouts that got the scale's top reward. */
  correct: number;
  /** Sum of the rollouts' pass rates (rewards mapped to [0, 1]). */
  passSum: number;
}

export interface ReferenceStatistics extends ReferenceTally {
  promptId: string;
}

/** PVPO group sampling: always solved → drop, never solved → hard, otherwise keep. */
export function classify(tally: ReferenceTally): PromptClass {
  if (tally.correct === tally.rollouts) return "drop";
  if (tally.correct === 0) return "hard";
  return "keep";
}

export function tallyRewards(rewards: readonly number[], scale: Scale): ReferenceTally {
  let correct = 0;
  let passSum = 0;
  for (const r of rewards) {
    if (r === scale.max) correct++;
    passSum += scale.toPassRate(r);
  }
  return { rollouts: rewards.length, correct, passSum };
}

export interface RecordResult {
  applied: number;
  alreadyApplied: number;
}

/** Where reference statistics live; MongoDB in production, anything in tests. */
export interface ReferenceStore {
  /** Adds each prompt's tally once per (referencePolicyId, batchId, promptId). */
  record(referencePolicyId: string, batchId: string, tallies: ReadonlyArray<{ promptId: string; tally: ReferenceTally }>, timeoutMs?: number): Promise<RecordResult>;
  get(referencePolicyId: string, promptIds: readonly string[], timeoutMs?: number): Promise<Map<string, ReferenceStatistics>>;
  /** Makes referencePolicyId the lineage's active reference; returns the one it superseded ("" if none). */
  activate(lineage: string, referencePolicyId: string, timeoutMs?: number): Promise<string>;
  /** The lineage's active reference policy, or undefined. */
  active(lineage: string, timeoutMs?: number): Promise<string | undefined>;
}
