// Training recipes by name (verl-style registry): which baseline estimator,
// reward scale, loss and sampling rules each algorithm uses. The definitions
// follow ../shared/design/algorithms.md (verl's, DAPO's, PVPO's, V0.5's and
// ReVal's own conventions); an unknown name is answered with the valid ones.
import { InvalidArgumentError } from "../../../../shared/errors";

export type Aggregation = "token_mean" | "seq_mean_token_mean" | "seq_mean_token_sum_norm";

export interface PolicyGradientLoss {
  clipRatioLow: number;
  clipRatioHigh: number;
  dualClip: number;
  aggregation: Aggregation;
}

export interface Recipe {
  name: string;
  description: string;
  /** Baseline-service estimator (unused by reval, which needs no advantages). */
  estimator: "grpo" | "dr_grpo" | "rloo" | "dapo" | "pvpo" | "v05" | "none";
  /** Reward scale of the verifier's rewards: DAPO and V0.5 use ±1, the others 0/1. */
  rewardScale: "binary" | "signed";
  loss: PolicyGradientLoss | "reval";
  /** DAPO: keep drawing prompts until the batch holds only groups with mixed outcomes. */
  dynamicSampling: boolean;
  /** PVPO: reference-policy statistics for the static baseline and the prompt filter. */
  usesReference: boolean;
  /** V0.5: value-service priors and the baseline service's rollout-budget plan. */
  usesPrior: boolean;
}

// GRPO's original aggregation is the per-sequence token mean; verl's dual clip c = 3 throughout.
const GRPO_LOSS: PolicyGradientLoss = { clipRatioLow: 0.2, clipRatioHigh: 0.2, dualClip: 3, aggregation: "seq_mean_token_mean" };

const RECIPES: readonly Recipe[] = [
  {
    name: "grpo",
    description: "GRPO: group mean and std baseline, per-sequence token-mean loss",
    estimator: "grpo",
    rewardScale: "binary",
    loss: GRPO_LOSS,
    dynamicSampling: false,
    usesReference: false,
    usesPrior: false,
  },
  {
    name: "dr_grpo",
    description: "Dr.GRPO: group mean baseline without std, token sum over a constant length",
    estimator: "dr_grpo",
    rewardScale: "binary",
    loss: { ...GRPO_LOSS, aggregation: "seq_mean_token_sum_norm" },
    dynamicSampling: false,
    usesReference: false,
    usesPrior: false,
  },
  {
    name: "rloo",
    description: "RLOO: leave-one-out mean baseline, token-mean loss",
    estimator: "rloo",
    rewardScale: "binary",
    loss: { ...GRPO_LOSS, aggregation: "token_mean" },
    dynamicSampling: false,
    usesReference: false,
    usesPrior: false,
  },
  {
    name: "dapo",
    description: "DAPO: ±1 rewards, clip-higher (0.2/0.28), dynamic sampling, token-level loss",
    estimator: "dapo",
    rewardScale: "signed",
    loss: { clipRatioLow: 0.2, clipRatioHigh: 0.28, dualClip: 3, aggregation: "token_mean" },
    dynamicSampling: true,
    usesReference: false,
    usesPrior: false,
  },
  {
    name: "pvpo",
    description: "PVPO: static baseline from reference rollouts, prompts filtered by reference accuracy",
    estimator: "pvpo",
    rewardScale: "binary",
    loss: GRPO_LOSS,
    dynamicSampling: false,
    usesReference: true,
    usesPrior: false,
  },
  {
    name: "v05",
    description: "V0.5: value-model prior fused with k_init rollouts, extra rollouts on demand",
    estimator: "v05",
    rewardScale: "signed",
    loss: GRPO_LOSS,
    dynamicSampling: false,
    usesReference: false,
    usesPrior: true,
  },
  {
    name: "reval",
    description: "ReVal: Bellman-consistent value loss on fresh and replayed trajectories",
    estimator: "none",
    rewardScale: "binary",
    loss: "reval",
    dynamicSampling: false,
    usesReference: false,
    usesPrior: false,
  },
];

export const ALGORITHM_NAMES = RECIPES.map((r) => r.name);

export function getRecipe(name: string, fieldPath = "algorithm"): Recipe {
  const recipe = RECIPES.find((r) => r.name === name);
  if (!recipe) throw new InvalidArgumentError(fieldPath, `unknown algorithm ${JSON.stringify(name)}; valid: ${ALGORITHM_NAMES.join(", ")}`);
  return recipe;
}

export function listRecipes(): readonly Recipe[] {
  return RECIPES;
}
