"""python -m valor_value.gen_data OUT.npz RL_DIR  (regenerates the episode data set; ~12 min, 1 thread;
RL_DIR = the exported RL checkpoints, models/value/work/rl/checkpoints after build.sh)"""
import sys

import torch

from valor_model import model as M
from valor_model.build import load_weights

from . import data as D

if __name__ == "__main__":
    torch.set_num_threads(1)
    spec = M.build_spec(M.Config())
    D.generate_dataset(spec, load_weights(spec), sys.argv[1], sys.argv[2], log=lambda m: print(m, flush=True))
