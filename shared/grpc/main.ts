// The common entry point of a service's main.ts: load the configuration (exit 2
// with every problem listed when it is wrong), start, stop on signals.
import { ConfigError } from "../config";
import type { Logger } from "../telemetry/logger";
import { exitOnSignals, type RunningService } from "./runtime";

export function runService<C>(
  name: string,
  loadConfig: () => C,
  start: (config: C) => Promise<{ service: RunningService; logger: Logger }>,
): void {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  start(config).then(
    ({ service, logger }) => exitOnSignals(service, logger),
    (err: unknown) => {
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
