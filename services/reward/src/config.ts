// Reward service configuration: environment variables, validated once at start-up.
import { z } from "zod";
import { ConfigError, commonServiceEnv, intVar, loadConfig, numberVar, portVar } from "../../../shared/config";

const booleanVar = (defaultValue: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(defaultValue ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

export const rewardEnv = {
  ...commonServiceEnv,
  GRPC_PORT: portVar(50053),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9453, -1, 65535),
  /** HTTP/JSON adapters (OpenRLHF, slime, plain JSON). 0 picks a free port; -1 disables. */
  REWARD_HTTP_PORT: intVar(8053, -1, 65535),
  REWARD_HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  /** Bearer token required on gRPC (authorization metadata) and HTTP when set. Empty: no auth. */
  /** Worker threads for CAS verification; 0 = available parallelism. */
  REWARD_THREADS: intVar(0, 0, 256),
  REWARD_ITEM_TIMEOUT_MS: intVar(2_000, 10, 600_000),
  REWARD_MAX_ITEM_TIMEOUT_MS: intVar(30_000, 10, 600_000),
  REWARD_MAX_BATCH_ITEMS: intVar(16_384, 1, 1_000_000),
  REWARD_MAX_RESPONSE_CHARS: intVar(262_144, 16, 64 * 1024 * 1024),
  REWARD_MAX_ANSWER_CHARS: intVar(2_048, 16, 1_000_000),
  REWARD_MAX_NESTING: intVar(32, 1, 10_000),
  REWARD_MAX_PARTS: intVar(256, 1, 100_000),
  REWARD_RELATIVE_TOLERANCE: numberVar(1e-6, 0, 1),
  /** Strict extraction by default (no last-number fallback). */
  REWARD_STRICT: booleanVar(false),
  REWARD_PERCENT_POLICY: z.enum(["gold_decides", "strip", "scale"]).default("gold_decides"),
  /** Reward scale of the HTTP adapters (gRPC callers choose per request). */
  REWARD_HTTP_SCALE: z.enum(["binary", "signed"]).default("binary"),
  /** Largest HTTP request body in bytes. */
  REWARD_HTTP_BODY_LIMIT: intVar(64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
};

export type RewardConfig = ReturnType<typeof loadRewardConfig>;

export function loadRewardConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(rewardEnv, env);
  if (config.REWARD_MAX_ITEM_TIMEOUT_MS < config.REWARD_ITEM_TIMEOUT_MS) {
    throw new ConfigError([
      `REWARD_MAX_ITEM_TIMEOUT_MS (${config.REWARD_MAX_ITEM_TIMEOUT_MS}) must be >= REWARD_ITEM_TIMEOUT_MS (${config.REWARD_ITEM_TIMEOUT_MS})`,
    ]);
  }
  return config;
}

export const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");
