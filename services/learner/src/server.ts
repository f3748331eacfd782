// Registers the LearnerService handlers on the shared runtime.
import { LearnerServiceService } from "../../../shared/gen/valor/learner/v1/learner.pb";
import { bindUnary } from "../../../shared/grpc/handlers";
import { startService, type RunningService } from "../../../shared/grpc/runtime";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { LearnerConfig } from "./config";
import { createLearnerHandlers, type LearnerDeps } from "./handlers/learner-handlers";

export const LEARNER_SERVICE_NAME = "valor.learner.v1.LearnerService";

export function startLearnerServer(
  deps: LearnerDeps & { config: LearnerConfig; metrics: RpcMetrics; closers: Array<() => Promise<void>> },
): Promise<RunningService> {
  const { config } = deps;
  return startService({
    logger: deps.logger,
    metrics: deps.metrics,
    grpcHost: config.GRPC_HOST,
    grpcPort: config.GRPC_PORT,
    metricsHost: config.METRICS_HOST,
    metricsPort: config.METRICS_PORT,
    maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    authToken: config.AUTH_TOKEN,
    protoFiles: ["valor/learner/v1/learner.proto"],
    services: [
      {
        name: LEARNER_SERVICE_NAME,
        definition: LearnerServiceService,
        implementation: bindUnary(LEARNER_SERVICE_NAME, LearnerServiceService, createLearnerHandlers(deps), deps),
      },
    ],
    closers: deps.closers,
  });
}
