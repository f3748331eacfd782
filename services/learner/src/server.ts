// Registers the LearnerService handlers on the shared runtime.
import { LearnerServiceService } from "../../../shared/gen/valor/learner/v1/learner.pb";
import { bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
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
    ...listenOptions(config),
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
