// Registers the RewardService handlers (unary and the server-streaming
// VerifyStream) on the shared runtime, and starts the HTTP adapters.
import { RewardServiceService } from "../../../shared/gen/valor/reward/v1/reward.pb";
import { bindServerStream, bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
import type { Logger } from "../../../shared/telemetry/logger";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { RewardConfig } from "./config";
import { BatchEngine } from "./handlers/batch";
import { createRewardHandlers } from "./handlers/reward-handlers";
import { startHttpServer, type HttpServer } from "./http/http-server";
import type { Verifier } from "./pool/verifier-pool";
import { createVerdictMetrics } from "./verdict-metrics";

export const REWARD_SERVICE_NAME = "valor.reward.v1.RewardService";

export interface RewardServerDeps {
  config: RewardConfig;
  logger: Logger;
  metrics: RpcMetrics;
  verifier: Verifier;
  closers: Array<() => Promise<void>>;
}

export interface RunningRewardService extends RunningService {
  httpPort: number | undefined;
}

export async function startRewardServer(deps: RewardServerDeps): Promise<RunningRewardService> {
  const { config, logger } = deps;
  const engine = new BatchEngine({
    verifier: deps.verifier,
    metrics: createVerdictMetrics(deps.metrics.registry),
    logger,
    defaults: {
      strict: config.REWARD_STRICT,
      relativeTolerance: config.REWARD_RELATIVE_TOLERANCE,
      percentPolicy: config.REWARD_PERCENT_POLICY,
      itemTimeoutMs: config.REWARD_ITEM_TIMEOUT_MS,
      limits: {
        maxResponseChars: config.REWARD_MAX_RESPONSE_CHARS,
        maxAnswerChars: config.REWARD_MAX_ANSWER_CHARS,
        maxNesting: config.REWARD_MAX_NESTING,
        maxParts: config.REWARD_MAX_PARTS,
      },
    },
  });
  const handlers = createRewardHandlers({
    engine,
    limits: { maxBatchItems: config.REWARD_MAX_BATCH_ITEMS, maxItemTimeoutMs: config.REWARD_MAX_ITEM_TIMEOUT_MS },
  });
  const { verifyStream, ...unary } = handlers;
  const { verifyStream: streamDefinition, ...unaryDefinition } = RewardServiceService;
  const implementation = {
    ...bindUnary(REWARD_SERVICE_NAME, unaryDefinition, unary, deps),
    verifyStream: bindServerStream(
      REWARD_SERVICE_NAME,
      streamDefinition,
      async (request, ctx, write) => {
        const summary = await verifyStream(request, ctx, (result) => write({ event: { $case: "result", value: result } }));
        write({ event: { $case: "summary", value: summary } });
      },
      deps,
    ),
  };

  let http: HttpServer | undefined;
  if (config.REWARD_HTTP_PORT >= 0) {
    http = await startHttpServer({
      engine,
      handlers: unary,
      logger,
      host: config.REWARD_HTTP_HOST,
      port: config.REWARD_HTTP_PORT,
      token: config.AUTH_TOKEN,
      scale: config.REWARD_HTTP_SCALE,
      bodyLimit: config.REWARD_HTTP_BODY_LIMIT,
      maxBatchItems: config.REWARD_MAX_BATCH_ITEMS,
    });
    // Logged before the runtime's "listening" line, so whoever waits for that line has the port.
    logger.info({ httpHost: config.REWARD_HTTP_HOST, httpPort: http.port }, "http listening");
  }
  const service = await startService({
    logger,
    metrics: deps.metrics,
    ...listenOptions(config),
    protoFiles: ["valor/reward/v1/reward.proto"],
    services: [{ name: REWARD_SERVICE_NAME, definition: RewardServiceService, implementation }],
    // The HTTP server drains first, then the worker pool and the rest close.
    closers: [...(http ? [http.close] : []), ...deps.closers],
  });
  return { ...service, httpPort: http?.port };
}
