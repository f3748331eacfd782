// The CAS back end: @cortex-js/compute-engine parses LaTeX into MathJSON and
// evaluates it. Expressions with unknowns are compared at deterministic
// pseudo-random points (a polynomial identity test), after a cheap check for
// identical canonical forms. Runs in the worker threads only: the CAS may be
// slow or hang on hostile input, and the pool's time limit is the defence.
import type { Cas, CasValue } from "./equivalence";
import type { Complex } from "./numbers";

/** The part of compute-engine's boxed-expression API used here. */
interface Expr {
  readonly isValid: boolean;
  readonly unknowns: ReadonlyArray<string>;
  readonly isNumberLiteral: boolean;
  readonly re: number;
  readonly im: number;
  readonly type: { toString(): string };
  N(): Expr;
  subs(values: Record<string, number>): Expr;
  isSame(other: Expr): boolean;
}
interface Engine {
  parse(latex: string): Expr | null;
}
// compute-engine ships ESM types with a CommonJS build; load the CommonJS build
// and type the few members used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ComputeEngine } = require("@cortex-js/compute-engine") as { ComputeEngine: new () => Engine };

/**
 * Sums and products whose bounds hold an unknown cannot be compared at
 * non-integer points (the bounds degenerate, and two different sums can agree
 * everywhere sampled); such expressions must match in canonical form.
 */
const INDEXED_OPERATOR = /\\(sum|prod)(?![a-zA-Z])/;

/** Points at which unknowns are evaluated (non-integers, away from common poles). */
const POINTS = [0.3719, 1.4142, 2.7183, -0.6931, 0.5772];

/** `137 \frac{1}{2}` is a mixed number: 137 + 1/2, not 137 · 1/2. */
function prepare(latex: string): string {
  return latex.replace(/(^|[^\d.^_}])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}/g, "$1($2+\\frac{$3}{$4})");
}

function complexOf(e: Expr): Complex | undefined {
  const n = e.N();
  if (!n.isNumberLiteral) return undefined;
  const re = n.re;
  const im = n.im;
  if (typeof re !== "number" || Number.isNaN(re)) return undefined;
  return { re, im: typeof im === "number" && !Number.isNaN(im) ? im : 0 };
}

function close(a: Complex, b: Complex, tol: number): boolean {
  // Absolute floor of tol for values near zero (x - x evaluates to ~1e-17).
  const scale = Math.max(1, Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return Math.hypot(a.re - b.re, a.im - b.im) <= tol * scale;
}

export class ComputeEngineCas implements Cas {
  private readonly ce: Engine = new ComputeEngine();
  private readonly cache = new Map<string, Expr>();

  private parse(latex: string): Expr {
    let e = this.cache.get(latex);
    if (!e) {
      e = this.ce.parse(prepare(latex)) ?? this.ce.parse("\\error")!;
      if (this.cache.size > 2_000) this.cache.clear();
      this.cache.set(latex, e);
    }
    return e;
  }

  value(latex: string): CasValue {
    const e = this.parse(latex);
    if (!e.isValid) return { kind: "invalid", why: `cannot read ${JSON.stringify(latex.slice(0, 80))}` };
    if (e.type.toString() === "string") return { kind: "text" };
    const unknowns = [...e.unknowns];
    if (unknowns.length > 0) return { kind: "expression", unknowns };
    const value = complexOf(e);
    if (value) return { kind: "number", value };
    return { kind: "expression", unknowns };
  }

  private at(e: Expr, names: string[], k: number): Complex | undefined {
    const subs: Record<string, number> = {};
    names.forEach((name, i) => {
      subs[name] = POINTS[(k + i * 2) % POINTS.length]! + i * 0.1;
    });
    return complexOf(e.subs(subs));
  }

  private unknownsOf(...es: Expr[]): string[] {
    return [...new Set(es.flatMap((e) => [...e.unknowns]))].sort();
  }

  same(a: string, b: string, tol: number): boolean {
    const ea = this.parse(a);
    const eb = this.parse(b);
    if (!ea.isValid || !eb.isValid) return false;
    if (ea.isSame(eb)) return true;
    const names = this.unknownsOf(ea, eb);
    if (names.length > 0 && (INDEXED_OPERATOR.test(a) || INDEXED_OPERATOR.test(b))) return false;
    let compared = 0;
    for (let k = 0; k < POINTS.length; k++) {
      const va = this.at(ea, names, k);
      const vb = this.at(eb, names, k);
      if (!va || !vb || !Number.isFinite(va.re) || !Number.isFinite(vb.re)) continue;
      if (!close(va, vb, Math.max(tol, 1e-9))) return false;
      compared++;
    }
    return compared >= 2;
  }

  proportional(a: string, b: string, tol: number): boolean {
    const ea = this.parse(a);
    const eb = this.parse(b);
    if (!ea.isValid || !eb.isValid) return false;
    const names = this.unknownsOf(ea, eb);
    if (names.length > 0 && (INDEXED_OPERATOR.test(a) || INDEXED_OPERATOR.test(b))) return false;
    let ratio: Complex | undefined;
    let compared = 0;
    for (let k = 0; k < POINTS.length; k++) {
      const va = this.at(ea, names, k);
      const vb = this.at(eb, names, k);
      if (!va || !vb) continue;
      const d = vb.re * vb.re + vb.im * vb.im;
      if (d === 0 || !Number.isFinite(d)) continue;
      const r = { re: (va.re * vb.re + va.im * vb.im) / d, im: (va.im * vb.re - va.re * vb.im) / d };
      if (Math.hypot(r.re, r.im) === 0) return false;
      if (ratio && !close(ratio, r, Math.max(tol, 1e-9))) return false;
      ratio ??= r;
      compared++;
    }
    return compared >= 2;
  }
}
