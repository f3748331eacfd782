"""The exported functions, with their ONNX input/output names (single source of truth)."""
from __future__ import annotations

import torch

from . import model as M

PPO_HP = ["lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm",
          "clip_ratio_low", "clip_ratio_high", "clip_ratio_c", "kl_coef", "entropy_coef",
          "loss_agg_mode", "loss_scale_factor"]
REVAL_HP = ["lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm", "beta"]
OPT_IN = ["params", "adam_m", "adam_v", "adam_step"]
SEQ_IN = ["input_ids", "position_ids", "attention_mask"]

GRAPHS = {
    "policy_prefill": {
        "inputs": ["params"] + SEQ_IN,
        "outputs": ["logits", "present_keys", "present_values"],
    },
    "policy_decode": {
        "inputs": ["params"] + SEQ_IN + ["past_keys", "past_values"],
        "outputs": ["logits", "present_keys", "present_values"],
    },
    "policy_score": {
        "inputs": ["params"] + SEQ_IN,
        "outputs": ["token_logprobs", "token_entropy", "token_logsumexp"],
    },
    "ppo_train_step": {
        "inputs": OPT_IN + SEQ_IN + ["response_mask", "old_logprobs", "advantages", "ref_logprobs"] + PPO_HP,
        "outputs": ["new_params", "new_adam_m", "new_adam_v", "new_adam_step", "loss", "pg_loss",
                    "kl_loss", "pg_clipfrac", "pg_clipfrac_lower", "ppo_kl", "entropy", "grad_norm",
                    "logprobs"],
    },
    "reval_train_step": {
        "inputs": OPT_IN + SEQ_IN + ["response_mask", "ref_logprobs", "ref_values", "rewards"] + REVAL_HP,
        "outputs": ["new_params", "new_adam_m", "new_adam_v", "new_adam_step", "loss", "residual_mean",
                    "residual_abs_mean", "entropy", "grad_norm", "v_s1", "sum_logprobs"],
    },
}


def prefill(spec, params, input_ids, position_ids, attention_mask):
    return M.forward(spec, params, input_ids, position_ids, attention_mask)


def decode(spec, params, input_ids, position_ids, attention_mask, past_keys, past_values):
    return M.forward(spec, params, input_ids, position_ids, attention_mask, past_keys, past_values)


def score(spec, params, input_ids, position_ids, attention_mask):
    logits, _, _ = M.forward(spec, params, input_ids, position_ids, attention_mask)
    return M.token_stats(spec, logits, input_ids)


def _train(spec, loss_fn, names_batch, names_hp, aux_out, args):
    params, m, v, step = args[:4]
    rest = args[4:]
    batch = dict(zip(names_batch, rest[:len(names_batch)]))
    hp = dict(zip(names_hp, rest[len(names_batch):]))

    def f(p):
        loss, aux = loss_fn(spec, p, batch, hp)
        return loss, (loss, aux)

    grad, (loss, aux) = torch.func.grad(f, has_aux=True)(params)
    p1, m1, v1, s1, gnorm = M.adamw_update(spec, params, grad, m, v, step, hp)
    out = [p1, m1, v1, s1, loss]
    for k in aux_out:
        out.append(gnorm if k == "grad_norm" else aux[k])
    return tuple(out)


def ppo_train_step(spec, *args):
    g = GRAPHS["ppo_train_step"]
    nb = g["inputs"][4:len(g["inputs"]) - len(PPO_HP)]
    return _train(spec, M.ppo_loss, nb, PPO_HP, g["outputs"][5:], args)


def reval_train_step(spec, *args):
    g = GRAPHS["reval_train_step"]
    nb = g["inputs"][4:len(g["inputs"]) - len(REVAL_HP)]
    return _train(spec, M.reval_loss, nb, REVAL_HP, g["outputs"][5:], args)


FUNCS = {"policy_prefill": prefill, "policy_decode": decode, "policy_score": score,
         "ppo_train_step": ppo_train_step, "reval_train_step": reval_train_step}
