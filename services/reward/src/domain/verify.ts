// Verifies one item: extraction, limits, normalisation and equivalence, per
// task kind. Task kinds are registered by name; an unknown name is an error
// listing the valid ones. Pure: the CAS is passed in (absent on the fast path).
import { InvalidArgumentError } from "../../../../shared/errors";
import { compareAnswers, type Cas, type PercentPolicy } from "./equivalence";
import { extractAnswer, extractChoice, lastNumber, type Extraction } from "./extract";
import { normalizeAnswer } from "./normalize";
import { numbersClose, parsePlainNumber, show } from "./numbers";
import { answerSize, parseStructure } from "./structure";

export type Status = "CORRECT" | "WRONG" | "NO_ANSWER" | "UNPARSEABLE" | "TIMEOUT" | "REJECTED";
export const STATUSES: readonly Status[] = ["CORRECT", "WRONG", "NO_ANSWER", "UNPARSEABLE", "TIMEOUT", "REJECTED"];

export interface VerifyInput {
  id: string;
  response: string;
  gold: string;
  taskKind: string;
  relativeTolerance?: number;
}

export interface Limits {
  /** Longest response accepted, in characters. */
  maxResponseChars: number;
  /** Longest extracted answer or gold, in characters. */
  maxAnswerChars: number;
  /** Deepest brace/bracket nesting in an answer. */
  maxNesting: number;
  /** Most structural parts (tuple/set/matrix elements) in an answer. */
  maxParts: number;
}

export interface VerifySettings {
  strict: boolean;
  relativeTolerance: number;
  percentPolicy: PercentPolicy;
  limits: Limits;
}

export interface Outcome {
  status: Status;
  extracted: string;
  normalizedGold: string;
  normalizedPrediction: string;
  reason: string;
  rule: string;
  extraction: string;
}

export interface TaskKind {
  name: string;
  description: string;
  verify(input: VerifyInput, settings: VerifySettings, cas: Cas | undefined): Outcome;
}

const outcome = (status: Status, reason: string, rest: Partial<Outcome> = {}): Outcome => ({
  status,
  reason,
  extracted: "",
  normalizedGold: "",
  normalizedPrediction: "",
  rule: "",
  extraction: "",
  ...rest,
});

function nesting(s: string): number {
  let depth = 0;
  let max = 0;
  for (const c of s) {
    if (c === "{" || c === "(" || c === "[") max = Math.max(max, ++depth);
    else if (c === "}" || c === ")" || c === "]") depth--;
  }
  return max;
}

/** A REJECTED outcome when `text` breaks a size limit. */
function checkAnswerLimits(text: string, what: string, limits: Limits): Outcome | undefined {
  if (text.length > limits.maxAnswerChars) {
    return outcome("REJECTED", `${what} has ${text.length} characters; the limit is ${limits.maxAnswerChars}`, { rule: "limit" });
  }
  const depth = nesting(text);
  if (depth > limits.maxNesting) {
    return outcome("REJECTED", `${what} nests ${depth} deep; the limit is ${limits.maxNesting}`, { rule: "limit" });
  }
  return undefined;
}

/** Gold answers may be a GSM8K solution ending in `#### 42`; only the final answer counts. */
export function goldAnswer(gold: string): string {
  const at = gold.lastIndexOf("####");
  if (at >= 0) return gold.slice(at + 4).trim();
  // A gold given as a worked solution: its boxed answer.
  if (/\\(?:boxed|fbox)(?![A-Za-z])/.test(gold)) {
    const boxed = extractAnswer(gold, { strict: true, maxAnswerChars: Number.MAX_SAFE_INTEGER });
    if (boxed?.method === "boxed") return boxed.answer;
  }
  return gold.trim();
}

function verifyMath(input: VerifyInput, settings: VerifySettings, cas: Cas | undefined): Outcome {
  const gold = goldAnswer(input.gold);
  const tooBig = checkAnswerLimits(gold, "gold", settings.limits);
  if (tooBig) return tooBig;
  const extraction = extractAnswer(input.response, { strict: settings.strict, maxAnswerChars: settings.limits.maxAnswerChars });
  if (!extraction) return outcome("NO_ANSWER", settings.strict ? "no boxed, ####, 'answer is' or $…$ answer (strict mode)" : "no answer found in the response");
  const base = { extracted: extraction.answer.slice(0, 1024), extraction: extraction.method };
  const predTooBig = checkAnswerLimits(extraction.answer, "extracted answer", settings.limits);
  if (predTooBig) return { ...predTooBig, ...base };
  const g = normalizeAnswer(gold);
  const p = normalizeAnswer(extraction.answer);
  const rest = { ...base, normalizedGold: g.latex, normalizedPrediction: p.latex };
  if (p.latex === "") return outcome("NO_ANSWER", "the extracted answer is empty after normalisation", rest);
  for (const [side, n] of [["gold", g], ["prediction", p]] as const) {
    const parts = answerSize(parseStructure(n.latex));
    if (parts > settings.limits.maxParts) {
      return outcome("REJECTED", `${side} has ${parts} parts; the limit is ${settings.limits.maxParts}`, { ...rest, rule: "limit" });
    }
  }
  const c = compareAnswers(g, p, { relativeTolerance: input.relativeTolerance ?? settings.relativeTolerance, percentPolicy: settings.percentPolicy }, cas);
  if (c.unparseable) return outcome("UNPARSEABLE", c.reason, { ...rest, rule: c.rule });
  return outcome(c.equal ? "CORRECT" : "WRONG", c.reason, { ...rest, rule: c.rule });
}

function verifyNumeric(input: VerifyInput, settings: VerifySettings): Outcome {
  const goldText = normalizeAnswer(goldAnswer(input.gold));
  const gold = parsePlainNumber(goldText.latex);
  if (gold === undefined) return outcome("UNPARSEABLE", `gold ${JSON.stringify(goldText.latex.slice(0, 80))} is not a number`, { rule: "parse" });
  const extraction: Extraction | undefined =
    extractAnswer(input.response, { strict: settings.strict, maxAnswerChars: settings.limits.maxAnswerChars }) ??
    undefined;
  if (!extraction) return outcome("NO_ANSWER", "no number found in the response");
  const p = normalizeAnswer(extraction.answer);
  let value = parsePlainNumber(p.latex);
  // "the answer is 42 apples" → the number inside it.
  if (value === undefined) {
    const n = lastNumber(p.latex);
    value = n === undefined ? undefined : parsePlainNumber(normalizeAnswer(n).latex);
  }
  const rest = { extracted: extraction.answer.slice(0, 1024), extraction: extraction.method, normalizedGold: show(gold), normalizedPrediction: p.latex };
  if (value === undefined) return outcome("UNPARSEABLE", `${JSON.stringify(p.latex.slice(0, 80))} is not a number`, { ...rest, rule: "parse" });
  const tol = input.relativeTolerance ?? settings.relativeTolerance;
  const equal = numbersClose(value, gold, tol);
  return outcome(equal ? "CORRECT" : "WRONG", `${show(value)} ${equal ? "=" : "!="} ${show(gold)} (rel tol ${tol})`, {
    ...rest,
    normalizedPrediction: show(value),
    rule: "numeric",
  });
}

function verifyChoice(input: VerifyInput): Outcome {
  const gold = goldAnswer(input.gold).replace(/\\text\{([^{}]*)\}/g, "$1").replace(/[\s()$]/g, "").toUpperCase();
  if (!/^[A-Z]$/.test(gold)) return outcome("UNPARSEABLE", `gold ${JSON.stringify(gold.slice(0, 20))} is not a single letter`, { rule: "parse" });
  const extraction = extractChoice(input.response);
  if (!extraction) return outcome("NO_ANSWER", "no choice letter found in the response", { normalizedGold: gold });
  const equal = extraction.answer === gold;
  return outcome(equal ? "CORRECT" : "WRONG", `choice ${extraction.answer} ${equal ? "=" : "!="} ${gold}`, {
    extracted: extraction.answer,
    extraction: extraction.method,
    normalizedGold: gold,
    normalizedPrediction: extraction.answer,
    rule: "choice",
  });
}

function verifyExact(input: VerifyInput, settings: VerifySettings): Outcome {
  const gold = goldAnswer(input.gold);
  const extraction = extractAnswer(input.response, { strict: true, maxAnswerChars: settings.limits.maxAnswerChars }) ?? {
    answer: input.response.trim(),
    method: "whole" as const,
  };
  if (extraction.answer === "") return outcome("NO_ANSWER", "empty response");
  const tooBig = checkAnswerLimits(extraction.answer, "extracted answer", settings.limits);
  if (tooBig) return tooBig;
  const squash = (s: string) => s.trim().replace(/\s+/g, " ");
  const g = squash(gold);
  const p = squash(extraction.answer.replace(/^\\text\{(.*)\}$/s, "$1"));
  const equal = g === p;
  return outcome(equal ? "CORRECT" : "WRONG", equal ? "exact match" : `${JSON.stringify(p.slice(0, 60))} != ${JSON.stringify(g.slice(0, 60))}`, {
    extracted: extraction.answer.slice(0, 1024),
    extraction: extraction.method,
    normalizedGold: g,
    normalizedPrediction: p,
    rule: "exact",
  });
}

const taskKinds: TaskKind[] = [
  {
    name: "math",
    description: "Final answer of a math problem (LaTeX): extraction, normalisation, numeric and symbolic equivalence.",
    verify: verifyMath,
  },
  {
    name: "numeric",
    description: "A plain number, equal within the relative tolerance (per item or per request).",
    verify: (i, s) => verifyNumeric(i, s),
  },
  {
    name: "multiple_choice",
    description: "A single choice letter (A-Z): \\boxed{B}, 'the answer is (B)', '(B)' or 'B)'.",
    verify: (i) => verifyChoice(i),
  },
  {
    name: "exact",
    description: "Exact string match of the extracted answer (whitespace collapsed, case-sensitive).",
    verify: (i, s) => verifyExact(i, s),
  },
];

const byName = new Map(taskKinds.map((k) => [k.name, k]));

export const DEFAULT_TASK_KIND = "math";

export function listTaskKinds(): readonly TaskKind[] {
  return taskKinds;
}

export function getTaskKind(name: string, fieldPath = "task_kind"): TaskKind {
  const kind = byName.get(name === "" ? DEFAULT_TASK_KIND : name);
  if (!kind) throw new InvalidArgumentError(fieldPath, `unknown task kind ${JSON.stringify(name)}; valid: ${taskKinds.map((k) => k.name).join(", ")}`);
  return kind;
}

/** Verifies one item; the response-length limit is checked before anything else. */
export function verifyItem(input: VerifyInput, settings: VerifySettings, cas: Cas | undefined): Outcome {
  if (input.response.length > settings.limits.maxResponseChars) {
    return outcome("REJECTED", `response has ${input.response.length} characters; the limit is ${settings.limits.maxResponseChars}`, { rule: "limit" });
  }
  return getTaskKind(input.taskKind).verify(input, settings, cas);
}
