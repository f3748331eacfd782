// Baseline service configuration: environment variables, validated once at start-up.
import { ConfigError, commonServiceEnv, intVar, loadConfig, mongoEnv, numberVar, portVar } from "../../../shared/config";

export const baselineEnv = {
  ...commonServiceEnv,
  ...mongoEnv,
  GRPC_PORT: portVar(50054),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9454, -1, 65535),
  BASELINE_MAX_GROUPS: intVar(65_536, 1, 10_000_000),
  BASELINE_MAX_ROLLOUTS_PER_GROUP: intVar(4_096, 1, 1_000_000),
  BASELINE_MAX_PROMPT_IDS: intVar(65_536, 1, 10_000_000),
  BASELINE_K_INIT: intVar(4, 1, 4_096),
  BASELINE_K_MAX: intVar(16, 1, 4_096),
  BASELINE_COST_PER_ROLLOUT: numberVar(0.0039, 0, 1),
  BASELINE_V0_MIN_PER_PROMPT: intVar(2, 1, 4_096),
  BASELINE_V0_MAX_PER_PROMPT: intVar(128, 1, 65_536),
  /** Most single-rollout steps of one PlanRollouts greedy allocation (bounds its time on the event loop). */
  BASELINE_MAX_PLAN_STEPS: intVar(2_000_000, 1, 1_000_000_000),
};

export type BaselineConfig = ReturnType<typeof loadBaselineConfig>;

export function loadBaselineConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(baselineEnv, env);
  if (config.BASELINE_K_MAX < config.BASELINE_K_INIT) {
    throw new ConfigError([`BASELINE_K_MAX (${config.BASELINE_K_MAX}) must be >= BASELINE_K_INIT (${config.BASELINE_K_INIT})`]);
  }
  return config;
}
