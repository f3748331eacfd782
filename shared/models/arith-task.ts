// The built-in verifiable task: integer arithmetic in five difficulty levels,
// generated from a seed. A prompt's split (train/test) is a hash of its text,
// so every generator agrees and the splits never overlap. Mirrors
// models/valor_model/task.py (checked against its golden file).
import { fnv1a32, mulberry32 } from "../random";

export type Split = "train" | "test";

export interface ArithProblem {
  prompt: string;
  answer: number;
  level: number;
  split: Split;
}

export const LEVELS = [1, 2, 3, 4, 5] as const;

/** About 10% of prompts are test prompts: fnv1a32(prompt) % 10 == 0. */
export function splitOf(prompt: string): Split {
  return fnv1a32(prompt) % 10 === 0 ? "test" : "train";
}

function makeProblem(next: () => number, level: number): [string, number] {
  const randint = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  if (level === 1 || level === 2) {
    const [lo, hi] = level === 1 ? [0, 9] : [10, 99];
    const a = randint(lo, hi);
    const b = randint(lo, hi);
    return next() < 0.5 ? [`${a}+${b}=`, a + b] : [`${a}-${b}=`, a - b];
  }
  if (level === 3) {
    const a = randint(10, 99);
    const b = randint(2, 9);
    return next() < 0.5 ? [`${a}*${b}=`, a * b] : [`${b}*${a}=`, a * b];
  }
  if (level === 4) {
    const a = randint(2, 19);
    const b = randint(2, 19);
    const c = randint(2, 19);
    switch (randint(0, 3)) {
      case 0:
        return [`${a}*${b}+${c}=`, a * b + c];
      case 1:
        return [`${a}*${b}-${c}=`, a * b - c];
      case 2:
        return [`${a}+${b}*${c}=`, a + b * c];
      default:
        return [`${a}-${b}*${c}=`, a - b * c];
    }
  }
  if (level === 5) {
    const a = randint(2, 49);
    const b = randint(2, 49);
    const c = randint(2, 9);
    switch (randint(0, 3)) {
      case 0:
        return [`(${a}+${b})*${c}=`, (a + b) * c];
      case 1:
        return [`(${a}-${b})*${c}=`, (a - b) * c];
      case 2:
        return [`${c}*(${a}+${b})=`, c * (a + b)];
      default:
        return [`${c}*(${a}-${b})=`, c * (a - b)];
    }
  }
  throw new Error(`unknown level ${level}`);
}

/** A deterministic i.i.d. stream of problems of one split ("any" keeps both). */
export function generateProblems(seed: number, count: number, split: Split | "any" = "train", levels: readonly number[] = LEVELS): ArithProblem[] {
  const next = mulberry32(seed);
  const out: ArithProblem[] = [];
  while (out.length < count) {
    const level = levels[Math.floor(next() * levels.length)]!;
    const [prompt, answer] = makeProblem(next, level);
    const s = splitOf(prompt);
    if (split === "any" || s === split) out.push({ prompt, answer, level, split: s });
  }
  return out;
}

/** Exact integer match: the response must be the canonical integer ("-12", not "-012" or "12.0"). */
export function checkAnswer(response: string, answer: number): boolean {
  const r = response.trim();
  return /^-?\d+$/.test(r) && String(Number.parseInt(r, 10)) === r && Number.parseInt(r, 10) === answer;
}
