"""Tiny decoder-only transformer written as pure functions of ONE flat float32
parameter vector, so that every exported ONNX graph takes the weights (and the
AdamW state) as plain [N] inputs.

Layout of the flat vector: all weight-decayed tensors (ndim >= 2) first, then all
non-decayed ones (biases, LayerNorm gains/biases).  `n_decay` marks the boundary,
so the AdamW graph applies weight decay to flat[:n_decay] only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import task

NEG = -1e9  # additive mask value (finite so fully-masked rows never produce NaN)


@dataclass(frozen=True)
class Config:
    vocab_size: int = len(task.VOCAB)
    d_model: int = 96
    n_layer: int = 3
    n_head: int = 4
    d_ff: int = 384
    max_pos: int = 32
    ln_eps: float = 1e-5

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head


@dataclass
class Spec:
    cfg: Config
    names: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    offsets: dict = field(default_factory=dict)
    n_params: int = 0
    n_decay: int = 0


def build_spec(cfg: Config) -> Spec:
    d, f, V = cfg.d_model, cfg.d_ff, cfg.vocab_size
    tensors = [("tok_emb", (V, d)), ("pos_emb", (cfg.max_pos, d))]
    for l in range(cfg.n_layer):
        tensors += [
            (f"h{l}.ln1.g", (d,)), (f"h{l}.ln1.b", (d,)),
            (f"h{l}.attn.w_qkv", (d, 3 * d)), (f"h{l}.attn.b_qkv", (3 * d,)),
            (f"h{l}.attn.w_o", (d, d)), (f"h{l}.attn.b_o", (d,)),
            (f"h{l}.ln2.g", (d,)), (f"h{l}.ln2.b", (d,)),
            (f"h{l}.mlp.w_in", (d, f)), (f"h{l}.mlp.b_in", (f,)),
            (f"h{l}.mlp.w_out", (f, d)), (f"h{l}.mlp.b_out", (d,)),
        ]
    tensors += [("ln_f.g", (d,)), ("ln_f.b", (d,))]
    decay = [t for t in tensors if len(t[1]) >= 2]
    nodecay = [t for t in tensors if len(t[1]) < 2]
    spec = Spec(cfg)
    off = 0
    for name, shape in decay + nodecay:
        spec.names.append(name)
        spec.shapes[name] = shape
        spec.offsets[name] = off
        off += math.prod(shape)
    spec.n_params = off
    spec.n_decay = sum(math.prod(s) for _, s in decay)
    return spec


def init_params(spec: Spec, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    flat = torch.zeros(spec.n_params)
    resid_scale = 1.0 / math.sqrt(2 * spec.cfg.n_layer)
    for name in spec.names:
        shape, off = spec.shapes[name], spec.offsets[name]
        n = math.prod(shape)
        if name.endswith(".g"):
            val = torch.ones(n)
        elif len(shape) >= 2:
            std = 0.02 * (resid_scale if name.endswith(("w_o", "w_out")) else 1.0)
            val = torch.randn(n, generator=g) * std
        else:
            val = torch.zeros(n)
        flat[off:off + n] = val
    return flat


def unflatten(spec: Spec, flat: torch.Tensor) -> dict:
    out = {}
    for name in spec.names:
        shape, off = spec.shapes[name], spec.offsets[name]
        out[name] = flat[off:off + math.prod(shape)].reshape(shape)
    return out


def _ln(x, g, b, eps):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdim=True)
    return xc * torch.rsqrt(var + eps) * g + b


def _onehot(ids: torch.Tensor, n: int) -> torch.Tensor:
    ar = torch.arange(n, dtype=ids.dtype, device=ids.device)
    return (ids.unsqueeze(-1) == ar).to(torch.float32)


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))


def forward(spec: Spec, flat, input_ids, position_ids, attention_mask, past_k=None, past_v=None):
    """input_ids/position_ids: int32 [B,T]; attention_mask: float32 [B,S] over keys
    (S = T without cache, S = P+T with a cache of length P).
    Returns logits [B,T,V], keys/values [L,B,H,S,Dh]."""
    cfg = spec.cfg
    p = unflatten(spec, flat)
    B, T = input_ids.shape
    H, Dh = cfg.n_head, cfg.d_head
    # embeddings as one-hot matmuls (keeps backward free of scatter ops)
    x = _onehot(input_ids, cfg.vocab_size) @ p["tok_emb"] + _onehot(position_ids, cfg.max_pos) @ p["pos_emb"]
    keymask = attention_mask > 0.5  # [B,S]
    if past_k is None:
        ar = torch.arange(T, device=input_ids.device)
        causal = ar.unsqueeze(1) >= ar.unsqueeze(0)  # [T,T] query i sees key j<=i
        allowed = causal.unsqueeze(0) & keymask.unsqueeze(1)  # [B,T,T]
    else:
        # cache path: the T new tokens are the last T keys; causal within them
        S = attention_mask.shape[1]
        qi = torch.arange(T, device=input_ids.device) + (S - T)
        kj = torch.arange(S, device=input_ids.device)
        causal = qi.unsqueeze(1) >= kj.unsqueeze(0)  # [T,S]
        allowed = causal.unsqueeze(0) & keymask.unsqueeze(1)
    bias = torch.where(allowed, 0.0, NEG).unsqueeze(1)  # [B,1,T,S]
    ks, vs = [], []
    scale = 1.0 / math.sqrt(Dh)
    for l in range(cfg.n_layer):
        h = _ln(x, p[f"h{l}.ln1.g"], p[f"h{l}.ln1.b"], cfg.ln_eps)
        qkv = h @ p[f"h{l}.attn.w_qkv"] + p[f"h{l}.attn.b_qkv"]
        q, k, v = qkv.split(cfg.d_model, dim=-1)
        q = q.reshape(B, T, H, Dh).transpose(1, 2)
        k = k.reshape(B, T, H, Dh).transpose(1, 2)
        v = v.reshape(B, T, H, Dh).transpose(1, 2)
        if past_k is not None:
            k = torch.cat([past_k[l], k], dim=2)
            v = torch.cat([past_v[l], v], dim=2)
        ks.append(k)
        vs.append(v)
        att = torch.softmax(q @ k.transpose(-1, -2) * scale + bias, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, cfg.d_model)
        x = x + o @ p[f"h{l}.attn.w_o"] + p[f"h{l}.attn.b_o"]
        h = _ln(x, p[f"h{l}.ln2.g"], p[f"h{l}.ln2.b"], cfg.ln_eps)
        x = x + _gelu(h @ p[f"h{l}.mlp.w_in"] + p[f"h{l}.mlp.b_in"]) @ p[f"h{l}.mlp.w_out"] + p[f"h{l}.mlp.b_out"]
    x = _ln(x, p["ln_f.g"], p["ln_f.b"], cfg.ln_eps)
    logits = x @ p["tok_emb"].t()  # tied output embedding
    return logits, torch.stack(ks), torch.stack(vs)


def token_stats(spec: Spec, logits, input_ids):
    """Per-token statistics aligned to the *target* token: column t describes the
    distribution that predicted input_ids[:, t] (computed from logits[:, t-1]).
    Column 0 is 0.  Returns logprobs, entropy, logsumexp, each [B,T]."""
    V = spec.cfg.vocab_size
    lg = logits[:, :-1]
    lse = torch.logsumexp(lg, dim=-1)
    logp_all = lg - lse.unsqueeze(-1)
    tgt = _onehot(input_ids[:, 1:], V)
    lp = (logp_all * tgt).sum(-1)
    ent = -(torch.exp(logp_all) * logp_all).sum(-1)
    z = torch.zeros_like(lp[:, :1])
    return torch.cat([z, lp], 1), torch.cat([z, ent], 1), torch.cat([z, lse], 1)


# ----------------------------------------------------------------------------- losses

AGG_MODES = {"token-mean": 0, "seq-mean-token-mean": 1, "seq-mean-token-sum-norm": 2, "seq-mean-token-sum": 3}


def agg_loss(loss_mat, mask, mode: torch.Tensor, loss_scale_factor):
    """verl agg_loss, all four modes computed and one selected by `mode` (int32 scalar)."""
    ntok = mask.sum()
    tok_mean = (loss_mat * mask).sum() / torch.clamp(ntok, min=1.0)
    seq_len = mask.sum(-1)
    seq_sum = (loss_mat * mask).sum(-1)
    seq_valid = (seq_len > 0).to(torch.float32)
    nseq = torch.clamp(seq_valid.sum(), min=1.0)
    seq_mean_tok_mean = (seq_sum / torch.clamp(seq_len, min=1.0) * seq_valid).sum() / nseq
    seq_mean_tok_sum = (seq_sum * seq_valid).sum() / nseq
    sum_norm = seq_sum.sum() / loss_scale_factor
    modes = torch.arange(4, dtype=mode.dtype, device=mode.device)
    w = (modes == mode).to(torch.float32)
    return (torch.stack([tok_mean, seq_mean_tok_mean, sum_norm, seq_mean_tok_sum]) * w).sum()


def masked_mean(x, mask):
    return (x * mask).sum() / torch.clamp(mask.sum(), min=1.0)


def ppo_loss(spec, flat, batch, hp):
    """Clipped policy-gradient loss (verl `vanilla` + dual-clip) + k3 KL + entropy bonus.
    Returns (loss, aux dict)."""
    logits, _, _ = forward(spec, flat, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
    logp, ent, _ = token_stats(spec, logits, batch["input_ids"])
    mask = batch["response_mask"]
    A = batch["advantages"]
    neg_kl = torch.clamp(logp - batch["old_logprobs"], -20.0, 20.0)
    ratio = torch.exp(neg_kl)
    pg1 = -A * ratio
    pg2 = -A * torch.clamp(ratio, 1.0 - hp["clip_ratio_low"], 1.0 + hp["clip_ratio_high"])
    clip1 = torch.maximum(pg1, pg2)
    pg3 = -A * hp["clip_ratio_c"]
    clip2 = torch.minimum(pg3, clip1)
    neg = (A < 0).to(torch.float32)
    pg_losses = torch.where(A < 0, clip2, clip1)
    mode, lsf = hp["loss_agg_mode"], hp["loss_scale_factor"]
    pg_loss = agg_loss(pg_losses, mask, mode, lsf)
    # k3 ("low_var_kl") estimator of KL(pi || ref), as in verl
    kl = torch.clamp(batch["ref_logprobs"] - logp, -20.0, 20.0)
    kld = torch.clamp(torch.exp(kl) - kl - 1.0, -10.0, 10.0)
    kl_loss = agg_loss(kld, mask, mode, lsf)
    ent_loss = agg_loss(ent, mask, mode, lsf)
    loss = pg_loss + hp["kl_coef"] * kl_loss - hp["entropy_coef"] * ent_loss
    aux = {
        "pg_loss": pg_loss,
        "kl_loss": kl_loss,
        "pg_clipfrac": masked_mean((pg2 > pg1).to(torch.float32), mask),
        "pg_clipfrac_lower": masked_mean((clip1 > pg3).to(torch.float32) * neg, mask),
        "ppo_kl": masked_mean(-neg_kl, mask),
        "entropy": masked_mean(ent, mask),
        "logprobs": logp,
    }
    return loss, aux


def reval_loss(spec, flat, batch, hp):
    """ReVal Eq. 2: mean_b [V(s1) - Vref(s1) + sum logpi - r/beta - sum logpi_ref]^2.
    V(s1) = logsumexp of the logits that predict the first response token."""
    logits, _, _ = forward(spec, flat, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
    logp, ent, lse = token_stats(spec, logits, batch["input_ids"])
    mask = batch["response_mask"]
    first = mask * (torch.cumsum(mask, dim=1) == 1).to(torch.float32)
    v_s1 = (lse * first).sum(-1)
    sum_lp = (logp * mask).sum(-1)
    sum_ref = (batch["ref_logprobs"] * mask).sum(-1)
    resid = v_s1 - batch["ref_values"] + sum_lp - batch["rewards"] / hp["beta"] - sum_ref
    loss = (resid * resid).mean()
    aux = {
        "residual_mean": resid.mean(),
        "residual_abs_mean": resid.abs().mean(),
        "v_s1": v_s1,
        "sum_logprobs": sum_lp,
        "entropy": masked_mean(ent, mask),
        "logprobs": logp,
    }
    return loss, aux


def adamw_update(spec, flat, grad, m, v, step, hp):
    """torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW (decay on flat[:n_decay]).
    A non-finite gradient norm leaves weights and state unchanged."""
    gnorm = torch.sqrt((grad * grad).sum())
    coef = torch.clamp(hp["max_grad_norm"] / (gnorm + 1e-6), max=1.0)
    g = grad * coef
    step1 = step + 1.0
    idx = torch.arange(flat.shape[0], device=flat.device)
    decay = (idx < spec.n_decay).to(torch.float32)
    lr, b1, b2 = hp["lr"], hp["beta1"], hp["beta2"]
    p = flat * (1.0 - lr * hp["weight_decay"] * decay)
    m1 = b1 * m + (1.0 - b1) * g
    v1 = b2 * v + (1.0 - b2) * g * g
    bc1 = 1.0 - torch.pow(b1, step1)
    bc2 = 1.0 - torch.pow(b2, step1)
    denom = torch.sqrt(v1) / torch.sqrt(bc2) + hp["eps"]
    p = p - (lr / bc1) * m1 / denom
    ok = torch.isfinite(gnorm)
    return (torch.where(ok, p, flat), torch.where(ok, m1, m), torch.where(ok, v1, v),
            torch.where(ok, step1, step), gnorm)
