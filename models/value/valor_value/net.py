"""In-context pass-rate predictor (TabPFN-style, tiny).

Context row i: h_i = W_c [features_i ‖ outcome_i ‖ 1] ; query j: g_j = W_q features_j + q0.
A learned "null" row n (always valid) is appended to the keys so a context whose mask is
all zero still gives a finite softmax (the prediction then falls back to the prior).
Each of L layers (pre-LayerNorm):
   context:  h <- h + SelfAttn(LN h | keys = valid context rows + null) ; h <- h + MLP(LN h)
   queries:  g <- g + CrossAttn(LN g | keys = the same layer's LN h over valid rows + null)
             g <- g + MLP(LN g)
Queries never attend to each other, so predictions are per-query (batching Q does not
change them) and padding context rows never influence anything (additive -1e9 mask).
Output: logit = w · LN(g) + b ; pass_rate = sigmoid(logit).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as Fn

NEG = -1e9


class Attn(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dh = h, d // h
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mem, bias):
        # x [B,T,d], mem [B,S,d], bias [B,1,1,S]
        B, T, d = x.shape
        S = mem.shape[1]
        q = self.q(x).reshape(B, T, self.h, self.dh).transpose(1, 2)
        k, v = self.kv(mem).split(d, dim=-1)
        k = k.reshape(B, S, self.h, self.dh).transpose(1, 2)
        v = v.reshape(B, S, self.h, self.dh).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(self.dh)) + bias, dim=-1)
        return self.o((att @ v).transpose(1, 2).reshape(B, T, d))


class Block(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.ln_c1, self.ln_c2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ln_q1, self.ln_q2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att_c = Attn(d, h)
        self.att_q = Attn(d, h)
        self.mlp_c = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
        self.mlp_q = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, h, g, null, bias):
        hn = self.ln_c1(torch.cat([h, null], 1))
        g = g + self.att_q(self.ln_q1(g), hn, bias)
        g = g + self.mlp_q(self.ln_q2(g))
        h = h + self.att_c(hn[:, :-1], hn, bias)
        h = h + self.mlp_c(self.ln_c2(h))
        return h, g


class ValueNet(nn.Module):
    def __init__(self, n_feat=16, d=64, heads=4, layers=3, ff=128):
        super().__init__()
        self.n_feat = n_feat
        self.emb_c = nn.Linear(n_feat + 2, d)
        self.emb_q = nn.Linear(n_feat, d)
        self.q0 = nn.Parameter(torch.zeros(d))
        self.null = nn.Parameter(torch.randn(d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, ff) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1)

    def logits(self, cf, co, cm, qf):
        B, C, _ = cf.shape
        ones = torch.ones_like(co).unsqueeze(-1)
        h = self.emb_c(torch.cat([cf, co.unsqueeze(-1), ones], -1))
        g = self.emb_q(qf) + self.q0
        null = self.null.reshape(1, 1, -1).expand(B, 1, -1)
        valid = torch.cat([cm, torch.ones_like(cm[:, :1])], 1)  # [B,C+1]
        bias = ((1.0 - valid) * NEG).reshape(B, 1, 1, C + 1)
        for blk in self.blocks:
            h, g = blk(h, g, null, bias)
        return self.head(self.ln_f(g)).squeeze(-1)

    def forward(self, context_features, context_outcomes, context_mask, query_features):
        return torch.sigmoid(self.logits(context_features, context_outcomes, context_mask, query_features))


def n_params(net):
    return sum(p.numel() for p in net.parameters())
