// The built-in task's prompts for a run: a training pool and a held-out
// evaluation set (disjoint by construction: the task splits prompts by a hash
// of their text), and the deterministic batch of every step, so that a resumed
// run draws exactly the prompts it would have drawn.
import { generateProblems, type ArithProblem } from "../../../../shared/models/arith-task";
import { fnv1a32, mulberry32 } from "../../../../shared/random";

export interface TaskPrompt {
  id: string;
  text: string;
  /** The gold answer, as the verifier reads it. */
  gold: string;
  level: number;
}

const toPrompt = (prefix: string) => (p: ArithProblem, i: number): TaskPrompt => ({ id: `${prefix}-${i}`, text: p.prompt, gold: String(p.answer), level: p.level });

export interface TaskPrompts {
  train: TaskPrompt[];
  eval: TaskPrompt[];
}

export function taskPrompts(seed: number, trainPrompts: number, evalPrompts: number, levels: readonly number[]): TaskPrompts {
  return {
    train: generateProblems(seed, trainPrompts, "train", levels).map(toPrompt("train")),
    // A fixed evaluation set whatever the run's seed, so that runs compare on the same prompts.
    eval: generateProblems(20_261_122, evalPrompts, "test", levels).map(toPrompt("eval")),
  };
}

/** A 32-bit seed for one purpose of one step ("generate", "extra/2", …). */
export function stepSeed(seed: number, step: number, purpose: string): number {
  return fnv1a32(`${seed}:${step}:${purpose}`);
}

/** `count` distinct pool indices for a step (the `draw`-th batch of the step: DAPO draws several). */
export function drawBatch(poolSize: number, count: number, seed: number, step: number, draw = 0): number[] {
  const next = mulberry32(stepSeed(seed, step, `batch/${draw}`));
  const n = Math.min(count, poolSize);
  const chosen = new Map<number, number>();
  const out: number[] = [];
  // Partial Fisher–Yates over a virtual array: O(count) whatever the pool size.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(next() * (poolSize - i));
    const vi = chosen.get(i) ?? i;
    const vj = chosen.get(j) ?? j;
    chosen.set(j, vi);
    out.push(vj);
  }
  return out;
}
