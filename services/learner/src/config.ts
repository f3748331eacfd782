// Learner service configuration: environment variables, validated once at start-up.
import path from "node:path";
import { z } from "zod";
import { commonServiceEnv, intVar, loadConfig, mongoEnv, portVar } from "../../../shared/config";
import { repoRoot } from "../../../shared/paths";
import { ID_PATTERN } from "../../../shared/validation";

export const learnerEnv = {
  ...commonServiceEnv,
  ...mongoEnv,
  GRPC_PORT: portVar(50055),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9455, -1, 65535),
  /** The training run this learner serves; its checkpoints are resumed on start. */
  LEARNER_RUN_ID: z.string().regex(ID_PATTERN, "must be 1-256 characters of [A-Za-z0-9_:/@#+=-]").default("default"),
  /** Folder with the train-step graph and the initial weights (see models/README.md). */
  LEARNER_MODEL_DIR: z.string().min(1).default(path.join(repoRoot(), "models", "artifacts")),
  LEARNER_EXECUTION_PROVIDER: z.enum(["cpu", "cuda"]).default("cpu"),
  LEARNER_INTRA_OP_THREADS: intVar(0, 0, 256),
  /** Rollout services that receive every new policy version (comma-separated host:port). */
  LEARNER_ROLLOUT_ADDRESSES: z
    .string()
    .default("")
    .transform((s) => s.split(",").map((a) => a.trim()).filter(Boolean)),
  LEARNER_PUSH_CHUNK_BYTES: intVar(1 << 20, 1024, 64 << 20),
  LEARNER_PUSH_DEADLINE_MS: intVar(30_000, 100, 600_000),
  /** Checkpoint every N steps (and on shutdown); 0 only on shutdown and on request. */
  LEARNER_CHECKPOINT_EVERY: intVar(10, 0, 1_000_000),
  /** Checkpoints kept per run (older ones are deleted after each save); 0 keeps all. */
  LEARNER_CHECKPOINT_KEEP: intVar(3, 0, 1_000_000),
  LEARNER_MAX_TRAJECTORIES: intVar(4_096, 1, 1_000_000),
};

export type LearnerConfig = ReturnType<typeof loadLearnerConfig>;

export function loadLearnerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(learnerEnv, env);
}
