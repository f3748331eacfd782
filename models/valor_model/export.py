"""ONNX export of the graphs in graphs.GRAPHS (weights are graph inputs, nothing embedded)."""
from __future__ import annotations

import time
import warnings

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from . import graphs as G
from . import model as M

OPSET = 18


def f32(x):
    return torch.tensor(float(x), dtype=torch.float32)


def example_args(spec, name, B=3, T=10, P=7):
    """Small example inputs used for tracing (also reused by the tests)."""
    g = torch.Generator().manual_seed(7)
    cfg = spec.cfg
    flat = M.init_params(spec, 0)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g, dtype=torch.int32)
    pos = torch.arange(T, dtype=torch.int32).repeat(B, 1)
    am = torch.ones(B, T)
    if name in ("policy_prefill", "policy_score"):
        return [flat, ids, pos, am]
    if name == "policy_decode":
        L, H, Dh = cfg.n_layer, cfg.n_head, cfg.d_head
        return [flat, ids[:, :1], torch.full((B, 1), P, dtype=torch.int32), torch.ones(B, P + 1),
                torch.randn(L, B, H, P, Dh, generator=g), torch.randn(L, B, H, P, Dh, generator=g)]
    rm = torch.zeros(B, T)
    rm[:, T // 2:] = 1
    opt = [flat, torch.zeros_like(flat), torch.zeros_like(flat), f32(0)]
    seq = [ids, pos, am, rm]
    if name == "ppo_train_step":
        return opt + seq + [torch.randn(B, T, generator=g) - 2, torch.randn(B, T, generator=g),
                            torch.randn(B, T, generator=g) - 2,
                            f32(1e-3), f32(0.9), f32(0.999), f32(1e-8), f32(0.01), f32(1.0),
                            f32(0.2), f32(0.28), f32(3.0), f32(0.0), f32(0.0),
                            torch.tensor(0, dtype=torch.int32), f32(8.0)]
    if name == "reval_train_step":
        return opt + seq + [torch.randn(B, T, generator=g) - 2, torch.randn(B, generator=g),
                            torch.randn(B, generator=g),
                            f32(1e-3), f32(0.9), f32(0.999), f32(1e-8), f32(0.01), f32(1.0), f32(0.1)]
    raise KeyError(name)


def dynamic_shapes(spec, name):
    B = torch.export.Dim("B", max=4096)
    P = torch.export.Dim("P", min=1, max=spec.cfg.max_pos - 1)
    T = torch.export.Dim("T", min=2, max=spec.cfg.max_pos)
    g = G.GRAPHS[name]
    ds = []
    for inp in g["inputs"]:
        if inp in ("input_ids", "position_ids", "response_mask", "old_logprobs", "advantages", "ref_logprobs"):
            ds.append({0: B, 1: T} if name != "policy_decode" else {0: B})
        elif inp == "attention_mask":
            ds.append({0: B, 1: T} if name != "policy_decode" else {0: B, 1: P + 1})
        elif inp in ("past_keys", "past_values"):
            ds.append({1: B, 3: P})
        elif inp in ("ref_values", "rewards"):
            ds.append({0: B})
        else:
            ds.append(None)
    return (tuple(ds),)


class _Wrap(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def export_graph(spec, name, path, log=print):
    t0 = time.time()
    args = example_args(spec, name)
    fn = lambda *a: G.FUNCS[name](spec, *a)  # noqa: E731
    if name.endswith("train_step"):
        # decompose autograd (torch.func.grad) into plain aten ops first
        fn = make_fx(fn, tracing_mode="symbolic")(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            _Wrap(fn), tuple(args), None, dynamo=True, opset_version=OPSET,
            input_names=G.GRAPHS[name]["inputs"], output_names=G.GRAPHS[name]["outputs"],
            dynamic_shapes=dynamic_shapes(spec, name), optimize=True, verbose=False,
        )
    prog.save(path, external_data=False)
    log(f"exported {name} -> {path} in {time.time() - t0:.1f}s")
