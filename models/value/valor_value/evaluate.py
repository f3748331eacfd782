"""Evaluation on held-out policies: intra-context AUC, Brier, ECE for the model and baselines."""
from __future__ import annotations

import numpy as np
import torch

CONTEXT_SIZES = (32, 64, 128, 256)
REPEATS = 8
KNN_KS = (4, 8, 16)


def auc(pred, label):
    pos, neg = pred[label], pred[~label]
    if len(pos) == 0 or len(neg) == 0:
        return None
    d = pos[:, None] - neg[None, :]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def ece(pred, rate, bins=10):
    b = np.minimum((pred * bins).astype(int), bins - 1)
    tot = 0.0
    for i in range(bins):
        m = b == i
        if m.any():
            tot += m.sum() / len(pred) * abs(pred[m].mean() - rate[m].mean())
    return float(tot)


def history_table(ds, train_pids):
    """Per prompt: mean pass rate over the training policies that measured it (NaN if none)."""
    n = len(ds["prompts"])
    s, c = np.zeros(n), np.zeros(n)
    for p in train_pids:
        np.add.at(s, ds["idx"][p], ds["rates"][p])
        np.add.at(c, ds["idx"][p], 1)
    with np.errstate(invalid="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def knn_predict(cx, cy, qx, k):
    d = ((qx[:, None, :] - cx[None, :, :]) ** 2).sum(-1)
    k = min(k, len(cy))
    nn = np.argpartition(d, k - 1, axis=1)[:, :k]
    return cy[nn].mean(1)


def evaluate(predict_fns, ds, feats, test_pids, hist, seed=123, sizes=CONTEXT_SIZES, repeats=REPEATS):
    """predict_fns: name -> fn(cx, cy, qx, q_prompt_idx) -> p̂ [Q]. Returns nested metrics."""
    rng = np.random.default_rng(seed)
    res = {}
    for C in sizes:
        acc = {name: {"auc": [], "lauc": [], "brier": [], "pred": [], "rate": []} for name in predict_fns}
        for p in test_pids:
            X, Y, I = feats[ds["idx"][p]], ds["rates"][p], ds["idx"][p]
            LV = ds["levels"][I]
            for _ in range(repeats):
                perm = rng.permutation(len(Y))
                ci, qi = perm[:C], perm[C:]
                for name, fn in predict_fns.items():
                    pr = np.clip(np.asarray(fn(X[ci], Y[ci], X[qi], I[qi]), dtype=np.float64), 0, 1)
                    a = auc(pr, Y[qi] >= 0.5)
                    if a is not None:
                        acc[name]["auc"].append(a)
                    la = [auc(pr[LV[qi] == lv], Y[qi][LV[qi] == lv] >= 0.5) for lv in range(1, 6)]
                    la = [x for x in la if x is not None]
                    if la:
                        acc[name]["lauc"].append(float(np.mean(la)))
                    acc[name]["brier"].append(float(((pr - Y[qi]) ** 2).mean()))
                    acc[name]["pred"].append(pr)
                    acc[name]["rate"].append(Y[qi])
        res[C] = {}
        for name, a in acc.items():
            pr, rt = np.concatenate(a["pred"]), np.concatenate(a["rate"])
            res[C][name] = {"intra_auc": float(np.mean(a["auc"])), "intra_auc_std": float(np.std(a["auc"])),
                            "within_level_auc": float(np.mean(a["lauc"])) if a["lauc"] else None,
                            "brier": float(np.mean(a["brier"])), "ece": ece(pr, rt),
                            "n_contexts": len(a["brier"]), "n_queries": int(len(pr))}
    return res


def baselines(hist, ks=KNN_KS):
    fns = {
        "global_mean": lambda cx, cy, qx, qi: np.full(len(qx), cy.mean()),
        "prompt_history": lambda cx, cy, qx, qi: np.where(np.isnan(hist[qi]), cy.mean(), hist[qi]),
    }
    for k in ks:
        fns[f"knn_k{k}"] = (lambda kk: lambda cx, cy, qx, qi: knn_predict(cx, cy, qx, kk))(k)
    return fns


def model_fn(net, no_context=False):
    """no_context: ablation with the whole context masked (the model's context-free prior)."""
    @torch.no_grad()
    def fn(cx, cy, qx, qi):
        t = lambda a: torch.from_numpy(np.asarray(a, np.float32))[None]
        mask = torch.zeros(1, len(cy)) if no_context else torch.ones(1, len(cy))
        return net(t(cx), t(cy), mask, t(qx))[0].numpy()
    return fn
