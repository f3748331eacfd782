"""value_model.onnx vs the torch ValueNet (artifacts/value_model.pt), goldens, features."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # models/value
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # models
from valor_value import build, export as X  # noqa: E402
from valor_value.features import F, prompt_features  # noqa: E402

ART = build.ART
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net():
    return build.load_net()


@pytest.fixture(scope="module")
def sess():
    return X.ort_session(os.path.join(ART, "value_model.onnx"))


def rand_inputs(rng, B, C, Q, pad_frac=0.0, all_masked=False):
    cf = rng.random((B, C, F)).astype(np.float32)
    co = rng.random((B, C)).astype(np.float32)
    cm = (rng.random((B, C)) >= pad_frac).astype(np.float32)
    if all_masked:
        cm[:] = 0
    qf = rng.random((B, Q, F)).astype(np.float32)
    return cf, co, cm, qf


@pytest.mark.parametrize("B,C,Q,pad,allm", [(1, 1, 1, 0, False), (2, 17, 9, 0.3, False), (3, 256, 33, 0.1, False),
                                            (1, 300, 2, 0, False), (2, 8, 4, 0, True)])
def test_onnx_matches_torch(net, sess, B, C, Q, pad, allm):
    rng = np.random.default_rng(B * 1000 + C)
    x = rand_inputs(rng, B, C, Q, pad, allm)
    y = X.run_onnx(sess, *x)
    with torch.no_grad():
        yt = net(*[torch.from_numpy(a) for a in x]).numpy()
    assert y.shape == (B, Q) and y.dtype == np.float32
    assert np.isfinite(y).all() and (y >= 0).all() and (y <= 1).all()
    np.testing.assert_allclose(y, yt, atol=2e-5, rtol=0)


def test_interface(sess):
    ins = {i.name: i.shape for i in sess.get_inputs()}
    assert ins == {"context_features": ["B", "C", 16], "context_outcomes": ["B", "C"],
                   "context_mask": ["B", "C"], "query_features": ["B", "Q", 16]}
    assert [(o.name, o.shape) for o in sess.get_outputs()] == [("pass_rate", ["B", "Q"])]
    for i in sess.get_inputs():
        assert i.type == "tensor(float)"
    assert os.path.getsize(os.path.join(ART, "value_model.onnx")) < 5 * 2**20


def test_padding_invariance(sess):
    rng = np.random.default_rng(3)
    cf, co, cm, qf = rand_inputs(rng, 2, 40, 7)
    y = X.run_onnx(sess, cf, co, cm, qf)
    # add 25 garbage rows with mask 0 at random positions
    C2 = 65
    for b_perm_seed in range(2):
        r = np.random.default_rng(b_perm_seed)
        pos = np.sort(r.choice(C2, 40, replace=False))
        cf2 = (r.random((2, C2, F)) * 10 - 5).astype(np.float32)
        co2 = r.random((2, C2)).astype(np.float32)
        cm2 = np.zeros((2, C2), np.float32)
        cf2[:, pos], co2[:, pos], cm2[:, pos] = cf, co, cm
        np.testing.assert_allclose(X.run_onnx(sess, cf2, co2, cm2, qf), y, atol=1e-6)


def test_goldens_replay(sess):
    js = json.load(open(os.path.join(ART, "value-golden.json")))
    assert len(js["cases"]) >= 3
    for c in js["cases"]:
        ins = {k: np.asarray(v["data"], np.float32).reshape(v["shape"]) for k, v in c["inputs"].items()}
        y = sess.run(None, ins)[0]
        exp = np.asarray(c["expected"]["pass_rate"]["data"], np.float32).reshape(c["expected"]["pass_rate"]["shape"])
        np.testing.assert_allclose(y, exp, atol=1e-5, err_msg=c["name"])


def test_features_golden():
    js = json.load(open(os.path.join(ART, "features-golden.json")))
    assert js["n_features"] == F and len(js["cases"]) >= 50
    for c in js["cases"]:
        assert prompt_features(c["prompt"]) == c["features"], c["prompt"]


def test_features_level_matches_task():
    from valor_model import task
    for p in task.generate(99, 500, "any"):
        f = prompt_features(p.prompt)
        assert f[p.level - 1] == 1.0 and sum(f[:5]) == 1.0
        assert f[13] == (1.0 if p.answer < 0 else 0.0)
