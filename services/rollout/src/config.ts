// Rollout service configuration: environment variables, validated once at start-up.
import path from "node:path";
import { z } from "zod";
import { commonServiceEnv, intVar, loadConfig, portVar } from "../../../shared/config";
import { repoRoot } from "../../../shared/paths";

export const rolloutEnv = {
  ...commonServiceEnv,
  GRPC_PORT: portVar(50052),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9452, -1, 65535),
  /** Folder with the policy graphs, weights and vocabulary (see models/README.md). */
  ROLLOUT_MODEL_DIR: z.string().min(1).default(path.join(repoRoot(), "models", "artifacts")),
  /** onnxruntime execution provider: cpu, or cuda on GPU nodes (with the CUDA provider installed). */
  ROLLOUT_EXECUTION_PROVIDER: z.enum(["cpu", "cuda"]).default("cpu"),
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  ROLLOUT_INTRA_OP_THREADS: intVar(0, 0, 256),
  /** Most sequences decoded together in one dynamic batch. */
  ROLLOUT_MAX_BATCH_SEQUENCES: intVar(256, 1, 65_536),
  /** How long an idle engine waits for more requests to batch with (milliseconds). */
  ROLLOUT_BATCH_WINDOW_MS: intVar(2, 0, 1_000),
  /** Most prompts × samples in one Generate request, and sequences in one Score request. */
  ROLLOUT_MAX_SEQUENCES_PER_REQUEST: intVar(4_096, 1, 1_000_000),
};

export type RolloutConfig = ReturnType<typeof loadRolloutConfig>;

export function loadRolloutConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(rolloutEnv, env);
}
