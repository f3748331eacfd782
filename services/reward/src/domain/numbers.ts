// Plain-number parsing and tolerant numeric equality, without the CAS: decimals,
// integers, fractions (\frac{a}{b}, a/b), mixed numbers (1\frac{4}{5}) and
// scientific notation (1.2e3, 1.2\times 10^{3}). This is the fast path.

const DECIMAL = String.raw`\d+(?:\.\d*)?|\.\d+`;
const PLAIN = new RegExp(String.raw`^([-+])?(${DECIMAL})$`);
const SCI = new RegExp(String.raw`^([-+])?(${DECIMAL})(?:[eE]([-+]?\d+)|\s*\\(?:times|cdot)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?)$`);
const FRAC = new RegExp(String.raw`^([-+])?\\frac\{\s*([-+]?(?:${DECIMAL}))\s*\}\{\s*([-+]?(?:${DECIMAL}))\s*\}$`);
const SLASH = new RegExp(String.raw`^([-+])?(${DECIMAL})\s*/\s*(${DECIMAL})$`);
const MIXED = new RegExp(String.raw`^([-+])?(\d+)\s*\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}$`);

const sign = (s: string | undefined) => (s === "-" ? -1 : 1);

/** The value of a plain number in LaTeX, or undefined when it is not one. */
export function parsePlainNumber(latex: string): number | undefined {
  const s = latex.trim();
  let m = PLAIN.exec(s);
  if (m) return sign(m[1]) * Number(m[2]);
  m = SCI.exec(s);
  if (m) return sign(m[1]) * Number(m[2]) * 10 ** Number(m[3] ?? m[4]);
  m = MIXED.exec(s);
  if (m) return sign(m[1]) * (Number(m[2]) + Number(m[3]) / Number(m[4]));
  m = FRAC.exec(s) ?? SLASH.exec(s);
  if (m) {
    const den = Number(m[3]);
    return den === 0 ? undefined : (sign(m[1]) * Number(m[2])) / den;
  }
  return undefined;
}

/** |a - b| <= tol * max(|a|, |b|), with exact equality for zero and same-signed infinities. */
export function numbersClose(a: number, b: number, relativeTolerance: number): boolean {
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= relativeTolerance * Math.max(Math.abs(a), Math.abs(b));
}

export interface Complex {
  re: number;
  im: number;
}

export function complexClose(a: Complex, b: Complex, relativeTolerance: number): boolean {
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  if (a.re === b.re && a.im === b.im) return true;
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return false;
  return Math.hypot(a.re - b.re, a.im - b.im) <= relativeTolerance * scale;
}

/** Short display of a number for reasons. */
export function show(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(10)));
}
