// Reward service entry point: configuration, worker pool, signals.
import { tracing } from "./instrumentation";
import { runService } from "../../../shared/grpc/main";
import { createRpcMetrics } from "../../../shared/telemetry/metrics";
import { isLoopback, loadRewardConfig } from "./config";
import { Verifier } from "./pool/verifier-pool";
import { startRewardServer } from "./server";
import { DEFAULT_SETTINGS } from "./domain/settings";

runService("valor-reward", tracing, () => loadRewardConfig(), async (config, logger) => {
  const exposed = [config.GRPC_HOST, ...(config.REWARD_HTTP_PORT >= 0 ? [config.REWARD_HTTP_HOST] : [])].filter((h) => !isLoopback(h));
  if (config.AUTH_TOKEN === "" && exposed.length > 0) {
    logger.warn({ hosts: exposed }, "listening beyond loopback without AUTH_TOKEN: any client can call the verifier");
  }

  const verifier = new Verifier({ threads: config.REWARD_THREADS || undefined });
  await verifier.warm(DEFAULT_SETTINGS);
  const service = await startRewardServer({
    config,
    logger,
    metrics: createRpcMetrics("valor-reward"),
    verifier,
    closers: [() => verifier.close(), tracing.shutdown],
  });
  return service;
});
