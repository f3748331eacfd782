"""Writes artifacts/eval.md from artifacts/eval.json (+ work/embedding_eval.json if present)."""
from __future__ import annotations

import json
import os

from .build import ART, WORK

NAMES = {"model": "**value model (task features)**", "global_mean": "global mean (context mean)",
         "prompt_history": "per-prompt history", "knn_k4": "kNN k=4 (task features)",
         "model_no_context": "value model, context masked (ablation)", "knn_k8": "kNN k=8 (task features)", "knn_k16": "kNN k=16 (task features)",
         "model_minilm": "value model (MiniLM embedding)", "knn_minilm_k4": "kNN k=4 (MiniLM)",
         "knn_minilm_k8": "kNN k=8 (MiniLM)", "knn_minilm_k16": "kNN k=16 (MiniLM)"}


def main():
    ev = json.load(open(os.path.join(ART, "eval.json")))
    emb_path = os.path.join(WORK, "embedding_eval.json")
    if os.path.exists(emb_path):
        ev["embedding_alternative"] = json.load(open(emb_path))
        with open(os.path.join(ART, "eval.json"), "w") as f:
            json.dump(ev, f, indent=1)
    tr = json.load(open(os.path.join(ART, "train_report.json")))
    L = ["# Value model evaluation (held-out policies)", ""]
    held = ev["heldout_policies"]
    L.append(f"Held-out policies: {len(held)} (all four temperatures of the weight variants "
             f"{', '.join(sorted({p['variant'] for p in held}))}); never seen in training "
             f"({ev['train_policies']} training policies). Mean pass rate of held-out policies: "
             f"{min(p['mean_pass'] for p in held):.3f} … {max(p['mean_pass'] for p in held):.3f}.")
    L.append(f"Protocol: per held-out policy and context size C, {ev['repeats_per_policy']} random splits of its "
             "400 measured prompts into C context rows and the remaining 400 − C queries. "
             "**Intra-context AUC**: AUC of p̂ among the queries of one context, success = pass rate ≥ 0.5, "
             "averaged over contexts (± = std over contexts). **Brier**: mean (p̂ − pass rate)² "
             "(pass rate = 8-rollout estimate). **ECE**: 10 equal-width bins of p̂ pooled over all "
             "queries at that C, Σ (n_b/N)·|mean p̂_b − mean pass rate_b|.")
    L.append("")
    L.append(f"Model: {tr['n_params']} parameters, {tr['steps']} meta-training steps, "
             f"{tr['wall_s']:.0f} s on 1 CPU thread.")
    L.append("")
    metrics = dict(ev["metrics"])
    emb = ev.get("embedding_alternative", {}).get("metrics", {})
    L += ["| C | predictor | intra-context AUC | within-level AUC | Brier | ECE |", "|---|---|---|---|---|---|"]
    for C in metrics:
        rows = dict(metrics[C])
        rows.update(emb.get(C, {}))
        for n, m in rows.items():
            wl = m.get("within_level_auc")
            wl = f"{wl:.3f}" if wl is not None else "–"
            L.append(f"| {C} | {NAMES.get(n, n)} | {m['intra_auc']:.3f} ± {m['intra_auc_std']:.3f} | {wl} | "
                     f"{m['brier']:.4f} | {m['ece']:.4f} |")
    L.append("")
    L.append("Global mean is a constant within a context, so its intra-context AUC is 0.5 by construction. "
             "Per-prompt history = the prompt's mean pass rate over the training policies (context mean "
             "when unseen); it ignores the current policy except through that fallback.")
    if emb:
        L.append("")
        L.append("MiniLM rows: " + ev["embedding_alternative"]["features"] + "; same network (input 384) and "
                 "training recipe. Evaluation only; the exported model uses the 16 task features.")
    L.append("Within-level AUC: the same AUC computed separately among the queries of each level "
             "(levels with both classes present) and averaged — ranking beyond the level, where the level "
             "itself (an input feature) is no help.")
    with open(os.path.join(ART, "eval.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
