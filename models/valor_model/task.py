"""Built-in verifiable task family: integer arithmetic with graded difficulty.

Everything here is deliberately simple to re-implement bit-for-bit in TypeScript
(see test/models/arith-task.ts): a mulberry32 PRNG, FNV-1a split hashing, and a
character tokenizer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

M32 = 0xFFFFFFFF

# ----------------------------------------------------------------------------- PRNG


class Mulberry32:
    """mulberry32, identical to the usual JavaScript one-liner (uint32 state)."""

    def __init__(self, seed: int):
        self.state = seed & M32

    def next_float(self) -> float:
        self.state = (self.state + 0x6D2B79F5) & M32
        a = self.state
        t = ((a ^ (a >> 15)) * (1 | a)) & M32
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & M32)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    def randint(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi] (inclusive)."""
        return lo + int(self.next_float() * (hi - lo + 1))


# ----------------------------------------------------------------------------- split


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & M32
    return h


TEST_MODULUS = 10  # fnv1a32(prompt) % 10 == 0  ->  test split (~10 %)


def split_of(prompt: str) -> str:
    return "test" if fnv1a32(prompt) % TEST_MODULUS == 0 else "train"


# ----------------------------------------------------------------------------- problems

LEVELS = (1, 2, 3, 4, 5)
LEVEL_DESCRIPTIONS = {
    1: "a±b, a,b in [0,9] (answer may be negative)",
    2: "a±b, a,b in [10,99] (carries / borrows, negative answers)",
    3: "a*b, one factor in [10,99], the other in [2,9] (order random)",
    4: "three operands with precedence: a*b+c, a*b-c, a+b*c, a-b*c; a,b,c in [2,19]",
    5: "parentheses: (a+b)*c, (a-b)*c, c*(a+b), c*(a-b); a,b in [2,49], c in [2,9]",
}


@dataclass(frozen=True)
class Problem:
    prompt: str  # e.g. "12*7-5=" (always ends with '=')
    answer: int
    level: int
    split: str


def make_problem(rng: Mulberry32, level: int) -> tuple[str, int]:
    if level == 1 or level == 2:
        lo, hi = (0, 9) if level == 1 else (10, 99)
        a = rng.randint(lo, hi)
        b = rng.randint(lo, hi)
        if rng.next_float() < 0.5:
            return f"{a}+{b}=", a + b
        return f"{a}-{b}=", a - b
    if level == 3:
        a = rng.randint(10, 99)
        b = rng.randint(2, 9)
        if rng.next_float() < 0.5:
            return f"{a}*{b}=", a * b
        return f"{b}*{a}=", a * b
    if level == 4:
        a = rng.randint(2, 19)
        b = rng.randint(2, 19)
        c = rng.randint(2, 19)
        k = rng.randint(0, 3)
        if k == 0:
            return f"{a}*{b}+{c}=", a * b + c
        if k == 1:
            return f"{a}*{b}-{c}=", a * b - c
        if k == 2:
            return f"{a}+{b}*{c}=", a + b * c
        return f"{a}-{b}*{c}=", a - b * c
    if level == 5:
        a = rng.randint(2, 49)
        b = rng.randint(2, 49)
        c = rng.randint(2, 9)
        k = rng.randint(0, 3)
        if k == 0:
            return f"({a}+{b})*{c}=", (a + b) * c
        if k == 1:
            return f"({a}-{b})*{c}=", (a - b) * c
        if k == 2:
            return f"{c}*({a}+{b})=", c * (a + b)
        return f"{c}*({a}-{b})=", c * (a - b)
    raise ValueError(f"unknown level {level}")


def generate(seed: int, count: int, split: str = "train", levels=LEVELS) -> list[Problem]:
    """Deterministic stream: for each draw, level = levels[floor(u*len)], then the
    operands; problems whose split differs from `split` are skipped ("any" keeps all).
    Duplicates are kept (the stream is i.i.d.)."""
    rng = Mulberry32(seed)
    levels = list(levels)
    out: list[Problem] = []
    while len(out) < count:
        level = levels[int(rng.next_float() * len(levels))]
        prompt, answer = make_problem(rng, level)
        s = split_of(prompt)
        if split == "any" or s == split:
            out.append(Problem(prompt, answer, level, s))
    return out


def check_answer(response: str, answer: int) -> bool:
    """Exact integer match: the response text (EOS stripped) must be a canonical integer."""
    r = response.strip()
    try:
        return str(int(r)) == r and int(r) == answer
    except ValueError:
        return False


# ----------------------------------------------------------------------------- tokenizer

SPECIALS = ["<pad>", "<bos>", "<eos>"]
CHARS = list("0123456789+-*()=")
VOCAB = SPECIALS + CHARS
PAD, BOS, EOS = 0, 1, 2
STOI = {c: i for i, c in enumerate(VOCAB)}


def encode_prompt(prompt: str) -> list[int]:
    return [BOS] + [STOI[c] for c in prompt]


def encode_response(text: str) -> list[int]:
    return [STOI[c] for c in text] + [EOS]


def decode(ids) -> str:
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i < len(SPECIALS):
            continue
        out.append(VOCAB[i])
    return "".join(out)


def vocab_json() -> str:
    return json.dumps(
        {
            "tokens": VOCAB,
            "pad_id": PAD,
            "bos_id": BOS,
            "eos_id": EOS,
            "format": "ids = [bos] + chars(prompt); response = chars(answer) + [eos]",
        },
        indent=2,
    )
