// The common entry point of a service's main.ts: load the configuration (exit 2
// with every problem listed when it is wrong), log it once (secrets masked),
// start, stop on signals (and, under a local supervisor, when it exits).
import { ConfigError, loggableConfig } from "../config";
import { createLogger, type Logger } from "../telemetry/logger";
import type { TracingHandle } from "../telemetry/tracing";
import { checkServerTransport } from "./tls";
import { EXIT_WITH_PARENT_ENV, exitOnSignals, type RunningService } from "./runtime";

export function runService<C extends { LOG_LEVEL: string }>(
  name: string,
  tracing: TracingHandle,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<RunningService>,
): void {
  let config: C;
  try {
    config = loadConfig();
    if ("TLS_CERT_FILE" in config) checkServerTransport(config as unknown as Parameters<typeof checkServerTransport>[0]);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(name, config.LOG_LEVEL);
  logger.info({ config: loggableConfig(config), tracing: tracing.enabled }, "configuration");
  start(config, logger).then(
    // Set by shared/local/service-process.ts, which holds our stdin; never in a deployment, where
    // stdin may be closed from the start.
    (service) => exitOnSignals(service, logger, { exitWithParent: process.env[EXIT_WITH_PARENT_ENV] === "1" }),
    (err: unknown) => {
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
