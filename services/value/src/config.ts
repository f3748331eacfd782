// Value service configuration: environment variables, validated once at start-up.
import path from "node:path";
import { z } from "zod";
import { commonServiceEnv, intVar, loadConfig, mongoEnv, portVar } from "../../../shared/config";
import { repoRoot } from "../../../shared/paths";

export const valueEnv = {
  ...commonServiceEnv,
  ...mongoEnv,
  GRPC_PORT: portVar(50051),
  /** -1 disables the metrics endpoint. */
  METRICS_PORT: intVar(9451, -1, 65535),
  /** The value model (see models/value/README.md). */
  VALUE_MODEL_FILE: z.string().min(1).default(path.join(repoRoot(), "models", "value", "artifacts", "value_model.onnx")),
  VALUE_MODEL_ID: z.string().min(1).default("valor-v0-arith"),
  VALUE_EXECUTION_PROVIDER: z.enum(["cpu", "cuda"]).default("cpu"),
  VALUE_INTRA_OP_THREADS: intVar(0, 0, 256),
  /** Support buffer per policy: the most recent N observations. */
  VALUE_CONTEXT_CAPACITY: intVar(256, 1, 4_096),
  /** Fewer context rows than this: no_context, and the fallback p̂. */
  VALUE_MIN_CONTEXT: intVar(8, 0, 4_096),
  /** Coalescing: most predictions per model run, and how long the first waits. */
  VALUE_MAX_BATCH: intVar(64, 1, 4_096),
  VALUE_MAX_WAIT_MS: intVar(2, 0, 1_000),
  VALUE_MAX_PROMPTS: intVar(4_096, 1, 1_000_000),
  VALUE_FEATURE_CACHE: intVar(100_000, 0, 10_000_000),
};

export type ValueConfig = ReturnType<typeof loadValueConfig>;

export function loadValueConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(valueEnv, env);
}
