// Turns a normalised answer into a structure: a scalar, an ordered tuple or
// interval, an unordered set of answers, a union of intervals, a matrix, or a
// relation (equation / inequality). Splitting is done at bracket depth 0.

export type Answer =
  | { kind: "scalar"; latex: string }
  /** Ordered: tuples, points, vectors and intervals; the brackets are part of the value. */
  | { kind: "tuple"; open: string; close: string; items: Answer[] }
  /** Unordered: `\{…\}`, a bare comma list of answers, `a \pm b`. */
  | { kind: "set"; items: Answer[] }
  /** Unordered union of intervals or sets. */
  | { kind: "union"; items: Answer[] }
  | { kind: "matrix"; rows: Answer[][] }
  /** An equation or inequality; `<`/`\le` are canonical (a > b is stored as b < a). */
  | { kind: "relation"; op: "=" | "<" | "\\le" | "\\ne"; lhs: string; rhs: string };

const OPEN = new Set(["(", "[", "{"]);
const CLOSE = new Set([")", "]", "}"]);

/** Splits at each top-level occurrence of one of `separators` (longest first). */
export function splitTopLevel(s: string, separators: readonly string[]): { parts: string[]; seps: string[] } {
  const parts: string[] = [];
  const seps: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && (s[i + 1] === "{" || s[i + 1] === "}")) {
      depth += s[i + 1] === "{" ? 1 : -1;
      i++;
      continue;
    }
    if (OPEN.has(c)) depth++;
    else if (CLOSE.has(c)) depth--;
    else if (depth === 0) {
      for (const sep of separators) {
        if (s.startsWith(sep, i) && !(sep.startsWith("\\") && /[A-Za-z]/.test(s[i + sep.length] ?? ""))) {
          parts.push(s.slice(start, i));
          seps.push(sep);
          i += sep.length - 1;
          start = i + 1;
          break;
        }
      }
    }
  }
  parts.push(s.slice(start));
  return { parts: parts.map((p) => p.trim()), seps };
}

/** Whether the bracket opening at 0 closes at the very end (so it wraps everything). */
function wraps(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && (s[i + 1] === "{" || s[i + 1] === "}")) {
      depth += s[i + 1] === "{" ? 1 : -1;
      i++;
    } else if (OPEN.has(c)) depth++;
    else if (CLOSE.has(c)) depth--;
    if (depth <= 0 && i < s.length - 1) return false;
  }
  return depth === 0;
}

const RELATIONS: Array<[string, "=" | "<" | "\\le" | "\\ne", boolean]> = [
  ["\\leq", "\\le", false],
  ["\\geq", "\\le", true],
  ["\\le", "\\le", false],
  ["\\ge", "\\le", true],
  ["\\neq", "\\ne", false],
  ["\\ne", "\\ne", false],
  ["<=", "\\le", false],
  [">=", "\\le", true],
  ["≤", "\\le", false],
  ["≥", "\\le", true],
  ["<", "<", false],
  [">", "<", true],
  ["=", "=", false],
];
const RELATION_TOKENS = RELATIONS.map((r) => r[0]);

function parseMatrix(s: string): Answer | undefined {
  const m = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$/s.exec(s);
  if (!m) return undefined;
  const rows = m[2]!
    .split(/\\\\/)
    .map((r) => r.trim())
    .filter((r) => r !== "")
    .map((r) => r.split("&").map((cell) => parseStructure(cell.trim())));
  return { kind: "matrix", rows };
}

/** Expands a top-level `a \pm b` into the set {a + b, a - b}. */
function expandPm(s: string): Answer | undefined {
  const { parts } = splitTopLevel(s, ["\\pm", "±"]);
  if (parts.length !== 2 || parts[1] === "") return undefined;
  const [a, b] = parts as [string, string];
  const head = a === "" ? "" : a;
  return {
    kind: "set",
    items: [
      { kind: "scalar", latex: `${head}+${b}` },
      { kind: "scalar", latex: `${head}-${b}` },
    ],
  };
}

export function parseStructure(input: string): Answer {
  const s = input.trim();
  const matrix = parseMatrix(s);
  if (matrix) return matrix;

  const union = splitTopLevel(s, ["\\cup", "∪"]);
  if (union.parts.length > 1) return { kind: "union", items: union.parts.map(parseStructure) };

  if (s.startsWith("\\{") && s.endsWith("\\}") && wraps(s)) {
    const inner = s.slice(2, -2);
    return { kind: "set", items: flattenSets(splitTopLevel(inner, [","]).parts.filter((p) => p !== "").map(parseStructure)) };
  }

  const first = s[0];
  const last = s[s.length - 1];
  if ((first === "(" || first === "[") && (last === ")" || last === "]") && wraps(s)) {
    const { parts } = splitTopLevel(s.slice(1, -1), [","]);
    if (parts.length === 1) return parseStructure(parts[0]!);
    return { kind: "tuple", open: first, close: last, items: parts.map(parseStructure) };
  }

  const list = splitTopLevel(s, [",", ";", "\\text{ and }", " and ", " or "]);
  if (list.parts.length > 1 && list.parts.every((p) => p !== "")) {
    return { kind: "set", items: flattenSets(list.parts.map(parseStructure)) };
  }

  const relation = splitTopLevel(s, RELATION_TOKENS);
  if (relation.parts.length === 2 && relation.parts.every((p) => p !== "")) {
    const entry = RELATIONS.find((r) => r[0] === relation.seps[0])!;
    const [lhs, rhs] = entry[2] ? [relation.parts[1]!, relation.parts[0]!] : [relation.parts[0]!, relation.parts[1]!];
    return { kind: "relation", op: entry[1], lhs, rhs };
  }

  const pm = expandPm(s);
  if (pm) return pm;
  return { kind: "scalar", latex: s };
}

function flattenSets(items: Answer[]): Answer[] {
  return items.flatMap((item) => (item.kind === "set" ? item.items : [item]));
}

/** Number of nodes, for the expression-size limit. */
export function answerSize(a: Answer): number {
  switch (a.kind) {
    case "scalar":
      return 1;
    case "relation":
      return 2;
    case "matrix":
      return a.rows.reduce((n, r) => n + r.reduce((m, c) => m + answerSize(c), 0), 1);
    default:
      return a.items.reduce((n, i) => n + answerSize(i), 1);
  }
}

export function describe(a: Answer): string {
  switch (a.kind) {
    case "scalar":
      return a.latex;
    case "tuple":
      return `${a.open}${a.items.map(describe).join(", ")}${a.close}`;
    case "set":
      return `{${a.items.map(describe).join(", ")}}`;
    case "union":
      return a.items.map(describe).join(" ∪ ");
    case "matrix":
      return `[${a.rows.map((r) => r.map(describe).join(" & ")).join("; ")}]`;
    case "relation":
      return `${a.lhs} ${a.op} ${a.rhs}`;
  }
}
