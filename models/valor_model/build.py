"""Entry point: SFT warm start -> artefacts -> ONNX export -> goldens.

    python -m valor_model.build [--steps N] [--skip-train] [--skip-export]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys

import numpy as np
import torch

from . import export as E
from . import graphs as G
from . import model as M
from . import sft, task

HERE = os.path.dirname(os.path.abspath(__file__))
ART = os.environ.get("VALOR_MODELS_ARTIFACTS", os.path.join(os.path.dirname(HERE), "artifacts"))
GOLD = os.path.join(ART, "golden")
SEED = 0
DEFAULT_STEPS = 4000


def log(msg):
    print(msg, flush=True)


def save_weights(spec, flat, path_bin, path_json):
    arr = flat.detach().numpy().astype("<f4")
    arr.tofile(path_bin)
    cfg = spec.cfg
    manifest = {
        "format": "raw little-endian float32, one flat vector; tensor i = data[offset : offset + prod(shape)] reshaped row-major",
        "file": os.path.basename(path_bin),
        "dtype": "float32",
        "n_params": spec.n_params,
        "n_decay": spec.n_decay,
        "sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
        "config": {"vocab_size": cfg.vocab_size, "d_model": cfg.d_model, "n_layer": cfg.n_layer,
                   "n_head": cfg.n_head, "d_head": cfg.d_head, "d_ff": cfg.d_ff, "max_pos": cfg.max_pos,
                   "ln_eps": cfg.ln_eps, "tied_embeddings": True},
        "tensors": [{"name": n, "shape": list(spec.shapes[n]), "offset": spec.offsets[n],
                     "decay": spec.offsets[n] < spec.n_decay} for n in spec.names],
    }
    with open(path_json, "w") as f:
        json.dump(manifest, f, indent=1)


def load_weights(spec, path_bin=None):
    path_bin = path_bin or os.path.join(ART, "weights.bin")
    arr = np.fromfile(path_bin, dtype="<f4")
    assert arr.size == spec.n_params, (arr.size, spec.n_params)
    return torch.from_numpy(arr.astype(np.float32))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--skip-train", action="store_true", help="reuse artifacts/weights.bin")
    ap.add_argument("--skip-export", action="store_true", help="reuse artifacts/*.onnx")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    os.makedirs(GOLD, exist_ok=True)
    spec = M.build_spec(M.Config())
    log(f"parameters: {spec.n_params} (decayed {spec.n_decay})")
    with open(os.path.join(ART, "vocab.json"), "w") as f:
        f.write(task.vocab_json())

    if a.skip_train:
        flat = load_weights(spec)
    else:
        flat, history, wall = sft.train(spec, seed=SEED, steps=a.steps, log=log)
        save_weights(spec, flat, os.path.join(ART, "weights.bin"), os.path.join(ART, "weights.json"))
        overall, per, counts = sft.evaluate(spec, flat, sft.test_set())
        report = {"max_steps": a.steps, "steps": history[-1]["step"] if history else 0, "lr": 3e-3, "warmup": 100, "schedule": "linear warmup, cosine to 10%", "weight_decay": 0.01, "betas": [0.9, 0.98], "max_grad_norm": 1.0, "batch_size": 128, "wall_s": round(wall, 1), "threads": a.threads,
                  "test_accuracy": overall, "test_accuracy_per_level": per, "test_counts_per_level": counts,
                  "history": history}
        with open(os.path.join(ART, "sft_report.json"), "w") as f:
            json.dump(report, f, indent=1)
        log(f"SFT done in {wall:.0f}s: test accuracy {overall:.3f} per level {per}")

    if not a.skip_export:
        for name in G.GRAPHS:
            E.export_graph(spec, name, os.path.join(ART, f"{name}.onnx"), log=log)

    from . import goldens
    goldens.write_all(spec, flat, GOLD, log=log)
    log("done")


if __name__ == "__main__":
    sys.exit(main())
