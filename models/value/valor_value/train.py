"""Meta-training of the in-context predictor over policy episodes."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as Fn

from .data import M_ROLLOUTS
from .net import ValueNet

# Held-out policies (never seen in training): every temperature of these SFT weight variants, and
# every checkpoint and temperature of these RL runs (whole runs, so no held-out checkpoint has a
# near-duplicate neighbour step in training).
HELDOUT_VARIANTS = ("noise0.25", "focus3", "focus24", "focus45+noise0.3")
HELDOUT_RL_RUNS = ("rl-dapo-l45", "rl-rloo-pool1024")
ALPHA_RANK = 0.25
# Context noise. The episode data's pass rates come from m = 8 rollouts, but in the loop a context row
# is ONE observation of a prompt by the policy (services/value support buffer): the mean reward of its
# k rollouts, k = k_init = 4 for most rows (pass rate in {0, .25, .5, .75, 1}), more where V0.5 asked
# for extra rollouts. A model trained on 8-rollout contexts reads those rows as more precise than they
# are. So most training contexts get k-rollout rates instead: k of a row's 8 rollouts drawn without
# replacement (hypergeometric, exactly the distribution of a k-rollout estimate for k <= 8); query
# targets keep the 8-rollout rates. Some contexts stay clean (the offline protocol; loop rows with
# >= 8 rollouts); the model can tell the two apart from the rates' grid.
CTX_CLEAN_FRAC = 0.25  # contexts that keep the 8-rollout rates
CTX_K_INIT = 4  # V0.5's k_init in the loop
CTX_K_INIT_FRAC = 0.8  # noisy contexts: a row has k = CTX_K_INIT rollouts with this probability, else k ~ U{5..8}


def is_rl(policy):
    return "rl_run" in policy["recipe"]


def split_policies(ds):
    """(train ids, held-out SFT-variant ids, held-out RL-checkpoint ids)."""
    tr, te_sft, te_rl = [], [], []
    for p in ds["policies"]:
        if is_rl(p):
            (te_rl if p["recipe"]["rl_run"] in HELDOUT_RL_RUNS else tr).append(p["id"])
        else:
            (te_sft if p["variant"] in HELDOUT_VARIANTS else tr).append(p["id"])
    return tr, te_sft, te_rl


class Episodes:
    """Per-policy (features, rates) arrays."""

    def __init__(self, ds, feats, pids):
        self.pids = list(pids)
        self.X = [feats[ds["idx"][p]] for p in self.pids]
        self.Y = [ds["rates"][p] for p in self.pids]
        self.prompt_idx = [ds["idx"][p] for p in self.pids]


def subsample_rates(y, rng, m=M_ROLLOUTS):
    """k-rollout pass rates drawn from m-rollout ones (per row: k = CTX_K_INIT, or uniform in k_init+1..m)."""
    k = np.where(rng.random(len(y)) < CTX_K_INIT_FRAC, CTX_K_INIT, rng.integers(CTX_K_INIT + 1, m + 1, size=len(y)))
    good = np.rint(np.asarray(y) * m).astype(np.int64)
    return (rng.hypergeometric(good, m - good, k) / k).astype(np.float32)


def sample_batch(ep: Episodes, rng, B, Q, c_min=4, c_max=256, context_noise=True):
    n_feat = ep.X[0].shape[1]
    Cs = [int(round(math.exp(rng.uniform(math.log(c_min), math.log(c_max))))) for _ in range(B)]
    Cmax = max(Cs)
    cf = np.zeros((B, Cmax, n_feat), np.float32)
    co = np.zeros((B, Cmax), np.float32)
    cm = np.zeros((B, Cmax), np.float32)
    qf = np.zeros((B, Q, n_feat), np.float32)
    qy = np.zeros((B, Q), np.float32)
    for b in range(B):
        e = rng.integers(len(ep.pids))
        X, Y = ep.X[e], ep.Y[e]
        perm = rng.permutation(len(Y))
        C = min(Cs[b], len(Y) - Q)
        ci, qi = perm[:C], perm[C:C + Q]
        # put the real rows at random positions (padding anywhere, not only at the end)
        slots = np.sort(rng.choice(Cmax, size=C, replace=False))
        yc = Y[ci]
        if context_noise and rng.random() >= CTX_CLEAN_FRAC:
            yc = subsample_rates(yc, rng)
        cf[b, slots], co[b, slots], cm[b, slots] = X[ci], yc, 1.0
        qf[b], qy[b] = X[qi], Y[qi]
    t = torch.from_numpy
    return t(cf), t(co), t(cm), t(qf), t(qy)


def loss_fn(z, y):
    ce = Fn.binary_cross_entropy_with_logits(z, y)
    pos = (y >= 0.5).float()
    neg = 1.0 - pos
    pair = pos.unsqueeze(2) * neg.unsqueeze(1)  # [B,Q,Q] i success, j failure
    diff = z.unsqueeze(2) - z.unsqueeze(1)
    npair = pair.sum()
    rank = (Fn.softplus(-diff) * pair).sum() / torch.clamp(npair, min=1.0)
    return ALPHA_RANK * rank + (1 - ALPHA_RANK) * ce, ce, rank


def train(ep: Episodes, *, n_feat=16, steps=1500, B=16, Q=64, lr=1e-3, seed=0, context_noise=True, log=print, **net_kw):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ValueNet(n_feat=n_feat, **net_kw)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    warm = 50
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    t0 = time.time()
    hist = []
    run = None
    for s in range(steps):
        cf, co, cm, qf, qy = sample_batch(ep, rng, B, Q, context_noise=context_noise)
        z = net.logits(cf, co, cm, qf)
        loss, ce, rank = loss_fn(z, qy)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        cur = np.array([loss.item(), ce.item(), rank.item()])
        run = cur if run is None else 0.98 * run + 0.02 * cur
        if (s + 1) % 100 == 0:
            hist.append({"step": s + 1, "loss": float(run[0]), "ce": float(run[1]), "rank": float(run[2])})
            log(f"step {s+1} loss {run[0]:.4f} ce {run[1]:.4f} rank {run[2]:.4f} ({time.time()-t0:.0f}s)")
    net.eval()
    noise = ({"clean_fraction": CTX_CLEAN_FRAC, "k_init": CTX_K_INIT, "k_init_fraction": CTX_K_INIT_FRAC,
              "k_else": f"uniform {CTX_K_INIT + 1}..{M_ROLLOUTS}", "draw": f"hypergeometric from the {M_ROLLOUTS} rollouts"}
             if context_noise else None)
    return net, {"steps": steps, "batch_episodes": B, "queries": Q, "lr": lr, "context_noise": noise,
                 "wall_s": time.time() - t0, "history": hist}
