// Difficulty mixes: the distribution of true pass rates p over prompts.
import { betaStream, uniformStream } from "./rng";

export interface MixComponent {
  weight: number;
  alpha: number;
  beta: number;
  label: string;
}

export interface Mix {
  id: string;
  label: string;
  components: readonly MixComponent[];
}

export const MIXES: Record<string, Mix> = {
  beta_half: {
    id: "beta_half",
    label: "Beta(0.5, 0.5): U-shaped, many prompts near 0 or 1",
    components: [{ weight: 1, alpha: 0.5, beta: 0.5, label: "Beta(0.5,0.5)" }],
  },
  dapo_like: {
    id: "dapo_like",
    label: "DAPO-Math-17k-like: ~41% never / ~58% mixed / ~0.6% always solved in 16 rollouts",
    // Calibrated so that 16 Bernoulli rollouts reproduce PVPO Fig. 9's DAPO-Math-17k
    // proportions (41.5% / 57.9% / 0.6%); the realised proportions are reported.
    components: [
      { weight: 0.36, alpha: 0.5, beta: 80, label: "hard: Beta(0.5,80)" },
      { weight: 0.635, alpha: 1, beta: 2.5, label: "mixed: Beta(1,2.5)" },
      { weight: 0.005, alpha: 60, beta: 0.5, label: "easy: Beta(60,0.5)" },
    ],
  },
};

/** Draws n pass rates from the mix (component chosen by one uniform, value by one beta draw). */
export function drawPassRates(mix: Mix, n: number, seed: number): Float64Array {
  const pick = uniformStream(seed);
  const draw = betaStream((seed ^ 0x5bd1e995) >>> 0 || 1);
  const total = mix.components.reduce((s, c) => s + c.weight, 0);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = pick() * total;
    let acc = 0;
    let comp = mix.components[mix.components.length - 1]!;
    for (const c of mix.components) {
      acc += c.weight;
      if (x < acc) {
        comp = c;
        break;
      }
    }
    out[i] = draw(comp.alpha, comp.beta);
  }
  return out;
}
