// LaTeX answer normalisation: the textual rules applied before any comparison.
// Each rule is a named, ordered step so a verdict can say what was removed.

export interface Normalized {
  /** Normalised LaTeX, single-spaced, for parsing. */
  latex: string;
  /** `latex` without any whitespace, for string equality. */
  key: string;
  /** A percent sign was present (and removed). */
  percent: boolean;
}

/** Words dropped after a numeric answer: units, currencies and filler. */
const UNIT_WORDS = new Set(
  (
    "cm mm m km inch inches in ft feet foot yd yard yards mile miles meter meters metre metres centimeter centimeters " +
    "kilometer kilometers millimeter millimeters sq square units unit cubic g kg gram grams kilogram kilograms mg lb lbs " +
    "pound pounds ounce ounces oz l ml liter liters litre litres gallon gallons s sec second seconds min minute minutes " +
    "h hr hrs hour hours day days week weeks month months year years dollar dollars cent cents euro euros usd " +
    "degree degrees deg mph kph km/h m/s percent points point students people apples cookies marbles pages times " +
    "ways items tickets rows boxes books cars eggs pies cups candies bags trees"
  ).split(" "),
);

/** Replaces `\cmd{arg}` (balanced braces) with `replace(arg)`. */
export function replaceCommand(text: string, command: string, replace: (arg: string) => string): string {
  let out = "";
  let from = 0;
  for (;;) {
    const at = text.indexOf(command, from);
    if (at < 0) return out + text.slice(from);
    let i = at + command.length;
    // `\text` must not match `\textbf`: the command ends at a non-letter.
    if (/[A-Za-z]/.test(text[i] ?? "")) {
      out += text.slice(from, i);
      from = i;
      continue;
    }
    while (text[i] === " ") i++;
    if (text[i] !== "{") {
      out += text.slice(from, i);
      from = i;
      continue;
    }
    let depth = 0;
    let j = i;
    for (; j < text.length; j++) {
      if (text[j] === "\\") {
        j++;
        continue;
      }
      if (text[j] === "{") depth++;
      else if (text[j] === "}" && --depth === 0) break;
    }
    if (j >= text.length) return out + text.slice(from);
    out += text.slice(from, at) + replace(text.slice(i + 1, j));
    from = j + 1;
  }
}

const TEXT_COMMANDS = ["\\text", "\\textnormal", "\\textup", "\\textsf", "\\texttt", "\\textbf", "\\textit", "\\textrm", "\\mathrm", "\\mathbf", "\\mathit", "\\mbox", "\\operatorname"];

function stripDelimiters(s: string): string {
  let t = s.trim();
  for (;;) {
    const before = t;
    for (const [open, close] of [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]] as const) {
      if (t.startsWith(open) && t.endsWith(close) && t.length >= open.length + close.length) {
        t = t.slice(open.length, t.length - close.length).trim();
      }
    }
    if (t === before) return t;
  }
}

/** Drops trailing unit words after a numeric-looking head: "15 cm^2" → "15" (token scan, no backtracking). */
function dropUnits(s: string): string {
  const tokens = s.split(" ");
  let keep = tokens.length;
  while (keep > 1) {
    const word = tokens[keep - 1]!.replace(/\^\{?\d\}?$/, "").toLowerCase();
    if (!UNIT_WORDS.has(word)) break;
    keep--;
  }
  if (keep === tokens.length) return s;
  const head = tokens.slice(0, keep).join(" ");
  return /[\d}.)]$/.test(head) ? head : s;
}

/** Removes thousands separators from a lone number: 1,000 → 1000; 1 000 → 1000 (not inside brackets). */
function dropThousands(s: string): string {
  if (/^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/,/g, "");
  if (/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/ /g, "");
  return s;
}

/** 2.50 → 2.5, 3.0 → 3, in every decimal number. */
function dropTrailingZeros(s: string): string {
  return s.replace(/(\d+)\.(\d*?)0+(?![\d])/g, (_, int: string, frac: string) => (frac === "" ? int : `${int}.${frac}`));
}

export function normalizeAnswer(raw: string): Normalized {
  let s = stripDelimiters(raw.replace(/\r?\n/g, " "));
  s = s.replace(/\\(?:displaystyle|left|right|Bigg|bigg|Big|big)(?![A-Za-z])/g, "");
  s = s.replace(/\\(?:d|t)frac/g, "\\frac");
  // Spacing commands and escaped dollars.
  s = s.replace(/\\\\|\\!|\\[,;:> ]|~|\\q?quad(?![A-Za-z])/g, (m) => (m === "\\\\" ? m : m === "\\!" ? "" : " "));
  s = s.replace(/\\\$|\$/g, "");
  // Degrees.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree/g, "");
  // Percent.
  let percent = false;
  s = s.replace(/\\%|%|\\text\{\s*percent\s*\}/g, () => {
    percent = true;
    return "";
  });
  // \text{…}, \mathrm{…}: keep the words, drop the command.
  for (const cmd of TEXT_COMMANDS) s = replaceCommand(s, cmd, (arg) => ` ${arg} `);
  s = s.replace(/\s+/g, " ").trim();
  s = s.replace(/\s*(?:degrees?|deg)$/i, "");
  s = dropUnits(s.replace(/\s+\^/g, "^"));
  // Leading `x =`, `x \in`: a single variable naming the answer.
  const lead = /^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*(?:=|\\in)\s*/.exec(s);
  if (lead && !s.slice(lead[0].length).includes("=")) s = s.slice(lead[0].length);
  // \frac12 → \frac{1}{2}, \frac 34, \frac9{19}, \sqrt2 → \sqrt{2}.
  s = s.replace(/\\frac\s*(\d)\s*(\d)/g, "\\frac{$1}{$2}");
  s = s.replace(/\\frac\s*(\d)\s*\{/g, "\\frac{$1}{");
  s = s.replace(/\\frac\s*\{([^{}]*)\}\s*(\d)/g, "\\frac{$1}{$2}");
  s = s.replace(/\\sqrt\s*(\d+|[A-Za-z])/g, "\\sqrt{$1}");
  s = s.replace(/\\(?:cdot|times)\s*(?=\d)/g, "\\cdot ");
  s = s.replace(/^\.(\d)/, "0.$1").replace(/^-\.(\d)/, "-0.$1");
  s = s.replace(/\s+/g, " ").trim().replace(/[.\s]+$/, "");
  s = dropThousands(s);
  s = dropTrailingZeros(s);
  return { latex: s, key: s.replace(/\s+/g, ""), percent };
}
