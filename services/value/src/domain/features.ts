// Task features of an arithmetic prompt: 16 float32 values, a pure function of
// the prompt text. The TypeScript twin of models/value/valor_value/features.py
// (checked against its golden file); the definition is in models/value/README.md.

export const FEATURE_SIZE = 16;

type Token = number | string;

function tokens(text: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i]! >= "0" && text[i]! <= "9") {
      let j = i;
      while (j < text.length && text[j]! >= "0" && text[j]! <= "9") j++;
      out.push(Number.parseInt(text.slice(i, j), 10));
      i = j;
    } else {
      out.push(text[i]!);
      i++;
    }
  }
  return out;
}

/** Integer value with the usual precedence and parentheses; 0 when it cannot be parsed. */
export function evaluate(text: string): number {
  const toks = tokens(text);
  let pos = 0;
  const fail = new Error("malformed");
  const atom = (): number => {
    const t = toks[pos];
    if (t === "(") {
      pos++;
      const v = expr();
      if (toks[pos] !== ")") throw fail;
      pos++;
      return v;
    }
    if (typeof t === "number") {
      pos++;
      return t;
    }
    throw fail;
  };
  const term = (): number => {
    let v = atom();
    while (toks[pos] === "*") {
      pos++;
      v *= atom();
    }
    return v;
  };
  const expr = (): number => {
    let v = term();
    while (toks[pos] === "+" || toks[pos] === "-") {
      const op = toks[pos++];
      const r = term();
      v = op === "+" ? v + r : v - r;
    }
    return v;
  };
  try {
    const v = expr();
    return pos === toks.length ? v : 0;
  } catch {
    return 0;
  }
}

function carries(a: number, b: number, op: string): number {
  let n = 0;
  let carry = 0;
  if (op === "+") {
    while (a > 0 || b > 0) {
      carry = (a % 10) + (b % 10) + carry >= 10 ? 1 : 0;
      n += carry;
      a = Math.floor(a / 10);
      b = Math.floor(b / 10);
    }
    return n;
  }
  let hi = Math.max(a, b);
  let lo = Math.min(a, b);
  while (hi > 0 || lo > 0) {
    carry = (hi % 10) - (lo % 10) - carry < 0 ? 1 : 0;
    n += carry;
    hi = Math.floor(hi / 10);
    lo = Math.floor(lo / 10);
  }
  return n;
}

export function promptFeatures(prompt: string): Float32Array {
  let text = prompt.replace(/\s/g, "");
  if (text.endsWith("=")) text = text.slice(0, -1);
  const toks = tokens(text);
  const nums = toks.filter((t): t is number => typeof t === "number");
  const ops = toks.filter((t): t is string => t === "+" || t === "-" || t === "*");
  const hasParen = text.includes("(");
  const level = hasParen ? 5 : ops.length >= 2 ? 4 : ops.length === 1 && ops[0] === "*" ? 3 : nums.every((n) => n < 10) ? 1 : 2;
  const answer = evaluate(text);
  const f = new Float32Array(FEATURE_SIZE);
  f[level - 1] = 1;
  f[5] = ops.filter((o) => o === "+").length;
  f[6] = ops.filter((o) => o === "-").length;
  f[7] = ops.filter((o) => o === "*").length;
  f[8] = hasParen ? 1 : 0;
  for (let i = 0; i < 3 && i < nums.length; i++) f[9 + i] = Math.log10(1 + nums[i]!) / 2;
  f[12] = text.length / 10;
  f[13] = answer < 0 ? 1 : 0;
  f[14] = Math.log10(1 + Math.abs(answer)) / 4;
  if (ops.length === 1 && (ops[0] === "+" || ops[0] === "-") && nums.length === 2 && !hasParen) f[15] = carries(nums[0]!, nums[1]!, ops[0]) / 2;
  return f;
}

/** Features by prompt text, computed once; cleared when it reaches its size. */
export class FeatureCache {
  readonly size = FEATURE_SIZE;
  private readonly cache = new Map<string, Float32Array>();

  constructor(private readonly capacity: number) {}

  of(text: string): Float32Array {
    let f = this.cache.get(text);
    if (!f) {
      f = promptFeatures(text);
      if (this.cache.size >= this.capacity) this.cache.clear();
      if (this.capacity > 0) this.cache.set(text, f);
    }
    return f;
  }
}
