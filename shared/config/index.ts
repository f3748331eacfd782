// Typed configuration from environment variables: every service declares a
// zod schema, loads it once at start-up, fails fast with every problem listed,
// and logs the resolved values.
import { z } from "zod";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** An environment variable holding an integer in [min, max]. */
export function intVar(defaultValue: number, min: number, max: number) {
  return z.coerce.number().int().min(min).max(max).default(defaultValue);
}

/** An environment variable holding a finite number in [min, max]. */
export function numberVar(defaultValue: number, min: number, max: number) {
  return z.coerce.number().finite().min(min).max(max).default(defaultValue);
}

/** A TCP port; 0 asks the OS for a free one (the bound port is logged). */
export const portVar = (defaultValue: number) => intVar(defaultValue, 0, 65535);

/** "true"/"1" or "false"/"0"/unset. */
export const boolVar = (defaultValue: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(defaultValue ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

export const logLevelVar = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info");

/** Settings every gRPC service shares. */
export const commonServiceEnv = {
  GRPC_HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: logLevelVar,
  GRPC_MAX_MESSAGE_BYTES: intVar(64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  SHUTDOWN_GRACE_MS: intVar(10_000, 0, 600_000),
  /** Bearer token required on every RPC except health and reflection; empty disables the check. */
  AUTH_TOKEN: z.string().default(""),
  /** TLS: PEM certificate chain and key (both or neither; neither = plaintext). */
  TLS_CERT_FILE: z.string().default(""),
  TLS_KEY_FILE: z.string().default(""),
  /** Mutual TLS: PEM CA bundle that client certificates must chain to. */
  TLS_CLIENT_CA_FILE: z.string().default(""),
  /** How often the certificate files are re-read (rotation without restart). */
  TLS_RELOAD_MS: intVar(60_000, 100, 86_400_000),
  /** Outgoing calls to other services: the CA that signed their certificates (empty: plaintext). */
  TLS_PEER_CA_FILE: z.string().default(""),
  /** Accept AUTH_TOKEN over plaintext on a non-loopback address (e.g. behind a TLS-terminating mesh). */
  ALLOW_INSECURE_AUTH: boolVar(false),
};

/** The configuration as it may be logged: secrets masked. */
export function loggableConfig<C extends object>(config: C): C {
  const c = config as { AUTH_TOKEN?: unknown; MONGODB_URI?: unknown };
  return {
    ...config,
    ...(typeof c.AUTH_TOKEN === "string" ? { AUTH_TOKEN: c.AUTH_TOKEN ? "***" : "" } : {}),
    ...(typeof c.MONGODB_URI === "string" ? { MONGODB_URI: redactUri(c.MONGODB_URI) } : {}),
  };
}

export const mongoEnv = {
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// or mongodb+srv:// URI")
    .default("mongodb://127.0.0.1:27017/"),
  MONGODB_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, "must be 1-63 characters of [A-Za-z0-9_-]")
    .default("valor"),
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: intVar(2_000, 100, 120_000),
};

export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".");
        const value = env[name];
        return `${name}=${value === undefined ? "(unset)" : JSON.stringify(value)}: ${issue.message}`;
      }),
    );
  }
  return parsed.data;
}

/** Hides credentials in a MongoDB URI before it is logged. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, "//***@");
}
