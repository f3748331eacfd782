// Table tests: (response, gold) → expected status, for every extraction,
// normalisation and equivalence rule, including non-equivalent look-alikes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ComputeEngineCas } from "../src/domain/cas";
import { DEFAULT_SETTINGS } from "../src/domain/settings";
import { verifyItem, type Status, type VerifySettings } from "../src/domain/verify";

const cas = new ComputeEngineCas();

type Row = [response: string, gold: string, expected: Status, note?: string];

function check(rows: Row[], settings: VerifySettings = DEFAULT_SETTINGS, taskKind = "math"): void {
  for (const [response, gold, expected, note] of rows) {
    it(`${note ? `${note}: ` : ""}${JSON.stringify(response.slice(0, 60))} vs ${JSON.stringify(gold)} → ${expected}`, () => {
      const out = verifyItem({ id: "t", response, gold, taskKind }, settings, cas);
      assert.equal(out.status, expected, `${out.status}: ${out.reason} (extracted ${JSON.stringify(out.extracted)}, pred ${JSON.stringify(out.normalizedPrediction)}, gold ${JSON.stringify(out.normalizedGold)})`);
      assert.ok(out.reason.length > 0, "every verdict has a reason");
    });
  }
}

const boxed = (s: string) => `Some working... so the answer is $\\boxed{${s}}$.`;

describe("extraction", () => {
  check([
    ["We get \\boxed{\\frac{1}{2}} at the end", "\\frac12", "CORRECT", "boxed"],
    ["first \\boxed{3} then corrected: \\boxed{4}", "4", "CORRECT", "last boxed wins"],
    ["first \\boxed{3} then corrected: \\boxed{4}", "3", "WRONG", "earlier boxed ignored"],
    ["\\fbox{12}", "12", "CORRECT", "fbox"],
    ["\\boxed{\\frac{\\sqrt{3}}{\\left(2\\right)}}", "\\frac{\\sqrt3}{2}", "CORRECT", "nested braces"],
    ["so \\boxed 5 is it", "5", "CORRECT", "boxed without braces"],
    ["Natalia sold 48/2 = 24 clips.\n#### 72", "72", "CORRECT", "gsm8k ####"],
    ["The answer is 1,234.", "#### 1,234", "CORRECT", "gsm8k gold with solution marker"],
    ["Therefore, the final answer is $\\frac{3}{4}$. I hope it is correct.", "0.75", "CORRECT", "answer is + $"],
    ["The answer is: 18 dollars", "18", "CORRECT", "answer is with units"],
    ["Thus the answer is\n\n$$\nx = 7\n$$", "7", "CORRECT", "answer split across lines"],
    ["We find $y = 12$ after simplification", "12", "CORRECT", "final $…$"],
    ["so we have 3 apples and then 17 remain", "17", "CORRECT", "last number fallback"],
    ["no numbers here at all", "17", "NO_ANSWER", "nothing to extract"],
    ["The solutions are \\boxed{2} and \\boxed{3}", "2, 3", "CORRECT", "multiple boxed answers"],
    ["The solutions are \\boxed{3} and \\boxed{2}", "2,3", "CORRECT", "multiple boxed, other order"],
    ["\\boxed{2}", "2, 3", "WRONG", "one of two answers"],
  ]);
  describe("strict mode", () => {
    check([["so we have 3 apples and then 17 remain", "17", "NO_ANSWER", "no last-number fallback"]], { ...DEFAULT_SETTINGS, strict: true });
  });
});

describe("normalisation", () => {
  check([
    [boxed("\\left( 3, \\frac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})", "CORRECT", "\\left \\right"],
    [boxed("\\dfrac{3}{4}"), "\\frac{3}{4}", "CORRECT", "dfrac"],
    [boxed("\\tfrac34"), "\\frac{3}{4}", "CORRECT", "tfrac, short form"],
    [boxed("5.4 \\text{ cents}"), "5.4", "CORRECT", "text unit"],
    [boxed("15\\mbox{ cm}^2"), "15", "CORRECT", "mbox unit with power"],
    [boxed("\\text{Evelyn}"), "Evelyn", "CORRECT", "text word"],
    [boxed("\\text{east}"), "\\text{west}", "WRONG", "different words"],
    [boxed("\\mathrm{even}"), "\\text{even}", "CORRECT", "mathrm"],
    [boxed("30^\\circ"), "30", "CORRECT", "degrees ^\\circ"],
    [boxed("30^{\\circ}"), "30^\\circ", "CORRECT", "degrees ^{\\circ}"],
    [boxed("30 degrees"), "30", "CORRECT", "degrees word"],
    [boxed("1,000"), "1000", "CORRECT", "thousands separator"],
    [boxed("10,\\!080"), "10080", "CORRECT", "thousands with \\!"],
    [boxed("1 000"), "1000", "CORRECT", "thousands with space"],
    [boxed("1,000"), "1.000", "WRONG", "1,000 is not 1.000"],
    [boxed("(1,000)"), "1000", "WRONG", "(1,000) is a tuple"],
    [boxed("2.50"), "2.5", "CORRECT", "trailing zeros"],
    [boxed("3.0"), "3", "CORRECT", "trailing .0"],
    [boxed("x = 3"), "3", "CORRECT", "leading x ="],
    [boxed("x=3"), "x=-3", "WRONG", "x=3 vs x=-3"],
    [boxed("\\$18.90"), "18.9", "CORRECT", "escaped dollar"],
    [boxed("1\\,234"), "1234", "CORRECT", "thin space"],
    [boxed(" 7 "), "7", "CORRECT", "spaces"],
    [boxed(".35625"), "0.35625", "CORRECT", "leading dot"],
    [boxed("x \\in [-2,7]"), "[-2, 7]", "CORRECT", "x \\in"],
  ]);
});

describe("percent rule (default: the gold decides)", () => {
  check([
    [boxed("50\\%"), "50\\%", "CORRECT", "same percent"],
    [boxed("50"), "50\\%", "CORRECT", "percent sign omitted"],
    [boxed("0.5"), "50\\%", "CORRECT", "fraction of a percent gold"],
    [boxed("\\frac{1}{2}"), "50\\%", "CORRECT", "\\frac of a percent gold"],
    [boxed("0.5"), "50", "WRONG", "no percent in gold: 0.5 is not 50"],
    [boxed("50\\%"), "0.5", "WRONG", "no percent in gold: 50% read as 50"],
    [boxed("25\\%"), "50\\%", "WRONG", "different percent"],
  ]);
  describe("scale policy", () => {
    check(
      [
        [boxed("50\\%"), "0.5", "CORRECT", "50% = 0.5"],
        [boxed("50\\%"), "50", "WRONG", "50% != 50"],
      ],
      { ...DEFAULT_SETTINGS, percentPolicy: "scale" },
    );
  });
  describe("strip policy", () => {
    check(
      [
        [boxed("0.5"), "50\\%", "WRONG", "no rescaling"],
        [boxed("50"), "50\\%", "CORRECT", "sign dropped"],
      ],
      { ...DEFAULT_SETTINGS, percentPolicy: "strip" },
    );
  });
});

describe("numeric equality", () => {
  check([
    [boxed("0.5"), "\\frac{1}{2}", "CORRECT", "decimal vs fraction"],
    [boxed("1/2"), "\\frac{1}{2}", "CORRECT", "slash fraction"],
    [boxed("1/2"), "2", "WRONG", "1/2 vs 2"],
    [boxed("0.333"), "\\frac{1}{3}", "WRONG", "0.333 is not 1/3 at rel tol 1e-6"],
    [boxed("0.3333333333"), "\\frac{1}{3}", "CORRECT", "within rel tol"],
    [boxed("1.2\\times 10^{3}"), "1200", "CORRECT", "scientific notation (latex)"],
    [boxed("1.2e3"), "1200", "CORRECT", "scientific notation (e)"],
    [boxed("1\\frac{4}{5}"), "\\frac{9}{5}", "CORRECT", "mixed number"],
    [boxed("137 \\frac{1}{2}"), "137.5", "CORRECT", "mixed number with space"],
    [boxed("1\\frac{4}{5}"), "\\frac{4}{5}", "WRONG", "mixed number is not a product"],
    [boxed("-\\frac{3}{8}"), "-0.375", "CORRECT", "negative fraction"],
    [boxed("\\frac{-3}{8}"), "-\\frac{3}{8}", "CORRECT", "sign inside fraction"],
    [boxed("7"), "-7", "WRONG", "sign matters"],
  ]);
});

describe("symbolic equality (CAS)", () => {
  check([
    [boxed("\\frac{1}{\\sqrt{3}}"), "\\frac{\\sqrt{3}}{3}", "CORRECT", "rationalised radical"],
    [boxed("\\sqrt{20}"), "2\\sqrt{5}", "CORRECT", "radical simplification"],
    [boxed("\\sqrt{5}"), "2\\sqrt{5}", "WRONG", "different radical"],
    [boxed("\\sum_{k=0}^{n-1} F_k F_{n-k-1}"), "\\sum_{k=0}^{n-2} F_k F_{n-k-1}", "WRONG", "sums with different symbolic bounds"],
    [boxed("\\sum_{k=0}^{n-1} F_k F_{n-k-1}"), "\\sum_{k=0}^{n-1} F_k F_{n-k-1}", "CORRECT", "identical sums"],
    [boxed("12\\textnormal{ miles}"), "12", "CORRECT", "textnormal unit"],
    [boxed("\\frac{\\pi}{2}"), "\\pi/2", "CORRECT", "pi"],
    [boxed("2\\pi"), "\\pi", "WRONG", "2pi vs pi"],
    [boxed("e^2"), "e \\cdot e", "CORRECT", "e"],
    [boxed("2^{10}"), "1024", "CORRECT", "powers"],
    [boxed("(x+1)^2"), "x^2+2x+1", "CORRECT", "polynomial identity"],
    [boxed("(x-1)^2"), "x^2+2x+1", "WRONG", "different polynomial"],
    [boxed("ab+2a+5b+10"), "(a+5)(b+2)", "CORRECT", "two variables"],
    [boxed("2(k+1)"), "2k+2", "CORRECT", "factored"],
    [boxed("\\frac{\\cos x}{\\sin x}"), "\\cot x", "CORRECT", "trig identity"],
    [boxed("-2+7i"), "-2 + 7i", "CORRECT", "complex"],
    [boxed("7i-2"), "-2 + 7i", "CORRECT", "complex reordered"],
    [boxed("2+7i"), "-2 + 7i", "WRONG", "complex sign"],
    [boxed("\\frac{"), "3", "UNPARSEABLE", "unbalanced box"],
  ]);
});

describe("structures", () => {
  check([
    [boxed("(1,2)"), "(1,2)", "CORRECT", "tuple"],
    [boxed("(2,1)"), "(1,2)", "WRONG", "tuple order matters"],
    [boxed("\\left(\\frac{3}{2}, -13\\right)"), "(1.5,-13)", "CORRECT", "point with fraction"],
    [boxed("[1,2)"), "[1,2]", "WRONG", "interval ends differ"],
    [boxed("[1,2]"), "[1,2]", "CORRECT", "closed interval"],
    [boxed("(-\\infty, 0]"), "(-\\infty,0]", "CORRECT", "infinite interval"],
    [boxed("(3, \\infty) \\cup (-\\infty, 2)"), "(-\\infty, 2) \\cup (3, \\infty)", "CORRECT", "union in any order"],
    [boxed("(-\\infty, 2] \\cup (3, \\infty)"), "(-\\infty, 2) \\cup (3, \\infty)", "WRONG", "union with a closed end"],
    [boxed("\\{3, 1, 2\\}"), "\\{1,2,3\\}", "CORRECT", "set unordered"],
    [boxed("\\{1, 2\\}"), "\\{1,2,3\\}", "WRONG", "set missing element"],
    [boxed("3, 7, 5"), "3, 5, 7", "CORRECT", "multiple answers unordered"],
    [boxed("1 \\pm \\sqrt{19}"), "1+\\sqrt{19}, 1-\\sqrt{19}", "CORRECT", "pm expands"],
    [boxed("1 + \\sqrt{19}"), "1 \\pm \\sqrt{19}", "WRONG", "only one root"],
    [boxed("\\{-2, 1+\\sqrt{5}, 1-\\sqrt{5}\\}"), "\\{1\\pm\\sqrt{5},-2\\}", "CORRECT", "set with pm"],
    [boxed("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}"), "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}", "CORRECT", "matrix"],
    [boxed("\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}"), "\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}", "CORRECT", "vector with fractions"],
    [boxed("\\begin{pmatrix} 0 & -1 \\\\ -1 & 0 \\end{pmatrix}"), "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}", "WRONG", "matrix cells differ"],
    [boxed("\\begin{pmatrix} 1 & 2 \\end{pmatrix}"), "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "WRONG", "matrix shape differs"],
  ]);
});

describe("equations and inequalities", () => {
  check([
    [boxed("x=3"), "3", "CORRECT", "x=3 vs 3"],
    [boxed("y = 2x+1"), "2x+1", "CORRECT", "y = 2x+1 vs 2x+1"],
    [boxed("y = 1+2x"), "y=2x+1", "CORRECT", "reordered rhs"],
    [boxed("y = 2x-1"), "y=2x+1", "WRONG", "different line"],
    [boxed("-5x + 7y - 11z - 4 = 0"), "5x - 7y + 11z + 4 = 0", "CORRECT", "plane up to a factor"],
    [boxed("5x - 7y + 11z - 4 = 0"), "5x - 7y + 11z + 4 = 0", "WRONG", "different plane"],
    [boxed("x > 3"), "3 < x", "CORRECT", "inequality flipped"],
    [boxed("x \\ge 3"), "x > 3", "WRONG", "strict vs non-strict"],
    [boxed("x \\geq 3"), "3 \\le x", "CORRECT", "geq vs le"],
  ]);
});

describe("other task kinds", () => {
  describe("numeric", () => {
    check(
      [
        ["The mass is about 3.1416 kg", "3.14159265", "WRONG", "outside default tolerance"],
        ["#### 1,450,000", "1450000", "CORRECT", "gsm8k commas"],
        ["the answer is 42 apples", "42", "CORRECT", "number inside words"],
        ["I don't know", "42", "NO_ANSWER"],
      ],
      DEFAULT_SETTINGS,
      "numeric",
    );
    check([["The mass is about 3.1416 kg", "3.14159265", "CORRECT", "inside a 1e-4 tolerance"]], { ...DEFAULT_SETTINGS, relativeTolerance: 1e-4 }, "numeric");
  });
  describe("multiple_choice", () => {
    check(
      [
        ["Thus the answer is (B).", "B", "CORRECT"],
        ["\\boxed{\\text{(C)}}", "(C)", "CORRECT"],
        ["The correct option: D", "\\text{(D)}", "CORRECT"],
        ["The answer is (A).", "B", "WRONG"],
        ["I am not sure", "B", "NO_ANSWER"],
      ],
      DEFAULT_SETTINGS,
      "multiple_choice",
    );
  });
  describe("exact", () => {
    check(
      [
        ["\\boxed{Paris}", "Paris", "CORRECT"],
        ["\\boxed{paris}", "Paris", "WRONG", "case-sensitive"],
        ["Paris", "Paris", "CORRECT", "whole response"],
      ],
      DEFAULT_SETTINGS,
      "exact",
    );
  });
});

describe("limits", () => {
  check(
    [
      [boxed("{".repeat(60) + "1" + "}".repeat(60)), "1", "REJECTED", "nesting"],
      ["x".repeat(300_000), "1", "REJECTED", "response length"],
      [boxed("1".repeat(5_000)), "1", "REJECTED", "answer length"],
    ],
    DEFAULT_SETTINGS,
  );
});
