"""Supervised warm start (teacher forcing on train-split problems) and greedy evaluation."""
from __future__ import annotations

import math
import time

import torch

from . import model as M
from . import task

MAX_NEW_TOKENS = 6  # longest answer is 4 chars + <eos>


def make_batch(problems, device="cpu"):
    """Right-padded SFT batch; response_mask marks answer chars + <eos>."""
    seqs, rms = [], []
    for p in problems:
        pr = task.encode_prompt(p.prompt)
        rs = task.encode_response(str(p.answer))
        seqs.append(pr + rs)
        rms.append([0] * len(pr) + [1] * len(rs))
    T = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.int32)
    am = torch.zeros(len(seqs), T)
    rm = torch.zeros(len(seqs), T)
    for i, (s, r) in enumerate(zip(seqs, rms)):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.int32)
        am[i, :len(s)] = 1
        rm[i, :len(s)] = torch.tensor(r, dtype=torch.float32)
    pos = torch.arange(T, dtype=torch.int32).repeat(len(seqs), 1)
    return ids, pos, am, rm


def left_pad_prompts(prompts):
    enc = [task.encode_prompt(p) for p in prompts]
    T = max(len(e) for e in enc)
    ids = torch.zeros(len(enc), T, dtype=torch.int32)
    am = torch.zeros(len(enc), T)
    for i, e in enumerate(enc):
        ids[i, T - len(e):] = torch.tensor(e, dtype=torch.int32)
        am[i, T - len(e):] = 1
    pos = torch.clamp(torch.cumsum(am, 1) - 1, min=0).to(torch.int32)
    return ids, pos, am


@torch.no_grad()
def greedy(spec, flat, prompts, max_new=MAX_NEW_TOKENS):
    """Batched greedy decoding with the KV-cache path (prefill + decode steps)."""
    ids, pos, am = left_pad_prompts(prompts)
    logits, pk, pv = M.forward(spec, flat, ids, pos, am)
    nxt = logits[:, -1].argmax(-1).to(torch.int32)
    cur_pos = pos[:, -1]
    out = [nxt]
    for _ in range(max_new - 1):
        cur_pos = cur_pos + 1
        am = torch.cat([am, torch.ones(am.shape[0], 1)], 1)
        logits, pk, pv = M.forward(spec, flat, nxt[:, None], cur_pos[:, None], am, pk, pv)
        nxt = logits[:, -1].argmax(-1).to(torch.int32)
        out.append(nxt)
    gen = torch.stack(out, 1)
    return [task.decode(row.tolist()) for row in gen]


def evaluate(spec, flat, problems, bs=512):
    correct = {}
    for i in range(0, len(problems), bs):
        chunk = problems[i:i + bs]
        for p, r in zip(chunk, greedy(spec, flat, [q.prompt for q in chunk])):
            correct.setdefault(p.level, []).append(task.check_answer(r, p.answer))
    per = {lv: sum(v) / len(v) for lv, v in sorted(correct.items())}
    n = sum(len(v) for v in correct.values())
    overall = sum(sum(v) for v in correct.values()) / n
    return overall, per, {lv: len(v) for lv, v in sorted(correct.items())}


def test_set(per_level=200, seed=12345):
    """Unique test-split prompts, up to `per_level` per level (level 1 has only ~24)."""
    out = []
    for lv in task.LEVELS:
        seen, probs = set(), []
        for p in task.generate(seed + lv, 4 * per_level, "test", [lv]):
            if p.prompt not in seen:
                seen.add(p.prompt)
                probs.append(p)
            if len(probs) >= per_level:
                break
        out += probs
    return out


def sft_loss(spec, flat, ids, pos, am, rm):
    logits, _, _ = M.forward(spec, flat, ids, pos, am)
    lp, _, _ = M.token_stats(spec, logits, ids)
    return -(lp * rm).sum() / rm.sum()


def train(spec, *, seed=0, steps=1500, batch_size=128, lr=3e-3, warmup=100, weight_decay=0.01,
          eval_every=500, stop_above=0.45, log=print):
    """Deterministic warm start; stops at the first evaluation whose overall greedy test
    accuracy exceeds `stop_above` (keeps room for RL)."""
    torch.manual_seed(seed)
    flat = M.init_params(spec, seed)
    m = torch.zeros_like(flat)
    v = torch.zeros_like(flat)
    step = torch.tensor(0.0)
    f32 = lambda x: torch.tensor(float(x))
    hp = {"beta1": f32(0.9), "beta2": f32(0.98), "eps": f32(1e-8),
          "weight_decay": f32(weight_decay), "max_grad_norm": f32(1.0)}
    data = task.generate(seed + 1000, steps * batch_size, "train")
    tests = test_set() if eval_every else []
    history = []
    t0 = time.time()
    for s in range(steps):
        ids, pos, am, rm = make_batch(data[s * batch_size:(s + 1) * batch_size])
        p = flat.detach().requires_grad_(True)
        loss = sft_loss(spec, p, ids, pos, am, rm)
        (g,) = torch.autograd.grad(loss, p)
        frac = s / max(1, steps - 1)
        cur = lr * min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        hp["lr"] = f32(cur)
        with torch.no_grad():
            flat, m, v, step, gn = M.adamw_update(spec, flat.detach(), g, m, v, step, hp)
        if (s + 1) % 50 == 0:
            log(f"step {s+1} loss {loss.item():.4f} gnorm {gn.item():.3f} lr {cur:.2e} {time.time()-t0:.0f}s")
        if eval_every and ((s + 1) % eval_every == 0 or s + 1 == steps):
            overall, per, _ = evaluate(spec, flat, tests)
            history.append({"step": s + 1, "overall": overall, "per_level": per, "wall_s": time.time() - t0})
            log(f"  eval step {s+1}: overall {overall:.3f} per level {per}")
            if overall > stop_above:
                break
    return flat.detach(), history, time.time() - t0
