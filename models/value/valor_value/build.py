"""Entry point: data -> meta-training -> ONNX export -> goldens -> evaluation.

    python -m valor_value.build [--regen-data] [--steps N] [--eval-only] [--skip-eval] [--no-context-noise]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from valor_model import model as M
from valor_model.build import load_weights

from . import data as D
from . import evaluate as EV
from . import export as X
from . import train as T
from .features import features_matrix
from .net import ValueNet, n_params

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # models/value
ART = os.environ.get("VALOR_VALUE_ARTIFACTS", os.path.join(HERE, "artifacts"))
WORK = os.environ.get("VALOR_VALUE_WORK", os.path.join(HERE, "work"))
DATA = os.path.join(WORK, "episodes.npz")
RL_DIR = os.path.join(WORK, "rl", "checkpoints")  # exported by build.sh (valor train + valor export-checkpoints)
# Optional comparison row: a model trained without RL checkpoints (the artifacts/value_model.pt of
# two releases back, same seed, 8-rollout contexts), evaluated on the same held-out policies.
SFT_ONLY = os.path.join(WORK, "value_model_sft_only.pt")
# Optional comparison row: the same recipe without the context noise (train.CTX_*), i.e. trained on
# 8-rollout context rates (the previous release's artifacts/value_model.pt, or build.py --no-context-noise).
CLEAN_CONTEXT = os.path.join(WORK, "value_model_clean_context.pt")
NET_KW = {"d": 64, "heads": 4, "layers": 3, "ff": 128}


def log(m):
    print(m, flush=True)


def load_net(path=None):
    path = path or os.path.join(ART, "value_model.pt")
    ck = torch.load(path, weights_only=True)
    net = ValueNet(**ck["config"])
    net.load_state_dict(ck["state_dict"])
    net.eval()
    return net


def fmt_table(res, names):
    rows = ["| C | predictor | intra-context AUC | Brier | ECE |", "|---|---|---|---|---|"]
    for C, r in res.items():
        for n in names:
            if n in r:
                m = r[n]
                rows.append(f"| {C} | {n} | {m['intra_auc']:.3f} ± {m['intra_auc_std']:.3f} | {m['brier']:.4f} | {m['ece']:.4f} |")
    return "\n".join(rows)


def write_sample(ds, tr, te, path, rows=24):
    """All policies (recipe, temperature, mean and per-level pass rate) + a few rows of four."""
    pol = [dict(p, split="train" if p["id"] in tr else "heldout") for p in ds["policies"]]
    ex = {}
    for pid in (0, te[0], te[-1], tr[-1]):
        ex[str(pid)] = [{"prompt": ds["prompts"][i], "pass_rate": float(r)}
                        for i, r in list(zip(ds["idx"][pid], ds["rates"][pid]))[::max(1, len(ds["idx"][pid]) // rows)]]
    js = {"recipe": "models/value/README.md#data", "m_rollouts": D.M_ROLLOUTS, "prompts_per_policy": int(ds["idx"].shape[1]),
          "pool_size": len(ds["prompts"]), "policies": pol, "example_rows": ex}
    with open(path, "w") as f:
        json.dump(js, f, indent=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--regen-data", action="store_true")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--no-context-noise", action="store_true", help="train on the 8-rollout context rates (train.CTX_*)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(ART, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)

    X.write_features_golden(os.path.join(ART, "features-golden.json"))
    if a.regen_data or not os.path.exists(DATA):
        spec = M.build_spec(M.Config())
        t0 = time.time()
        D.generate_dataset(spec, load_weights(spec), DATA, RL_DIR, log=log)
        log(f"data in {time.time() - t0:.0f}s")
    ds = D.load_dataset(DATA)
    feats = features_matrix(ds["prompts"])
    tr, te_sft, te_rl = T.split_policies(ds)
    te = te_sft + te_rl
    log(f"{len(ds['policies'])} policies: {len(tr)} train, {len(te_sft)} + {len(te_rl)} (RL) held out; "
        f"{len(ds['prompts'])} pool prompts")
    write_sample(ds, tr, te, os.path.join(ART, "episodes_sample.json"))

    pt = os.path.join(ART, "value_model.pt")
    onnx_path = os.path.join(ART, "value_model.onnx")
    if not a.eval_only:
        net, rep = T.train(T.Episodes(ds, feats, tr), steps=a.steps, lr=a.lr, context_noise=not a.no_context_noise,
                           log=log, **NET_KW)
        torch.save({"config": {"n_feat": 16, **NET_KW}, "state_dict": net.state_dict()}, pt)
        X.export(net, onnx_path, log=log)
        rep.update({"n_params": n_params(net), "config": NET_KW, "train_policies": tr, "heldout_policies": te,
                    "heldout_variants": list(T.HELDOUT_VARIANTS), "heldout_rl_runs": list(T.HELDOUT_RL_RUNS), "loss": "0.25 * BT rank (pass>=0.5 vs <0.5 "
                    "query pairs of one context) + 0.75 * soft BCE vs pass rate"})
        with open(os.path.join(ART, "train_report.json"), "w") as f:
            json.dump(rep, f, indent=1)
    net = load_net(pt)
    sess = X.ort_session(onnx_path)
    X.write_value_golden(os.path.join(ART, "value-golden.json"), sess, net, ds, feats, te)
    log("goldens written")
    if a.skip_eval:
        return
    hist = EV.history_table(ds, tr)
    fns = {"model": EV.model_fn(net), "model_no_context": EV.model_fn(net, no_context=True)}
    if os.path.exists(SFT_ONLY):
        fns["model_sft_only"] = EV.model_fn(load_net(SFT_ONLY))
    if os.path.exists(CLEAN_CONTEXT):
        fns["model_clean_context"] = EV.model_fn(load_net(CLEAN_CONTEXT))
    fns.update(EV.baselines(hist))
    t0 = time.time()
    res = EV.evaluate(fns, ds, feats, te_sft, hist)
    res_rl = EV.evaluate(fns, ds, feats, te_rl, hist)
    log(f"eval in {time.time() - t0:.0f}s")
    out = {"heldout_policies": [ds["policies"][p] for p in te_sft], "train_policies": len(tr),
           "train_rl_policies": sum(T.is_rl(ds["policies"][p]) for p in tr),
           "context_sizes": list(EV.CONTEXT_SIZES), "repeats_per_policy": EV.REPEATS,
           "metrics": {str(C): r for C, r in res.items()},
           "heldout_rl_policies": [ds["policies"][p] for p in te_rl],
           "metrics_rl": {str(C): r for C, r in res_rl.items()}}
    emb_path = os.path.join(WORK, "embedding_eval.json")
    if os.path.exists(emb_path):
        out["embedding_alternative"] = json.load(open(emb_path))
    with open(os.path.join(ART, "eval.json"), "w") as f:
        json.dump(out, f, indent=1)
    log("held-out SFT variants:\n" + fmt_table(res, list(fns)))
    log("held-out RL checkpoints:\n" + fmt_table(res_rl, list(fns)))


if __name__ == "__main__":
    main()
