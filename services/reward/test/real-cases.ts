// Generated verification cases from real gold answers (GSM8K test, MATH-500):
// each gold wrapped in a plausible response, in reformatted but equivalent
// forms, and one perturbed wrong answer. Shared by the agreement test, the
// benchmark and the differential check against Math-Verify.
import fs from "node:fs";
import path from "node:path";
import { parsePlainNumber } from "../src/domain/numbers";

export interface GoldRow {
  id: string;
  source: "gsm8k" | "math500";
  gold: string;
}

export interface Case {
  id: string;
  source: GoldRow["source"];
  /** Which form: boxed, dfrac, spaces, decimal, fraction, units, gsm8k, answer_is, wrong. */
  form: string;
  response: string;
  gold: string;
  expected: "CORRECT" | "WRONG";
}

export const TESTDATA = path.join(__dirname, "..", "..", "..", "..", "services", "reward", "testdata");

export function loadGold(): GoldRow[] {
  return fs
    .readFileSync(path.join(TESTDATA, "gold-answers.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as GoldRow);
}

const PREAMBLE = "Let me work through this step by step.\nFirst we set up the quantities, then simplify carefully.\n";

export const wrapBoxed = (answer: string) => `${PREAMBLE}Putting it together, the answer is $\\boxed{${answer}}$.`;

function gcd(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : gcd(b, a % b);
}

/** 0.15 → \frac{3}{20}; undefined for integers or long decimals. */
function asFraction(value: number): string | undefined {
  if (Number.isInteger(value)) return undefined;
  const decimals = (String(value).split(".")[1] ?? "").length;
  if (decimals > 6 || String(value).includes("e")) return undefined;
  const den = 10 ** decimals;
  const num = Math.round(value * den);
  const g = gcd(num, den);
  return `${num < 0 ? "-" : ""}\\frac{${Math.abs(num) / g}}{${den / g}}`;
}

/** A decimal form: 3 → 3.0, \frac{3}{4} → 0.75, \frac{1}{3} → 0.3333333333. */
function asDecimal(gold: string, value: number): string | undefined {
  if (Number.isInteger(value)) return /^-?\d+$/.test(gold) ? `${value}.0` : undefined;
  if (/^-?\d*\.\d+$/.test(gold)) return undefined;
  return String(Number(value.toPrecision(10)));
}

function withThousands(gold: string): string | undefined {
  if (!/^-?\d{4,}$/.test(gold)) return undefined;
  return gold.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A wrong answer that looks like the gold: the last digit changed, or the value altered. */
export function perturb(gold: string): string {
  const value = parsePlainNumber(gold.replace(/,/g, ""));
  if (value !== undefined && /^-?[\d,]+$/.test(gold)) return String(Number(gold.replace(/,/g, "")) + 1);
  // Digits of the value, not of a trailing unit such as `\mbox{ cm}^2`.
  const unitAt = gold.search(/\\(?:mbox|text)\{\s/);
  const digits = [...(unitAt > 0 ? gold.slice(0, unitAt) : gold).matchAll(/\d/g)];
  if (digits.length > 0) {
    const last = digits[digits.length - 1]!;
    const d = Number(last[0]);
    return gold.slice(0, last.index) + String(d === 9 ? 7 : d + 1) + gold.slice(last.index! + 1);
  }
  const text = /\\text\{\s*([^{}]*)\}/.exec(gold);
  if (text) return gold.replace(text[0], `\\text{not ${text[1]}}`);
  return `2\\left(${gold}\\right)+1`;
}

export function generateCases(rows: GoldRow[] = loadGold()): Case[] {
  const cases: Case[] = [];
  for (const row of rows) {
    const add = (form: string, response: string, expected: Case["expected"] = "CORRECT") =>
      cases.push({ id: `${row.id}/${form}`, source: row.source, form, response, gold: row.gold, expected });
    const g = row.gold;
    add("boxed", wrapBoxed(g));
    if (g.includes("\\frac")) add("dfrac", wrapBoxed(g.replace(/\\frac/g, "\\dfrac")));
    if (/[+=&]/.test(g)) add("spaces", wrapBoxed(g.replace(/\s*([+=&])\s*/g, " $1 ")));
    const value = parsePlainNumber(g.replace(/^(-?\d{1,3}(,\d{3})+)$/, (m) => m.replace(/,/g, "")).replace(/\\dfrac/g, "\\frac"));
    if (value !== undefined) {
      const dec = asDecimal(g, value);
      if (dec) add("decimal", wrapBoxed(dec));
      const frac = asFraction(value);
      if (frac) add("fraction", wrapBoxed(frac));
      add("units", row.source === "gsm8k" ? `${PREAMBLE}So she pays \\$${g} in total.\nThe answer is ${g} dollars.` : wrapBoxed(`${g} \\text{ units}`));
      if (row.source === "gsm8k") {
        add("gsm8k", `${PREAMBLE}#### ${withThousands(g) ?? g}`);
        add("answer_is", `${PREAMBLE}The final answer is ${withThousands(g) ?? g}.`);
      }
    } else {
      add("answer_is", `${PREAMBLE}The final answer is $${g}$.`);
    }
    add("wrong", wrapBoxed(perturb(g)), "WRONG");
  }
  return cases;
}
