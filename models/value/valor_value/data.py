"""Episodes = policies of the built-in arithmetic task.

A policy = (weights variant, sampling temperature). Weight variants are made cheaply from
the committed SFT warm start (models/artifacts/weights.bin):
  * base                     the committed weights
  * noise(sigma, seed)       per-tensor Gaussian perturbation: w + sigma * std(w_tensor) * N(0,1)
                             (only the matrices/embeddings; LayerNorm and biases untouched)
  * focus(levels, steps, s)  a short SFT continuation (same loss/optimizer as valor_model.sft,
                             lr 1e-3 constant, batch 64) on a subset of levels -> shifts the
                             per-level profile (stronger there, possibly forgetting elsewhere)
  * mix                      focus followed by noise
and from RL-step checkpoints of `valor train` runs (models/value/rl-checkpoints.yaml), exported
by `valor export-checkpoints` to <rl_dir>/<run>/step-<n>.bin (+ .json with the sha256):
  * rl(run, step)            the learner's params after RL step n of that run
crossed with temperatures. For each policy, pass rates of a prompt set (train split, all five
levels) are estimated with m = 8 sampled rollouts (torch, batched, KV cache).

Prompt pool: unique train-split prompts from task.generate(seed=777, ...), POOL_PER_LEVEL per
level (level 1 has only ~176 distinct train prompts). Each policy is measured on a random
subset of N_PER_POLICY pool prompts (seeded per policy), so prompts recur across policies
(needed by the per-prompt history baseline).
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import time

import numpy as np
import torch

from valor_model import model as M
from valor_model import sft, task

M_ROLLOUTS = 8
POOL_PER_LEVEL = 240
N_PER_POLICY = 400
MAX_NEW = sft.MAX_NEW_TOKENS


def prompt_pool(per_level=POOL_PER_LEVEL, seed=777):
    out = []
    for lv in task.LEVELS:
        seen = set()
        for p in task.generate(seed + lv, 20 * per_level, "train", [lv]):
            if p.prompt not in seen:
                seen.add(p.prompt)
                out.append(p)
            if len(seen) >= per_level:
                break
    return out


@torch.no_grad()
def sample_pass(spec, flat, problems, temperature, m, gen):
    """Returns number of correct samples per problem (m samples each)."""
    prompts = [p.prompt for p in problems for _ in range(m)]
    answers = [p.answer for p in problems for _ in range(m)]
    ids, pos, am = sft.left_pad_prompts(prompts)
    logits, pk, pv = M.forward(spec, flat, ids, pos, am)

    def draw(lg):
        if temperature <= 0:
            return lg.argmax(-1).to(torch.int32)
        pr = torch.softmax(lg / temperature, -1)
        return torch.multinomial(pr, 1, generator=gen).squeeze(-1).to(torch.int32)

    nxt = draw(logits[:, -1])
    cur = pos[:, -1]
    out = [nxt]
    for _ in range(MAX_NEW - 1):
        cur = cur + 1
        am = torch.cat([am, torch.ones(am.shape[0], 1)], 1)
        logits, pk, pv = M.forward(spec, flat, nxt[:, None], cur[:, None], am, pk, pv)
        nxt = draw(logits[:, -1])
        out.append(nxt)
    gen_ids = torch.stack(out, 1).tolist()
    ok = np.array([task.check_answer(task.decode(r), a) for r, a in zip(gen_ids, answers)], dtype=np.float32)
    return ok.reshape(len(problems), m).sum(1)


def perturb(spec, flat, sigma, seed):
    g = torch.Generator().manual_seed(seed)
    out = flat.clone()
    for name in spec.names:
        shape, off = spec.shapes[name], spec.offsets[name]
        if len(shape) < 2:
            continue
        n = math.prod(shape)
        w = out[off:off + n]
        out[off:off + n] = w + sigma * w.std() * torch.randn(n, generator=g)
    return out


def focus(spec, flat, levels, steps, seed, lr=1e-3, bs=64):
    data = task.generate(5000 + seed, steps * bs, "train", levels)
    m = torch.zeros_like(flat)
    v = torch.zeros_like(flat)
    step = torch.tensor(0.0)
    f32 = lambda x: torch.tensor(float(x))
    hp = {"beta1": f32(0.9), "beta2": f32(0.98), "eps": f32(1e-8), "weight_decay": f32(0.01),
          "max_grad_norm": f32(1.0), "lr": f32(lr)}
    for s in range(steps):
        ids, pos, am, rm = sft.make_batch(data[s * bs:(s + 1) * bs])
        p = flat.detach().requires_grad_(True)
        loss = sft.sft_loss(spec, p, ids, pos, am, rm)
        (g,) = torch.autograd.grad(loss, p)
        with torch.no_grad():
            flat, m, v, step, _ = M.adamw_update(spec, flat.detach(), g, m, v, step, hp)
    return flat.detach()


def weight_variants():
    """(name, recipe) list; recipe is a dict interpreted by make_weights."""
    V = [("base", {})]
    for i, sg in enumerate([0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]):
        V.append((f"noise{sg}", {"noise": sg, "seed": 10 + i}))
    subsets = [[1, 2], [3], [4], [5], [4, 5], [2, 3], [1, 3, 5], [2, 4]]
    for i, lv in enumerate(subsets):
        V.append((f"focus{''.join(map(str, lv))}", {"focus": lv, "steps": 60, "seed": 20 + i}))
    for i, (lv, sg) in enumerate([([4, 5], 0.3), ([3], 0.25), ([2], 0.35), ([5], 0.2), ([1, 4], 0.3)]):
        V.append((f"focus{''.join(map(str, lv))}+noise{sg}", {"focus": lv, "steps": 60, "seed": 40 + i,
                                                              "noise": sg}))
    return V


def rl_variants(rl_dir):
    """One variant per exported RL checkpoint, run by run (sorted), step by step."""
    V = []
    for run in sorted(os.listdir(rl_dir)):
        metas = [json.load(open(p)) for p in glob.glob(os.path.join(rl_dir, run, "step-*.json"))]
        for m in sorted(metas, key=lambda m: m["step"]):
            V.append((f"{run}@{m['step']}", {"rl_run": run, "step": m["step"], "sha256": m["sha256"]}))
    if not V:
        raise FileNotFoundError(f"no RL checkpoints under {rl_dir}")
    return V


def load_rl_checkpoint(spec, rl_dir, recipe):
    raw = open(os.path.join(rl_dir, recipe["rl_run"], f"step-{recipe['step']}.bin"), "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != recipe["sha256"]:
        raise ValueError(f"RL checkpoint {recipe['rl_run']}@{recipe['step']}: sha256 {digest}, expected {recipe['sha256']}")
    arr = np.frombuffer(raw, dtype="<f4")
    assert arr.size == spec.n_params, (arr.size, spec.n_params)
    return torch.from_numpy(arr.astype(np.float32))


TEMPERATURES = [0.5, 0.8, 1.1, 1.5]


def make_weights(spec, base, recipe, rl_dir=None):
    if "rl_run" in recipe:
        return load_rl_checkpoint(spec, rl_dir, recipe)
    w = base
    if "focus" in recipe:
        w = focus(spec, w, recipe["focus"], recipe["steps"], recipe["seed"])
    if "noise" in recipe:
        w = perturb(spec, w, recipe["noise"], recipe["seed"])
    return w


def generate_dataset(spec, base, out_path, rl_dir, log=print, variants=None, temps=None):
    """Policies: the SFT variants, then the RL checkpoints under rl_dir, each at every temperature."""
    torch.manual_seed(0)
    pool = prompt_pool()
    prompts = [p.prompt for p in pool]
    levels = np.array([p.level for p in pool], dtype=np.int32)
    variants = variants or weight_variants() + rl_variants(rl_dir)
    temps = temps or TEMPERATURES
    policies, idx_list, rates_list = [], [], []
    t0 = time.time()
    for vi, (vname, recipe) in enumerate(variants):
        w = make_weights(spec, base, recipe, rl_dir)
        for ti, T in enumerate(temps):
            pid = len(policies)
            rng = np.random.default_rng(1000 + pid)
            idx = np.sort(rng.choice(len(pool), size=min(N_PER_POLICY, len(pool)), replace=False))
            gen = torch.Generator().manual_seed(2000 + pid)
            ks = []
            for c in range(0, len(idx), 256):
                ks.append(sample_pass(spec, w, [pool[i] for i in idx[c:c + 256]], T, M_ROLLOUTS, gen))
            rates = np.concatenate(ks) / M_ROLLOUTS
            per_level = {int(lv): float(rates[levels[idx] == lv].mean()) for lv in task.LEVELS}
            policies.append({"id": pid, "variant": vname, "recipe": recipe, "temperature": T,
                             "mean_pass": float(rates.mean()), "per_level": per_level})
            idx_list.append(idx)
            rates_list.append(rates.astype(np.float32))
            log(f"policy {pid} {vname} T={T}: mean {rates.mean():.3f} per level "
                f"{[round(v, 2) for v in per_level.values()]} ({time.time() - t0:.0f}s)")
    np.savez_compressed(out_path, prompts=np.array(prompts), levels=levels,
                        idx=np.stack(idx_list), rates=np.stack(rates_list),
                        policies=np.array(json.dumps(policies)))
    return out_path


def load_dataset(path):
    z = np.load(path, allow_pickle=False)
    return {"prompts": [str(p) for p in z["prompts"]], "levels": z["levels"], "idx": z["idx"],
            "rates": z["rates"], "policies": json.loads(str(z["policies"]))}
