"""ONNX export (weights embedded) and golden vectors."""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

from valor_model import task

from .features import F, prompt_features

OPSET = 18
INPUTS = ["context_features", "context_outcomes", "context_mask", "query_features"]
OUTPUTS = ["pass_rate"]


def export(net, path, log=print):
    net.eval()
    g = torch.Generator().manual_seed(0)
    B, C, Q = 2, 7, 5
    args = (torch.rand(B, C, F, generator=g), torch.rand(B, C, generator=g), torch.ones(B, C),
            torch.rand(B, Q, F, generator=g))
    dB = torch.export.Dim("B", max=4096)
    dC = torch.export.Dim("C", max=8192)
    dQ = torch.export.Dim("Q", max=65536)
    ds = ({0: dB, 1: dC}, {0: dB, 1: dC}, {0: dB, 1: dC}, {0: dB, 1: dQ})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(net, args, None, dynamo=True, opset_version=OPSET, input_names=INPUTS,
                                 output_names=OUTPUTS, dynamic_shapes=ds, optimize=True, verbose=False)
    prog.save(path, external_data=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.doc_string = ("Valor V0-style in-context pass-rate predictor (models/value). Inputs: context_features "
                    "[B,C,16], context_outcomes [B,C], context_mask [B,C], query_features [B,Q,16]; "
                    "output pass_rate [B,Q].")
    onnx.save(m, path)
    log(f"exported {path}")


def ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_onnx(sess, cf, co, cm, qf):
    feeds = {"context_features": np.asarray(cf, np.float32), "context_outcomes": np.asarray(co, np.float32),
             "context_mask": np.asarray(cm, np.float32), "query_features": np.asarray(qf, np.float32)}
    return sess.run(None, feeds)[0]


def _arr(a):
    a = np.asarray(a, np.float32)
    return {"dtype": "float32", "shape": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def golden_cases(ds, feats, pids, seed=5):
    """A few (B,C,Q) cases made of real held-out episodes; some with padding, one all-masked."""
    rng = np.random.default_rng(seed)
    spec = [("b1_c32_q8", 1, 32, 8, 0), ("b2_c64_q5_padded", 2, 64, 5, 20), ("b3_c256_q4", 3, 256, 4, 0),
            ("b1_c1_q3", 1, 1, 3, 0), ("b2_c6_q3_all_masked", 2, 6, 3, -1), ("b2_c100_q16_padded", 2, 100, 16, 37)]
    cases = []
    for name, B, C, Q, npad in spec:
        cf = np.zeros((B, C, F), np.float32)
        co = np.zeros((B, C), np.float32)
        cm = np.ones((B, C), np.float32)
        qf = np.zeros((B, Q, F), np.float32)
        for b in range(B):
            p = pids[rng.integers(len(pids))]
            X, Y = feats[ds["idx"][p]], ds["rates"][p]
            perm = rng.permutation(len(Y))
            cf[b], co[b], qf[b] = X[perm[:C]], Y[perm[:C]], X[perm[C:C + Q]]
            if npad > 0:
                pad = rng.choice(C, size=npad, replace=False)
                cm[b, pad] = 0.0
                cf[b, pad] = rng.random((npad, F)).astype(np.float32)  # garbage under the mask
                co[b, pad] = rng.random(npad).astype(np.float32)
            elif npad < 0:
                cm[b] = 0.0
        cases.append({"name": name, "B": B, "C": C, "Q": Q, "inputs": {
            "context_features": cf, "context_outcomes": co, "context_mask": cm, "query_features": qf}})
    return cases


def behaviour_case(ds, feats, pids, C=128, Q=64, seed=9):
    """Same queries vs the strongest and the weakest held-out policy's context."""
    means = [(ds["rates"][p].mean(), p) for p in pids]
    strong, weak = max(means)[1], min(means)[1]
    rng = np.random.default_rng(seed)
    common = np.intersect1d(ds["idx"][strong], ds["idx"][weak])
    qidx = rng.choice(common, size=Q, replace=False)
    out = {"queries_prompt": [ds["prompts"][i] for i in qidx], "query_features": feats[qidx][None]}
    for tag, p in (("strong", strong), ("weak", weak)):
        rows = np.array([j for j, i in enumerate(ds["idx"][p]) if i not in set(qidx)])
        sel = rng.choice(rows, size=C, replace=False)
        out[f"{tag}_policy"] = ds["policies"][p]["variant"] + f" T={ds['policies'][p]['temperature']}"
        out[f"{tag}_context_features"] = feats[ds["idx"][p][sel]][None]
        out[f"{tag}_context_outcomes"] = ds["rates"][p][sel][None]
        out[f"{tag}_mean_outcome"] = float(ds["rates"][p][sel].mean())
    return out


def write_value_golden(path, sess, net, ds, feats, pids):
    cases = golden_cases(ds, feats, pids)
    js = {"model": "value_model.onnx", "inputs": INPUTS, "outputs": OUTPUTS, "atol": 1e-4, "cases": []}
    for c in cases:
        i = c["inputs"]
        y = run_onnx(sess, i["context_features"], i["context_outcomes"], i["context_mask"], i["query_features"])
        with torch.no_grad():
            yt = net(*[torch.from_numpy(i[k]) for k in INPUTS]).numpy()
        assert np.abs(y - yt).max() < 1e-4, (c["name"], np.abs(y - yt).max())
        js["cases"].append({"name": c["name"], "B": c["B"], "C": c["C"], "Q": c["Q"],
                            "inputs": {k: _arr(v) for k, v in i.items()}, "expected": {"pass_rate": _arr(y)}})
    b = behaviour_case(ds, feats, pids)
    js["behaviour"] = {k: (_arr(v) if isinstance(v, np.ndarray) else v) for k, v in b.items()}
    with open(path, "w") as f:
        json.dump(js, f, separators=(",", ":"))
    return js


def feature_golden_prompts():
    out = []
    for lv in task.LEVELS:
        out += [p.prompt for p in task.generate(31 + lv, 10, "any", [lv])]
    out += ["0+0=", "9-9=", "0-9=", "99+99=", "10-99=", "99*9=", "2*10=", "19*19+19=", "2-19*19=",
            "(49-2)*9=", "2*(2-49)=", "(2+2)*2=", "7-9", " 65 + 74 = ", "12*7-5="]
    return out


def write_features_golden(path):
    prompts = feature_golden_prompts()
    js = {"n_features": F, "definition": "models/value/README.md#prompt-features",
          "cases": [{"prompt": p, "features": prompt_features(p)} for p in prompts]}
    with open(path, "w") as f:
        json.dump(js, f, indent=0)
    return js
