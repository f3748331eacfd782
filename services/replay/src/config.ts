// Replay service configuration: environment variables, validated once at start-up.
import { z } from "zod";
import { ConfigError, commonServiceEnv, intVar, loadConfig, mongoEnv, portVar } from "../../../shared/config";

export const replayEnv = {
  ...commonServiceEnv,
  ...mongoEnv,
  GRPC_PORT: portVar(50056),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9456, -1, 65535),
  /** Buffer capacity M of a run created by its first append. */
  REPLAY_DEFAULT_CAPACITY: intVar(5_120, 1, 10_000_000),
  REPLAY_MAX_CAPACITY: intVar(1_000_000, 1, 10_000_000),
  /** Trajectories per Append. */
  REPLAY_MAX_APPEND_BATCH: intVar(8_192, 1, 1_000_000),
  /** Prompt or response tokens per trajectory. */
  REPLAY_MAX_TOKENS: intVar(262_144, 1, 1_000_000),
  /** Characters of prompt or response text per trajectory. */
  REPLAY_MAX_TEXT_CHARS: intVar(1_000_000, 0, 2_000_000),
  /** Trajectories per Sample. */
  REPLAY_MAX_SAMPLE: intVar(65_536, 1, 10_000_000),
  /** Trajectories per Query page. */
  REPLAY_MAX_QUERY_LIMIT: intVar(10_000, 1, 1_000_000),
  /** MongoDB write concern of every write: "majority" or a node count; always journaled. */
  REPLAY_WRITE_CONCERN: z
    .string()
    .regex(/^(majority|[1-9][0-9]?)$/, 'must be "majority" or a node count')
    .default("majority"),
};

export type ReplayConfig = ReturnType<typeof loadReplayConfig>;

export function loadReplayConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(replayEnv, env);
  if (config.REPLAY_DEFAULT_CAPACITY > config.REPLAY_MAX_CAPACITY) {
    throw new ConfigError([
      `REPLAY_DEFAULT_CAPACITY (${config.REPLAY_DEFAULT_CAPACITY}) must be <= REPLAY_MAX_CAPACITY (${config.REPLAY_MAX_CAPACITY})`,
    ]);
  }
  return config;
}

export function writeConcernOf(config: ReplayConfig): "majority" | number {
  return config.REPLAY_WRITE_CONCERN === "majority" ? "majority" : Number(config.REPLAY_WRITE_CONCERN);
}
