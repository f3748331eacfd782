"""Task features of an arithmetic prompt: F = 16 float32 values, a pure function of the
prompt string (the TypeScript value service re-implements it; see ../README.md and
artifacts/features-golden.json).

Definition (prompt = the text, optionally ending in '='; the '=' and any whitespace are dropped):
  numbers  = maximal runs of digits, left to right (operands; all non-negative)
  ops      = the characters '+', '-', '*' in order
  level    = 5 if '(' in the text; else 4 if len(ops) >= 2; else 3 if ops == ['*'];
             else 1 if every operand < 10; else 2
  answer   = integer value of the expression (usual precedence, parentheses), 0 if it cannot be parsed
  f[0..4]  = one-hot(level)  (level 1 -> f[0])
  f[5]     = count('+'),  f[6] = count('-'),  f[7] = count('*')
  f[8]     = 1 if '(' in the text else 0
  f[9..11] = log10(1 + operand_i) / 2 for the first three operands (0 where absent)
  f[12]    = len(text without '=') / 10
  f[13]    = 1 if answer < 0 else 0
  f[14]    = log10(1 + |answer|) / 4
  f[15]    = carries / 2: only for a single '+' or '-' (levels 1-2), the number of column
             carries of a+b, or borrows of max(a,b)-min(a,b), computed digit by digit from
             the units; 0 otherwise.
"""
from __future__ import annotations

import math

import numpy as np

F = 16


def _tokens(text: str):
    toks, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            toks.append(int(text[i:j]))
            i = j
        else:
            toks.append(c)
            i += 1
    return toks


def evaluate(text: str) -> int:
    """Recursive descent: expr = term (('+'|'-') term)*; term = atom ('*' atom)*;
    atom = integer | '(' expr ')'. Returns 0 on malformed input."""
    toks = _tokens(text)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def atom():
        t = peek()
        if t == "(":
            pos[0] += 1
            v = expr()
            if peek() != ")":
                raise ValueError
            pos[0] += 1
            return v
        if isinstance(t, int):
            pos[0] += 1
            return t
        raise ValueError

    def term():
        v = atom()
        while peek() == "*":
            pos[0] += 1
            v = v * atom()
        return v

    def expr():
        v = term()
        while peek() in ("+", "-"):
            op = peek()
            pos[0] += 1
            r = term()
            v = v + r if op == "+" else v - r
        return v

    try:
        v = expr()
        if pos[0] != len(toks):
            return 0
        return v
    except ValueError:
        return 0


def _carries(a: int, b: int, op: str) -> int:
    n = 0
    carry = 0
    if op == "+":
        while a > 0 or b > 0:
            s = a % 10 + b % 10 + carry
            carry = 1 if s >= 10 else 0
            n += carry
            a //= 10
            b //= 10
        return n
    hi, lo = max(a, b), min(a, b)
    while hi > 0 or lo > 0:
        d = hi % 10 - lo % 10 - carry
        carry = 1 if d < 0 else 0
        n += carry
        hi //= 10
        lo //= 10
    return n


def prompt_features(prompt: str) -> list[float]:
    text = "".join(c for c in prompt if not c.isspace())
    if text.endswith("="):
        text = text[:-1]
    toks = _tokens(text)
    nums = [t for t in toks if isinstance(t, int)]
    ops = [t for t in toks if t in ("+", "-", "*")]
    has_paren = "(" in text
    if has_paren:
        level = 5
    elif len(ops) >= 2:
        level = 4
    elif ops == ["*"]:
        level = 3
    elif all(n < 10 for n in nums):
        level = 1
    else:
        level = 2
    ans = evaluate(text)
    f = [0.0] * F
    f[level - 1] = 1.0
    f[5] = float(ops.count("+"))
    f[6] = float(ops.count("-"))
    f[7] = float(ops.count("*"))
    f[8] = 1.0 if has_paren else 0.0
    for i in range(3):
        if i < len(nums):
            f[9 + i] = math.log10(1.0 + nums[i]) / 2.0
    f[12] = len(text) / 10.0
    f[13] = 1.0 if ans < 0 else 0.0
    f[14] = math.log10(1.0 + abs(ans)) / 4.0
    if len(ops) == 1 and ops[0] in ("+", "-") and len(nums) == 2 and not has_paren:
        f[15] = _carries(nums[0], nums[1], ops[0]) / 2.0
    # round-trip through float32 so Python, ONNX and TS agree on the stored values
    return [float(x) for x in np.asarray(f, dtype=np.float32)]


def features_matrix(prompts) -> np.ndarray:
    return np.asarray([prompt_features(p) for p in prompts], dtype=np.float32).reshape(-1, F)
