"""Golden files replayed by test/models/onnx-golden.test.ts (onnxruntime-node).

Expected outputs come from onnxruntime (Python) running the committed graphs on the
committed weights; models/tests checks the same graphs against PyTorch."""
from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort
import torch

from . import graphs as G
from . import model as M
from . import sft, task

SAMPLE_N = 257  # sampled indices of the [N] outputs stored in goldens


def _j(x):
    a = np.asarray(x)
    if a.dtype.kind == "f":
        return {"dtype": "float32", "shape": list(a.shape), "data": [float(v) for v in a.astype(np.float32).ravel()]}
    return {"dtype": "int32", "shape": list(a.shape), "data": [int(v) for v in a.ravel()]}


def session(art, name):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(os.path.join(art, f"{name}.onnx"), so, providers=["CPUExecutionProvider"])


def run(art, name, feeds):
    s = session(art, name)
    outs = s.run(None, {k: np.asarray(v) for k, v in feeds.items()})
    return dict(zip(G.GRAPHS[name]["outputs"], outs))


def sample_idx(n):
    return np.unique(np.linspace(0, n - 1, SAMPLE_N).astype(np.int64))


def rl_batch(spec, flat, seed=3):
    """4 prompts + responses (greedy answer, correct answer, a wrong answer), right-padded.
    old/ref log-probs are perturbed copies of the current ones so ratios != 1."""
    probs = task.generate(seed, 4, "test")
    greedy = sft.greedy(spec, flat, [p.prompt for p in probs])
    responses = [greedy[0], str(probs[1].answer), str(probs[2].answer + 7), greedy[3]]
    seqs = [task.encode_prompt(p.prompt) + task.encode_response(r) for p, r in zip(probs, responses)]
    T = max(len(s) for s in seqs)
    ids = np.zeros((4, T), np.int32)
    am = np.zeros((4, T), np.float32)
    rm = np.zeros((4, T), np.float32)
    for i, (s, p) in enumerate(zip(seqs, probs)):
        ids[i, :len(s)] = s
        am[i, :len(s)] = 1
        rm[i, len(task.encode_prompt(p.prompt)):len(s)] = 1
    pos = np.tile(np.arange(T, dtype=np.int32), (4, 1))
    with torch.no_grad():
        lp, _, _ = G.score(spec, flat, torch.from_numpy(ids), torch.from_numpy(pos), torch.from_numpy(am))
    lp = lp.numpy()
    g = np.random.default_rng(seed)
    old = ((lp + g.normal(0, 0.3, lp.shape)) * rm).astype(np.float32)
    ref = ((lp + g.normal(0, 0.2, lp.shape)) * rm).astype(np.float32)
    rewards = np.array([1.0 if task.check_answer(r, p.answer) else 0.0 for p, r in zip(probs, responses)], np.float32)
    adv_seq = np.array([1.2, -0.8, -1.5, 0.6], np.float32)
    adv = (adv_seq[:, None] * rm).astype(np.float32)
    return {"prompts": [p.prompt for p in probs], "responses": responses, "answers": [p.answer for p in probs],
            "input_ids": ids, "position_ids": pos, "attention_mask": am, "response_mask": rm,
            "old_logprobs": old, "ref_logprobs": ref, "advantages": adv, "rewards": rewards}


PPO_CASES = [
    # name, mode, eps_low, eps_high, clip_c, kl_coef, entropy_coef, loss_scale_factor
    ("grpo_seq_mean_token_mean", 1, 0.2, 0.2, 3.0, 0.04, 0.0, 8.0),
    ("dapo_token_mean", 0, 0.2, 0.28, 3.0, 0.0, 0.0, 8.0),
    ("drgrpo_seq_mean_token_sum_norm", 2, 0.2, 0.2, 3.0, 0.0, 0.0, 8.0),
    ("seq_mean_token_sum", 3, 0.2, 0.2, 3.0, 0.0, 0.0, 8.0),
    ("token_mean_eps_0.1", 0, 0.1, 0.1, 3.0, 0.0, 0.0, 8.0),
    ("token_mean_kl_entropy_no_dualclip", 0, 0.2, 0.28, 1e9, 0.1, 0.01, 8.0),
]


def ppo_hp(mode, lo, hi, c, kl, ent, lsf, lr=1e-3):
    f = lambda x: np.array(x, np.float32)  # noqa: E731
    return {"lr": f(lr), "beta1": f(0.9), "beta2": f(0.999), "eps": f(1e-8), "weight_decay": f(0.01),
            "max_grad_norm": f(1.0), "clip_ratio_low": f(lo), "clip_ratio_high": f(hi), "clip_ratio_c": f(c),
            "kl_coef": f(kl), "entropy_coef": f(ent), "loss_agg_mode": np.array(mode, np.int32),
            "loss_scale_factor": f(lsf)}


def write_all(spec, flat, gold, log=print):
    art = os.path.dirname(gold)
    N = spec.n_params
    flat_np = flat.numpy().astype(np.float32)
    idx = sample_idx(N)
    files = {}

    # ---- task generator / split / tokenizer
    rng = task.Mulberry32(42)
    files["task"] = {
        "mulberry32_seed42_first8": [rng.next_float() for _ in range(8)],
        "fnv1a32": {s: task.fnv1a32(s) for s in ["", "a", "12*7-5=", "(8+9)*3="]},
        "generate_seed42_any_40": [p.__dict__ for p in task.generate(42, 40, "any")],
        "generate_seed7_test_20": [p.__dict__ for p in task.generate(7, 20, "test")],
        "encode": {"prompt": "(8+9)*3=", "ids": task.encode_prompt("(8+9)*3="), "response": "-51",
                   "response_ids": task.encode_response("-51")},
    }

    # ---- prefill on left-padded prompts + decode one step + greedy generations
    prompts = ["7+5=", "12*7-5=", "(8+9)*3="]
    ids, pos, am = (t.numpy() for t in sft.left_pad_prompts(prompts))
    pre = run(art, "policy_prefill", {"params": flat_np, "input_ids": ids, "position_ids": pos, "attention_mask": am})
    nxt = pre["logits"][:, -1].argmax(-1).astype(np.int32)[:, None]
    dpos = (pos[:, -1:] + 1).astype(np.int32)
    dam = np.concatenate([am, np.ones((3, 1), np.float32)], 1)
    dec = run(art, "policy_decode", {"params": flat_np, "input_ids": nxt, "position_ids": dpos, "attention_mask": dam,
                                      "past_keys": pre["present_keys"], "past_values": pre["present_values"]})
    gen_probs = task.generate(99, 24, "test")
    gens = sft.greedy(spec, flat, [p.prompt for p in gen_probs])
    files["forward"] = {
        "prompts": prompts,
        "prefill": {"input_ids": _j(ids), "position_ids": _j(pos), "attention_mask": _j(am), "logits": _j(pre["logits"]),
                    "present_keys_sum": float(pre["present_keys"].astype(np.float64).sum())},
        "decode": {"input_ids": _j(nxt), "position_ids": _j(dpos), "attention_mask": _j(dam), "logits": _j(dec["logits"])},
        "greedy": [{"prompt": p.prompt, "answer": p.answer, "level": p.level, "generated": g}
                   for p, g in zip(gen_probs, gens)],
    }

    # ---- score + train steps on one RL batch
    b = rl_batch(spec, flat)
    seq = {k: b[k] for k in ["input_ids", "position_ids", "attention_mask"]}
    sc = run(art, "policy_score", {"params": flat_np, **seq})
    rl = {k: (_j(v) if isinstance(v, np.ndarray) else v) for k, v in b.items()}
    files["score"] = {"batch": rl, **{k: _j(v) for k, v in sc.items()}}

    opt0 = {"params": flat_np, "adam_m": np.zeros(N, np.float32), "adam_v": np.zeros(N, np.float32),
            "adam_step": np.array(0, np.float32)}
    rlin = {k: b[k] for k in ["input_ids", "position_ids", "attention_mask", "response_mask", "old_logprobs",
                              "advantages", "ref_logprobs"]}
    cases = []
    for name, mode, lo, hi, c, kl, ent, lsf in PPO_CASES:
        hp = ppo_hp(mode, lo, hi, c, kl, ent, lsf)
        o = run(art, "ppo_train_step", {**opt0, **rlin, **hp})
        case = {"name": name, "hp": {k: float(v) for k, v in hp.items()},
                "scalars": {k: float(o[k]) for k in ["loss", "pg_loss", "kl_loss", "pg_clipfrac", "pg_clipfrac_lower",
                                                     "ppo_kl", "entropy", "grad_norm", "new_adam_step"]},
                "logprobs": _j(o["logprobs"]),
                "new_params_sample": [float(v) for v in o["new_params"][idx]],
                "new_adam_m_sample": [float(v) for v in o["new_adam_m"][idx]],
                "new_adam_v_sample": [float(v) for v in o["new_adam_v"][idx]],
                "delta_l2": float(np.linalg.norm((o["new_params"] - flat_np).astype(np.float64)))}
        if name == "dapo_token_mean":  # chain a second step from the first step's state
            o2 = run(art, "ppo_train_step", {"params": o["new_params"], "adam_m": o["new_adam_m"],
                                             "adam_v": o["new_adam_v"], "adam_step": o["new_adam_step"], **rlin, **hp})
            case["second_step"] = {"scalars": {k: float(o2[k]) for k in ["loss", "grad_norm", "new_adam_step", "ppo_kl"]},
                                   "new_params_sample": [float(v) for v in o2["new_params"][idx]]}
        cases.append(case)
    files["ppo_train_step"] = {"sample_indices": [int(i) for i in idx], "batch": rl, "cases": cases}

    # ---- ReVal
    with torch.no_grad():
        _, _, lse = G.score(spec, flat, *(torch.from_numpy(b[k]) for k in ["input_ids", "position_ids", "attention_mask"]))
    first = b["response_mask"] * (np.cumsum(b["response_mask"], 1) == 1)
    ref_values = ((lse.numpy() * first).sum(1) + np.array([0.1, -0.2, 0.05, 0.0])).astype(np.float32)
    rewards = (b["rewards"] - b["rewards"].mean()).astype(np.float32)
    rhp = {k: v for k, v in ppo_hp(0, 0, 0, 0, 0, 0, 1).items() if k in G.REVAL_HP}
    rhp["beta"] = np.array(0.5, np.float32)
    rin = {k: b[k] for k in ["input_ids", "position_ids", "attention_mask", "response_mask", "ref_logprobs"]}
    o = run(art, "reval_train_step", {**opt0, **rin, "ref_values": ref_values, "rewards": rewards, **rhp})
    files["reval_train_step"] = {
        "sample_indices": [int(i) for i in idx], "batch": rl,
        "ref_values": _j(ref_values), "rewards": _j(rewards), "hp": {k: float(v) for k, v in rhp.items()},
        "scalars": {k: float(o[k]) for k in ["loss", "residual_mean", "residual_abs_mean", "entropy", "grad_norm"]},
        "v_s1": _j(o["v_s1"]), "sum_logprobs": _j(o["sum_logprobs"]),
        "new_params_sample": [float(v) for v in o["new_params"][idx]],
    }

    for k, v in files.items():
        with open(os.path.join(gold, f"{k}.json"), "w") as f:
            json.dump(v, f, separators=(",", ":"))
        log(f"golden {k}.json: {os.path.getsize(os.path.join(gold, f'{k}.json'))} bytes")
