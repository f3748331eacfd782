// Value-model priors of controlled quality, and the drifted reference policy for PVPO.

export type PriorModel =
  | { kind: "perfect" }
  /** p̂ = σ(logit p + σ·z), z ~ N(0, 1) per prompt. */
  | { kind: "logit_noise"; sigma: number }
  /** p̂ = clamp(p + shift, 0, 1): systematic bias on the pass-rate scale. */
  | { kind: "shift"; shift: number }
  /** A fraction of prompts get p̂ = p ± 0.5 (toward the far side); the rest get logit noise σ. */
  | { kind: "hallucinate"; fraction: number; sigma: number }
  /** Maximally wrong, the bounded-scale stand-in for an infinitely biased prior: p̂ = 1 if p < 0.5 else 0. */
  | { kind: "opposite" };

const EPS = 1e-6;

export function logit(p: number): number {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The prior for a prompt with true pass rate p, per-prompt normal draw z and uniform draw h. */
export function priorFor(model: PriorModel, p: number, z: number, h: number): number {
  switch (model.kind) {
    case "perfect":
      return p;
    case "logit_noise":
      return model.sigma === 0 ? p : sigmoid(logit(p) + model.sigma * z);
    case "shift":
      return Math.min(1, Math.max(0, p + model.shift));
    case "hallucinate":
      if (h < model.fraction) return p < 0.5 ? p + 0.5 : p - 0.5;
      return model.sigma === 0 ? p : sigmoid(logit(p) + model.sigma * z);
    case "opposite":
      return p < 0.5 ? 1 : 0;
  }
}

export function describePrior(model: PriorModel): string {
  switch (model.kind) {
    case "perfect":
      return "perfect prior";
    case "logit_noise":
      return `logit noise σ=${model.sigma}`;
    case "shift":
      return `bias ${model.shift > 0 ? "+" : ""}${model.shift} (pass rate)`;
    case "hallucinate":
      return `${Math.round(model.fraction * 100)}% hallucinated (±0.5), rest σ=${model.sigma}`;
    case "opposite":
      return "maximally wrong (p̂ = 1 if p < 0.5 else 0)";
  }
}

/** Reference policy's pass rate when the current policy has improved by `drift` logits since it. */
export function referencePassRate(p: number, drift: number): number {
  return drift === 0 ? p : sigmoid(logit(p) - drift);
}
