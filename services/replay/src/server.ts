// Registers the ReplayService handlers (unary and the server-streaming Export) on the shared runtime.
import { ReplayServiceService, Trajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { bindServerStream, bindUnary } from "../../../shared/grpc/handlers";
import { listenOptions, startService, type RunningService } from "../../../shared/grpc/runtime";
import type { Logger } from "../../../shared/telemetry/logger";
import type { RpcMetrics } from "../../../shared/telemetry/metrics";
import type { ReplayConfig } from "./config";
import type { ReplayStore } from "./domain/store";
import { ReplayManager } from "./domain/replay";
import { createReplayHandlers } from "./handlers/replay-handlers";
import { sampleResponseWriter } from "./handlers/sample-serializer";

export const REPLAY_SERVICE_NAME = "valor.replay.v1.ReplayService";

export interface ReplayServerDeps {
  config: ReplayConfig;
  logger: Logger;
  metrics: RpcMetrics;
  store: ReplayStore;
  closers: Array<() => Promise<void>>;
}

export function startReplayServer(deps: ReplayServerDeps): Promise<RunningService> {
  const { config } = deps;
  const manager = new ReplayManager(deps.store, {
    defaultCapacity: config.REPLAY_DEFAULT_CAPACITY,
    encode: (t) => Trajectory.encode(t).finish(),
  });
  const { export: exportHandler, sample: sampleHandler, ...unary } = createReplayHandlers({
    manager,
    limits: {
      maxCapacity: config.REPLAY_MAX_CAPACITY,
      maxAppendBatch: config.REPLAY_MAX_APPEND_BATCH,
      maxTokens: config.REPLAY_MAX_TOKENS,
      maxTextChars: config.REPLAY_MAX_TEXT_CHARS,
      maxSample: config.REPLAY_MAX_SAMPLE,
      maxQueryLimit: config.REPLAY_MAX_QUERY_LIMIT,
    },
  });
  // Same wire format, faster: Sample responses reuse each trajectory's cached encoding.
  const definition = { ...ReplayServiceService, sample: { ...ReplayServiceService.sample, responseSerialize: sampleResponseWriter } };
  const { export: exportDefinition, sample: sampleDefinition, ...unaryDefinition } = definition;
  const implementation = {
    ...bindUnary(REPLAY_SERVICE_NAME, unaryDefinition, unary, deps),
    sample: bindServerStream(REPLAY_SERVICE_NAME, sampleDefinition, sampleHandler, deps),
    export: bindServerStream(REPLAY_SERVICE_NAME, exportDefinition, exportHandler, deps),
  };
  return startService({
    logger: deps.logger,
    metrics: deps.metrics,
    ...listenOptions(config),
    protoFiles: ["valor/replay/v1/replay.proto"],
    // Sample is unary in the proto and on the wire (one request; one message, then the status).
    // grpc-js serves it through its server-streaming path, which lets the handler send the message
    // while the draw's ledger insert is in flight and send the status (OK, or UNAVAILABLE if the
    // insert fails) only after the insert settles. A unary client, grpc-js or any other, completes
    // the call only on the status and discards the message of a failed call.
    services: [{ name: REPLAY_SERVICE_NAME, definition: { ...definition, sample: { ...sampleDefinition, responseStream: true } }, implementation }],
    closers: deps.closers,
  });
}
