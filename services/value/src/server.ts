// Registers the ValueService handlers on the shared runtime.
import { ValueServiceService } from "../../../shared/gen/valor/value/v1/value.pb";
import { bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
import type { Logger } from "../../../shared/telemetry/logger";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { ValueConfig } from "./config";
import { createValueHandlers, type ValueDeps } from "./handlers/value-handlers";

export const VALUE_SERVICE_NAME = "valor.value.v1.ValueService";

export function startValueServer(
  deps: ValueDeps & { config: ValueConfig; logger: Logger; metrics: RpcMetrics; closers: Array<() => Promise<void>> },
): Promise<RunningService> {
  return startService({
    logger: deps.logger,
    metrics: deps.metrics,
    ...listenOptions(deps.config),
    protoFiles: ["valor/value/v1/value.proto"],
    services: [
      {
        name: VALUE_SERVICE_NAME,
        definition: ValueServiceService,
        implementation: bindUnary(VALUE_SERVICE_NAME, ValueServiceService, createValueHandlers(deps), deps),
      },
    ],
    closers: deps.closers,
  });
}
