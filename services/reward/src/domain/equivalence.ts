// Answer equivalence, in order: normalised string equality, numeric equality
// with a relative tolerance, then symbolic equality through the CAS. Structured
// answers compare part by part: tuples and intervals in order (brackets
// included), sets and multiple answers in any order, matrices cell by cell,
// equations up to a non-zero factor, inequalities side by side.
import type { Normalized } from "./normalize";
import { complexClose, parsePlainNumber, show, type Complex } from "./numbers";
import { describe, parseStructure, type Answer } from "./structure";

export type PercentPolicy = "gold_decides" | "strip" | "scale";

export interface CompareOptions {
  relativeTolerance: number;
  percentPolicy: PercentPolicy;
}

export type CasValue =
  | { kind: "number"; value: Complex }
  | { kind: "expression"; unknowns: string[] }
  | { kind: "text" }
  | { kind: "invalid"; why: string };

/** The symbolic back end (compute-engine in the worker threads). */
export interface Cas {
  value(latex: string): CasValue;
  /** Equal as expressions (identical up to CAS canonical form, or at random points of their unknowns). */
  same(a: string, b: string, relativeTolerance: number): boolean;
  /** a = k·b for a non-zero constant k (equations written differently). */
  proportional(a: string, b: string, relativeTolerance: number): boolean;
}

/** Thrown when a comparison needs the CAS and none was given (the fast path on the main thread). */
export class NeedsCas extends Error {
  constructor() {
    super("needs the CAS");
    this.name = "NeedsCas";
  }
}

export interface Comparison {
  equal: boolean;
  rule: string;
  reason: string;
  /** Set when one side could not be interpreted. */
  unparseable?: "gold" | "prediction";
}

interface Context {
  options: CompareOptions;
  /** [gold factor, prediction factor] pairs the percent policy allows. */
  factors: Array<[number, number]>;
  cas: Cas | undefined;
}

function percentFactors(gold: Normalized, pred: Normalized, policy: PercentPolicy): Array<[number, number]> {
  switch (policy) {
    case "strip":
      return [[1, 1]];
    case "scale":
      return [[gold.percent ? 0.01 : 1, pred.percent ? 0.01 : 1]];
    case "gold_decides":
      // Gold "50%": the prediction may say 50 (or 50%) or 0.5 / \frac{1}{2}.
      return gold.percent && !pred.percent ? [[1, 1], [1, 100]] : [[1, 1]];
  }
}

const WORD = /^[A-Za-z][A-Za-z ]*$/;

function sameKey(a: string, b: string): boolean {
  if (a === b) return true;
  return WORD.test(a) && WORD.test(b) && a.toLowerCase() === b.toLowerCase();
}

function compareNumbers(g: Complex, p: Complex, ctx: Context): { equal: boolean; how: string } {
  for (const [gf, pf] of ctx.factors) {
    const gs = { re: g.re * gf, im: g.im * gf };
    const ps = { re: p.re * pf, im: p.im * pf };
    if (complexClose(gs, ps, ctx.options.relativeTolerance)) {
      return { equal: true, how: pf !== 1 || gf !== 1 ? " (percent rescaled)" : "" };
    }
  }
  return { equal: false, how: "" };
}

const fmt = (c: Complex) => (c.im === 0 ? show(c.re) : `${show(c.re)}${c.im < 0 ? "-" : "+"}${show(Math.abs(c.im))}i`);

function compareScalar(g: string, p: string, ctx: Context): Comparison {
  if (sameKey(g.replace(/\s+/g, ""), p.replace(/\s+/g, "")) && ctx.factors.length === 1 && ctx.factors[0]![0] === ctx.factors[0]![1]) {
    return { equal: true, rule: "string", reason: `same normalised text ${JSON.stringify(g)}` };
  }
  const tol = ctx.options.relativeTolerance;
  const gn = parsePlainNumber(g);
  const pn = parsePlainNumber(p);
  if (gn !== undefined && pn !== undefined) {
    // Two integers are compared exactly: 1450001 is not 1450000, whatever the tolerance.
    if (Number.isInteger(gn) && Number.isInteger(pn) && /^[-+]?\d+$/.test(g) && /^[-+]?\d+$/.test(p) && ctx.factors.length === 1 && ctx.factors[0]![0] === ctx.factors[0]![1]) {
      const equal = gn === pn;
      return { equal, rule: "numeric", reason: equal ? `integers ${show(pn)} = ${show(gn)}` : `integer ${show(pn)} != ${show(gn)}` };
    }
    const r = compareNumbers({ re: gn, im: 0 }, { re: pn, im: 0 }, ctx);
    return {
      equal: r.equal,
      rule: "numeric",
      reason: r.equal ? `${show(pn)} = ${show(gn)} within rel tol ${tol}${r.how}` : `${show(pn)} != ${show(gn)} (rel tol ${tol})`,
    };
  }
  if (!ctx.cas) throw new NeedsCas();
  const gv = ctx.cas.value(g);
  const pv = ctx.cas.value(p);
  if (gv.kind === "invalid") return { equal: false, rule: "parse", reason: `gold not parseable: ${gv.why}`, unparseable: "gold" };
  if (pv.kind === "invalid") return { equal: false, rule: "parse", reason: `prediction not parseable: ${pv.why}`, unparseable: "prediction" };
  if (gv.kind === "number" && pv.kind === "number") {
    const r = compareNumbers(gv.value, pv.value, ctx);
    return {
      equal: r.equal,
      rule: "symbolic",
      reason: r.equal
        ? `both evaluate to ${fmt(gv.value)}${r.how}`
        : `prediction evaluates to ${fmt(pv.value)}, gold to ${fmt(gv.value)}`,
    };
  }
  if (gv.kind === "text" || pv.kind === "text") {
    return { equal: false, rule: "string", reason: `text differs: ${JSON.stringify(p)} vs ${JSON.stringify(g)}` };
  }
  const equal = ctx.cas.same(g, p, tol);
  return { equal, rule: "symbolic", reason: equal ? "symbolically equal" : "not symbolically equal" };
}

/** Greedy matching of unordered parts (each gold part to a distinct predicted part). */
function compareUnordered(gold: Answer[], pred: Answer[], ctx: Context, what: string): Comparison {
  if (gold.length !== pred.length) {
    return { equal: false, rule: what, reason: `${what} has ${pred.length} elements, gold has ${gold.length}` };
  }
  const used = new Array<boolean>(pred.length).fill(false);
  for (const g of gold) {
    let found = -1;
    for (let j = 0; j < pred.length && found < 0; j++) {
      if (used[j]) continue;
      const c = compareStructures(g, pred[j]!, ctx);
      if (c.unparseable) return c;
      if (c.equal) found = j;
    }
    if (found < 0) return { equal: false, rule: what, reason: `gold element ${describe(g)} has no match` };
    used[found] = true;
  }
  return { equal: true, rule: what, reason: `${what} of ${gold.length} elements match in some order` };
}

function compareOrdered(gold: Answer[], pred: Answer[], ctx: Context, what: string): Comparison {
  if (gold.length !== pred.length) {
    return { equal: false, rule: what, reason: `${what} has ${pred.length} elements, gold has ${gold.length}` };
  }
  for (let i = 0; i < gold.length; i++) {
    const c = compareStructures(gold[i]!, pred[i]!, ctx);
    if (c.unparseable) return c;
    if (!c.equal) return { equal: false, rule: what, reason: `element ${i + 1} differs: ${c.reason}` };
  }
  return { equal: true, rule: what, reason: `${what} of ${gold.length} elements match in order` };
}

function compareRelations(g: Extract<Answer, { kind: "relation" }>, p: Extract<Answer, { kind: "relation" }>, ctx: Context): Comparison {
  if (g.op !== p.op) return { equal: false, rule: "relation", reason: `relation ${p.op} differs from gold ${g.op}` };
  const sides = (a: string, b: string, c: string, d: string) => {
    const l = compareScalar(a, c, ctx);
    if (!l.equal) return l;
    return compareScalar(b, d, ctx);
  };
  const direct = sides(g.lhs, g.rhs, p.lhs, p.rhs);
  if (direct.equal || direct.unparseable) return { ...direct, rule: "relation", reason: `both sides match: ${direct.reason}` };
  if (g.op === "=" || g.op === "\\ne") {
    const swapped = sides(g.lhs, g.rhs, p.rhs, p.lhs);
    if (swapped.equal) return { ...swapped, rule: "relation", reason: "sides match swapped" };
    if (!ctx.cas) throw new NeedsCas();
    if (ctx.cas.proportional(`(${g.lhs})-(${g.rhs})`, `(${p.lhs})-(${p.rhs})`, ctx.options.relativeTolerance)) {
      return { equal: true, rule: "relation", reason: "equations are equivalent (lhs - rhs differ by a non-zero factor)" };
    }
    return { equal: false, rule: "relation", reason: "equations are not equivalent" };
  }
  return { equal: false, rule: "relation", reason: `inequality sides differ: ${direct.reason}` };
}

const unwrap = (a: Answer): Answer => (a.kind === "set" && a.items.length === 1 ? a.items[0]! : a);

export function compareStructures(goldIn: Answer, predIn: Answer, ctx: Context): Comparison {
  const gold = unwrap(goldIn);
  const pred = unwrap(predIn);
  if (gold.kind === "scalar" && pred.kind === "scalar") return compareScalar(gold.latex, pred.latex, ctx);
  // "… = 5" against a gold value: the value after the last "=" is the answer (x + y = 5 → 5).
  if (pred.kind === "relation" && pred.op === "=" && gold.kind !== "relation") {
    const c = compareStructures(gold, parseStructure(pred.rhs), ctx);
    return { ...c, reason: `right-hand side of ${describe(pred)}: ${c.reason}` };
  }
  if (gold.kind !== pred.kind) {
    return { equal: false, rule: "structure", reason: `prediction is a ${pred.kind}, gold is a ${gold.kind}` };
  }
  switch (gold.kind) {
    case "tuple": {
      const p = pred as typeof gold;
      if (gold.open !== p.open || gold.close !== p.close) {
        return { equal: false, rule: "interval", reason: `brackets ${p.open}…${p.close} differ from gold ${gold.open}…${gold.close}` };
      }
      return compareOrdered(gold.items, p.items, ctx, "tuple");
    }
    case "set":
      return compareUnordered(gold.items, (pred as typeof gold).items, ctx, "set");
    case "union":
      return compareUnordered(gold.items, (pred as typeof gold).items, ctx, "union");
    case "matrix": {
      const p = pred as typeof gold;
      if (gold.rows.length !== p.rows.length || gold.rows.some((r, i) => r.length !== p.rows[i]!.length)) {
        return { equal: false, rule: "matrix", reason: "matrix dimensions differ" };
      }
      return compareOrdered(gold.rows.flat(), p.rows.flat(), ctx, "matrix");
    }
    case "relation":
      return compareRelations(gold, pred as typeof gold, ctx);
    case "scalar":
      return compareScalar(gold.latex, (pred as typeof gold).latex, ctx);
  }
}

/** Compares two normalised answers; throws NeedsCas when `cas` is absent and the CAS is needed. */
export function compareAnswers(gold: Normalized, pred: Normalized, options: CompareOptions, cas: Cas | undefined): Comparison {
  const ctx: Context = { options, factors: percentFactors(gold, pred, options.percentPolicy), cas };
  const trivial = ctx.factors.length === 1 && ctx.factors[0]![0] === ctx.factors[0]![1];
  if (trivial && sameKey(gold.key, pred.key)) return { equal: true, rule: "string", reason: `same normalised text ${JSON.stringify(gold.latex)}` };
  return compareStructures(parseStructure(gold.latex), parseStructure(pred.latex), ctx);
}
