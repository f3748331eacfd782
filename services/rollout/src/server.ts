// Registers the RolloutService handlers on the shared runtime.
import { RolloutServiceService } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { bindClientStream, bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
import type { Logger } from "../../../shared/telemetry/logger";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { RolloutConfig } from "./config";
import { createRolloutHandlers, type RolloutDeps } from "./handlers/rollout-handlers";

export const ROLLOUT_SERVICE_NAME = "valor.rollout.v1.RolloutService";

export interface RolloutServerDeps extends Omit<RolloutDeps, "limits"> {
  config: RolloutConfig;
  logger: Logger;
  metrics: RpcMetrics;
  closers: Array<() => Promise<void>>;
}

export function startRolloutServer(deps: RolloutServerDeps): Promise<RunningService> {
  const { config } = deps;
  const { updateWeights, ...unary } = createRolloutHandlers({ ...deps, limits: { maxSequencesPerRequest: config.ROLLOUT_MAX_SEQUENCES_PER_REQUEST } });
  const { updateWeights: updateDefinition, ...unaryDefinition } = RolloutServiceService;
  return startService({
    logger: deps.logger,
    metrics: deps.metrics,
    ...listenOptions(config),
    protoFiles: ["valor/rollout/v1/rollout.proto"],
    services: [
      {
        name: ROLLOUT_SERVICE_NAME,
        definition: RolloutServiceService,
        implementation: {
          ...bindUnary(ROLLOUT_SERVICE_NAME, unaryDefinition, unary, deps),
          updateWeights: bindClientStream(ROLLOUT_SERVICE_NAME, updateDefinition, updateWeights, deps),
        },
      },
    ],
    closers: deps.closers,
  });
}
