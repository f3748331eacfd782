// Registers the BaselineService handlers on the shared runtime.
import { BaselineServiceService } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
import type { Logger } from "../../../shared/telemetry/logger";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { BaselineConfig } from "./config";
import { createBaselineHandlers } from "./handlers/baseline-handlers";
import type { ReferenceStore } from "./domain/reference";

export const BASELINE_SERVICE_NAME = "valor.baseline.v1.BaselineService";

export interface BaselineServerDeps {
  config: BaselineConfig;
  logger: Logger;
  metrics: RpcMetrics;
  store: ReferenceStore;
  closers: Array<() => Promise<void>>;
}

export function startBaselineServer(deps: BaselineServerDeps): Promise<RunningService> {
  const { config } = deps;
  const handlers = createBaselineHandlers({
    store: deps.store,
    limits: {
      maxGroups: config.BASELINE_MAX_GROUPS,
      maxRolloutsPerGroup: config.BASELINE_MAX_ROLLOUTS_PER_GROUP,
      maxPromptIds: config.BASELINE_MAX_PROMPT_IDS,
    },
    budgetDefaults: {
      kInit: config.BASELINE_K_INIT,
      kMax: config.BASELINE_K_MAX,
      costPerRollout: config.BASELINE_COST_PER_ROLLOUT,
      minPerPrompt: config.BASELINE_V0_MIN_PER_PROMPT,
      maxPerPrompt: config.BASELINE_V0_MAX_PER_PROMPT,
      maxPlanSteps: config.BASELINE_MAX_PLAN_STEPS,
    },
  });
  return startService({
    logger: deps.logger,
    metrics: deps.metrics,
    ...listenOptions(config),
    protoFiles: ["valor/baseline/v1/baseline.proto"],
    services: [
      {
        name: BASELINE_SERVICE_NAME,
        definition: BaselineServiceService,
        implementation: bindUnary(BASELINE_SERVICE_NAME, BaselineServiceService, handlers, deps),
      },
    ],
    closers: deps.closers,
  });
}
