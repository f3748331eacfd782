// Status → reward. Binary scale: 1 / 0 / 0; signed: +1 / -1 / -1. Any value can
// be overridden. TIMEOUT gets its own value (default: the unparseable one) and
// keeps its status, so a timeout is never reported as a wrong answer.
import type { Status } from "./verify";

export type ScaleName = "binary" | "signed";

export interface RewardValues {
  correct: number;
  wrong: number;
  unparseable: number;
  timeout: number;
}

export function rewardValues(scale: ScaleName, overrides: Partial<RewardValues> = {}): RewardValues {
  const base = scale === "signed" ? { correct: 1, wrong: -1, unparseable: -1 } : { correct: 1, wrong: 0, unparseable: 0 };
  const unparseable = overrides.unparseable ?? base.unparseable;
  return {
    correct: overrides.correct ?? base.correct,
    wrong: overrides.wrong ?? base.wrong,
    unparseable,
    timeout: overrides.timeout ?? unparseable,
  };
}

export function rewardFor(status: Status, values: RewardValues): number {
  switch (status) {
    case "CORRECT":
      return values.correct;
    case "WRONG":
      return values.wrong;
    case "TIMEOUT":
      return values.timeout;
    case "NO_ANSWER":
    case "UNPARSEABLE":
    case "REJECTED":
      return values.unparseable;
  }
}
