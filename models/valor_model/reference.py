"""The framework's own training step (eager PyTorch autograd + clip_grad_norm_ +
torch.optim.AdamW on per-tensor parameters), used to validate and benchmark the ONNX
train-step graphs."""
from __future__ import annotations

import torch

from . import model as M


class EagerTrainer:
    def __init__(self, spec, flat, lr, betas, eps, weight_decay, max_grad_norm):
        self.spec = spec
        views = M.unflatten(spec, flat.detach())
        self.leaves = [views[n].clone().requires_grad_(True) for n in spec.names]
        decay = [t for n, t in zip(spec.names, self.leaves) if spec.offsets[n] < spec.n_decay]
        nodecay = [t for n, t in zip(spec.names, self.leaves) if spec.offsets[n] >= spec.n_decay]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                      {"params": nodecay, "weight_decay": 0.0}],
                                     lr=lr, betas=betas, eps=eps, foreach=False)
        self.max_grad_norm = max_grad_norm

    def flat(self):
        return torch.cat([t.reshape(-1) for t in self.leaves])

    def state_flat(self, key):
        return torch.cat([self.opt.state[t][key].reshape(-1) for t in self.leaves])

    def step(self, loss_fn, batch, hp):
        self.opt.zero_grad(set_to_none=True)
        loss, aux = loss_fn(self.spec, self.flat(), batch, hp)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.leaves, self.max_grad_norm)
        self.opt.step()
        return loss.detach(), aux, gnorm
