// A training run as the report reads it, and the look-ups its table and charts share.
import type { EvalRecord, RunRecord, StepRecord } from "../domain/records";

export interface TrainingRunData {
  run: RunRecord;
  steps: StepRecord[];
  evals: EvalRecord[];
}

export const byStep = <T extends { step: number }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => a.step - b.step);

/** Reference rollouts spent by an evaluation at step: the last step record at or before it (none before step 1). */
export function referenceRolloutsAt(steps: readonly StepRecord[], step: number): number {
  let last: StepRecord | undefined;
  for (const s of steps) if (s.step <= step && (!last || s.step > last.step)) last = s;
  return last?.cumulativeReferenceRollouts ?? 0;
}

/** Labels for legends and tables: run labels come from config files and may repeat, so repeats get their run id. */
export function runNames(runs: readonly TrainingRunData[]): string[] {
  const count = new Map<string, number>();
  for (const { run } of runs) count.set(run.label, (count.get(run.label) ?? 0) + 1);
  return runs.map(({ run }) => (count.get(run.label)! > 1 ? `${run.label} (${run.runId})` : run.label));
}
