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
        ea = ev["embedding_alternative"]
        L.append("MiniLM rows: " + ea["features"] + f"; same network (input 384), same held-out split and loss, "
                 f"{ea['steps']} steps at lr {ea.get('lr', 1e-3)} (the exported task-feature model: {tr['steps']} steps at "
                 f"lr {tr['lr']}). Evaluation only; the exported model uses the 16 task features.")
    L.append("Within-level AUC: the same AUC computed separately among the queries of each level "
             "(levels with both classes present) and averaged — ranking beyond the level, where the level "
             "itself (an input feature) is no help.")
    m = {C: {**metrics[C], **emb.get(C, {})} for C in metrics}
    g = lambda C, n, k="intra_auc": m[C][n][k] if n in m[C] and m[C][n].get(k) is not None else float("nan")
    best_knn = lambda C: max((n for n in m[C] if n.startswith("knn_k")), key=lambda n: g(C, n))
    L += ["", "## Reading", ""]
    L.append(f"- Intra-context AUC of the model: {g('32', 'model'):.3f} (C=32) … {g('256', 'model'):.3f} (C=256); "
             f"best task-feature kNN: {g('32', best_knn('32')):.3f} ({best_knn('32')}) … "
             f"{g('256', best_knn('256')):.3f} ({best_knn('256')}). The model beats kNN at every C and most at small C; "
             "kNN catches up as C grows.")
    L.append(f"- Per-prompt history is slightly higher on AUC ({g('32', 'prompt_history'):.3f} … "
             f"{g('256', 'prompt_history'):.3f}) and clearly higher within a level "
             f"({g('256', 'prompt_history', 'within_level_auc'):.3f} vs {g('256', 'model', 'within_level_auc'):.3f}): "
             "every pool prompt was measured under ~24 training policies and difficulty order is largely shared "
             "across these policies, so memorised per-prompt rates encode more than 16 hand-made features. "
             "It has no answer for unseen prompts, and is worse calibrated (Brier "
             f"{g('256', 'prompt_history', 'brier'):.4f} vs {g('256', 'model', 'brier'):.4f}) because it ignores "
             "the current policy's strength.")
    L.append(f"- Context ablation: masking the whole context keeps AUC at {g('256', 'model_no_context'):.3f} "
             f"but Brier rises to {g('256', 'model_no_context', 'brier'):.4f} and ECE to "
             f"{g('256', 'model_no_context', 'ece'):.4f}: on this data the context mostly sets the level/strength "
             "of the policy (calibration) and adds a little ranking (within-level AUC "
             f"{g('256', 'model_no_context', 'within_level_auc'):.3f} → {g('256', 'model', 'within_level_auc'):.3f}); "
             "the cross-level order (level 1 > 3 > 2 > 4 ≈ 5) is the same for nearly all these policies.")
    if emb:
        L.append(f"- MiniLM embeddings instead of task features: AUC {g('256', 'model_minilm'):.3f}, within-level "
                 f"{g('256', 'model_minilm', 'within_level_auc'):.3f}, Brier {g('256', 'model_minilm', 'brier'):.4f} — "
                 "a small gain, not a dramatic one, at the cost of a 22 M-parameter encoder in the service; "
                 "kNN in MiniLM space is much worse than kNN on task features.")
    L.append("- V0 reports intra-context AUC 0.88–0.91 (kNN-contextual 0.75–0.86) on real LLM policies and math "
             "benchmarks; the numbers here are on a toy task with five strongly separated difficulty levels and "
             "are not comparable in absolute terms — level alone already ranks most pairs.")
    with open(os.path.join(ART, "eval.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
