"""Latency benchmark (CPU): ONNX decode/prefill at batch 64, and the PPO train step in
onnxruntime vs the framework's own eager PyTorch step (autograd + clip + AdamW).
Writes artifacts/bench.json. Single-threaded by default (the dev box is a shared 2-core VM)."""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import torch

from . import build, goldens, graphs as G, model as M, reference, sft, task


def timeit(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3), float(np.min(ts) * 1e3)


def main(threads=1):
    torch.set_num_threads(threads)
    spec = M.build_spec(M.Config())
    flat = build.load_weights(spec)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = lambda n: ort.InferenceSession(os.path.join(build.ART, f"{n}.onnx"), so, providers=["CPUExecutionProvider"])  # noqa: E731
    res = {"threads": threads, "n_params": spec.n_params}
    B = 64
    probs = task.generate(11, B, "test")
    ids, pos, am = (t.numpy() for t in sft.left_pad_prompts([p.prompt for p in probs]))
    pre, dec = sess("policy_prefill"), sess("policy_decode")
    feeds = {"params": flat.numpy(), "input_ids": ids, "position_ids": pos, "attention_mask": am}
    res["prefill_b64_ms"], _ = timeit(lambda: pre.run(None, feeds), 20)
    lg, pk, pv = pre.run(None, feeds)
    dfeeds = {"params": flat.numpy(), "input_ids": lg[:, -1].argmax(-1).astype(np.int32)[:, None],
              "position_ids": pos[:, -1:] + 1, "attention_mask": np.concatenate([am, np.ones((B, 1), np.float32)], 1),
              "past_keys": pk, "past_values": pv}
    res["decode_step_b64_ms"], res["decode_step_b64_min_ms"] = timeit(lambda: dec.run(None, dfeeds), 50)
    res["decode_past_len"] = int(ids.shape[1])
    # train step: B=64 sequences (prompt + answer), T = max length
    batch_probs = task.generate(12, B, "train")
    tids, tpos, tam, trm = (t.numpy() for t in sft.make_batch(batch_probs))
    with torch.no_grad():
        lp, _, _ = G.score(spec, flat, torch.from_numpy(tids), torch.from_numpy(tpos), torch.from_numpy(tam))
    rng = np.random.default_rng(0)
    b = {"input_ids": tids, "position_ids": tpos, "attention_mask": tam, "response_mask": trm,
         "old_logprobs": (lp.numpy() * trm).astype(np.float32),
         "advantages": (rng.normal(size=(B, 1)) * trm).astype(np.float32),
         "ref_logprobs": (lp.numpy() * trm).astype(np.float32)}
    res["train_batch_shape"] = list(tids.shape)
    hp = goldens.ppo_hp(0, 0.2, 0.28, 3.0, 0.0, 0.0, 8.0)
    N = spec.n_params
    ts = sess("ppo_train_step")
    tfeeds = {"params": flat.numpy(), "adam_m": np.zeros(N, np.float32), "adam_v": np.zeros(N, np.float32),
              "adam_step": np.array(0, np.float32), **b, **hp}
    res["onnx_train_step_ms"], res["onnx_train_step_min_ms"] = timeit(lambda: ts.run(None, tfeeds), 20)
    tr = reference.EagerTrainer(spec, flat, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, max_grad_norm=1.0)
    tb = {k: torch.from_numpy(v) for k, v in b.items()}
    thp = {k: torch.from_numpy(np.asarray(v)) for k, v in hp.items()}
    res["torch_eager_train_step_ms"], res["torch_eager_train_step_min_ms"] = timeit(lambda: tr.step(M.ppo_loss, tb, thp), 20)
    res["onnx_over_torch"] = res["onnx_train_step_ms"] / res["torch_eager_train_step_ms"]
    res["note"] = "median of repeated runs on a shared, loaded 2-vCPU VM; single thread each; indicative only"
    print(json.dumps(res, indent=1))
    with open(os.path.join(build.ART, "bench.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
