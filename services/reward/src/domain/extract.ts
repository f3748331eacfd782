// Answer extraction from a model's full response. Pure string scanning in
// linear time (no backtracking-prone regexes over the whole response): the
// response may be long and hostile, and this runs on the main thread.

export type ExtractionMethod = "boxed" | "gsm8k" | "answer_is" | "dollars" | "last_number" | "choice" | "whole";

export interface Extraction {
  answer: string;
  method: ExtractionMethod;
}

export interface ExtractOptions {
  /** Strict mode: no fallback to the last number in the response. */
  strict: boolean;
  /** Longest answer kept; a longer one is returned as is and rejected by the caller. */
  maxAnswerChars: number;
}

/** Only the end of a response is searched for "the answer is", `$…$` and numbers. */
const TAIL_CHARS = 4096;

/**
 * The content of the brace group opening at `open` (which must be `{`), with
 * nested braces; undefined when unbalanced. Escaped braces `\{`/`\}` do not count.
 */
export function braceGroup(text: string, open: number): { content: string; end: number } | undefined {
  if (text[open] !== "{") return undefined;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      i++; // skip the escaped character
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) return { content: text.slice(open + 1, i), end: i + 1 };
    }
  }
  return undefined;
}

interface Box {
  content: string;
  start: number;
  end: number;
}

const BOX_START = /\\(?:boxed|fbox)(?![A-Za-z])/g;

/** Every `\boxed{…}` / `\fbox{…}` (and `\boxed 5`) in order of appearance, in one linear pass. */
export function findBoxes(text: string): Box[] {
  const boxes: Box[] = [];
  const re = new RegExp(BOX_START.source, "g");
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index;
    let i = start + m[0].length;
    while (text[i] === " ") i++;
    if (text[i] === "{") {
      const group = braceGroup(text, i);
      if (!group) return boxes; // unbalanced: nothing more can be read reliably
      boxes.push({ content: group.content, start, end: group.end });
      re.lastIndex = group.end;
    } else if (i > start + m[0].length && /[^\s$]/.test(text[i] ?? "")) {
      // `\boxed 5`: up to the next space or `$`
      let j = i;
      while (j < text.length && !/[\s$]/.test(text[j]!)) j++;
      boxes.push({ content: text.slice(i, j), start, end: j });
      re.lastIndex = j;
    }
  }
  return boxes;
}

/** Joiners allowed between boxes that together form one multi-part answer. */
const BOX_JOINER = /^[\s$,;.]*(?:\\quad|\\qquad|and|or|&|\\text\{\s*(?:and|or)\s*\})?[\s$,;.]*$/;

function boxedAnswer(text: string): string | undefined {
  const boxes = findBoxes(text);
  if (boxes.length === 0) return undefined;
  // The final group: trailing boxes separated only by short joiners (e.g. `\boxed{2} and \boxed{3}`).
  const group = [boxes[boxes.length - 1]!];
  for (let k = boxes.length - 2; k >= 0; k--) {
    const between = text.slice(boxes[k]!.end, group[0]!.start);
    if (between.length > 24 || !BOX_JOINER.test(between)) break;
    group.unshift(boxes[k]!);
  }
  const distinct = [...new Set(group.map((b) => b.content.trim()))];
  return distinct.join(", ");
}

function afterMarker(text: string, marker: string): string | undefined {
  const at = text.lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = text.slice(at + marker.length);
  const line = rest.split("\n").find((l) => l.trim() !== "");
  return line?.trim();
}

/** The first `needle` at or after `from` that is not preceded by a backslash (`\$` is a dollar sign). */
function indexOfUnescaped(text: string, needle: string, from: number): number {
  for (let at = text.indexOf(needle, from); at >= 0; at = text.indexOf(needle, at + 1)) {
    if (needle !== "$" || text[at - 1] !== "\\") return at;
  }
  return -1;
}

const ANSWER_IS = /(?:final answer|the answer|answer)\s*(?:is|:|=)\s*(?:[:=]\s*)?/gi;

/** Text after the last "the answer is" / "final answer:", to the end of its sentence. */
function answerIs(tail: string): string | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of tail.matchAll(ANSWER_IS)) last = m as RegExpExecArray;
  if (!last) return undefined;
  let rest = tail.slice(last.index! + last[0].length).replace(/^\s+/, "");
  // Display math on the next lines ("the answer is\n$$\nx = 5\n$$").
  for (const [open, close] of [["$$", "$$"], ["\\[", "\\]"], ["\\(", "\\)"], ["$", "$"]] as const) {
    if (rest.startsWith(open)) {
      const end = indexOfUnescaped(rest, close, open.length);
      if (end > 0) return rest.slice(open.length, end).trim();
    }
  }
  const boxed = rest.startsWith("\\boxed") || rest.startsWith("\\fbox") ? boxedAnswer(rest) : undefined;
  if (boxed !== undefined) return boxed;
  rest = rest.split("\n")[0]!;
  // End of sentence: a period followed by a space or the end (not a decimal point).
  const stop = rest.search(/\.(?:\s|$)|[!?](?:\s|$)/);
  if (stop >= 0) rest = rest.slice(0, stop);
  rest = rest.replace(/\*\*/g, "").trim();
  return rest === "" ? undefined : rest;
}

/** The last inline or display math segment: `$…$`, `$$…$$`, `\(…\)`, `\[…\]`. */
function lastMath(tail: string): string | undefined {
  let best: { at: number; content: string } | undefined;
  const consider = (open: string, close: string) => {
    const end = tail.lastIndexOf(close);
    if (end < 0) return;
    const start = tail.lastIndexOf(open, end - 1);
    if (start < 0 || start + open.length > end) return;
    const content = tail.slice(start + open.length, end).trim();
    if (content !== "" && (!best || end > best.at)) best = { at: end, content };
  };
  consider("\\(", "\\)");
  consider("\\[", "\\]");
  const dollars: number[] = [];
  for (let i = 0; i < tail.length; i++) if (tail[i] === "$" && tail[i - 1] !== "\\") dollars.push(i);
  if (dollars.length >= 2) {
    let end = dollars[dollars.length - 1]!;
    let start = dollars[dollars.length - 2]!;
    if (start === end - 1 && dollars.length >= 4) {
      // `$$…$$`
      end = dollars[dollars.length - 2]!;
      start = dollars[dollars.length - 3]! - 1;
    }
    const content = tail.slice(start + 1, end).replace(/^\$|\$$/g, "").trim();
    if (content !== "" && (!best || end > best.at)) best = { at: end, content };
  }
  return best?.content;
}

/** A number with optional sign, thousands commas, decimals, a fraction or scientific notation. */
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+)?(?:[eE][-+]?\d+)?|-?\.\d+/g;

export function lastNumber(tail: string): string | undefined {
  let last: string | undefined;
  for (const m of tail.matchAll(NUMBER)) last = m[0];
  return last;
}

/**
 * Extracts the final answer, in order: the last `\boxed{}`/`\fbox{}` group,
 * GSM8K `####`, "the answer is …", the last `$…$`, then the last number
 * (unless strict).
 */
export function extractAnswer(response: string, options: ExtractOptions): Extraction | undefined {
  const boxed = boxedAnswer(response);
  if (boxed !== undefined && boxed.trim() !== "") return { answer: boxed.trim(), method: "boxed" };
  const gsm = afterMarker(response, "####");
  if (gsm !== undefined && gsm !== "") return { answer: gsm, method: "gsm8k" };
  const tail = response.length > TAIL_CHARS ? response.slice(-TAIL_CHARS) : response;
  const stated = answerIs(tail);
  if (stated !== undefined) return { answer: stated, method: "answer_is" };
  const math = lastMath(tail);
  if (math !== undefined) return { answer: math, method: "dollars" };
  if (!options.strict) {
    const n = lastNumber(tail);
    if (n !== undefined) return { answer: n, method: "last_number" };
  }
  return undefined;
}

const LETTER_PATTERNS: RegExp[] = [
  /(?:answer|choice|option)\s*(?:is|:)?\s*[:(\s]*\(?([A-Z])\)?(?![A-Za-z])/g,
  /\(([A-Z])\)/g,
  /(?:^|\s)([A-Z])[).:](?:\s|$)/g,
];

/** A multiple-choice letter: boxed, "answer is (B)", "(B)", "B)" or a lone letter. */
export function extractChoice(response: string): Extraction | undefined {
  const boxed = boxedAnswer(response);
  const fromBox = boxed?.replace(/\\text\{([^{}]*)\}/g, "$1").replace(/[\s()$]/g, "");
  if (fromBox && /^[A-Za-z]$/.test(fromBox)) return { answer: fromBox.toUpperCase(), method: "boxed" };
  const tail = response.length > TAIL_CHARS ? response.slice(-TAIL_CHARS) : response;
  for (const pattern of LETTER_PATTERNS) {
    let last: string | undefined;
    for (const m of tail.matchAll(pattern)) last = m[1];
    if (last) return { answer: last, method: "choice" };
  }
  const bare = tail.trim();
  if (/^[A-Za-z]$/.test(bare)) return { answer: bare.toUpperCase(), method: "whole" };
  return undefined;
}
