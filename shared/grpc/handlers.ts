// Handlers are plain async functions `(request, ctx) => response` that throw
// domain errors; `bindUnary` adapts them to grpc-js and adds metrics, logging,
// deadline checks and error mapping.
import { status, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "../telemetry/logger";
import type { RpcMetrics } from "../telemetry/metrics";
import { toStatus } from "./status";

export interface CallContext {
  /** Absolute deadline set by the client, if any. */
  deadline: Date | undefined;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** Milliseconds left before the deadline (undefined: no deadline). */
  remainingMs(): number | undefined;
  logger: Logger;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/** The async handler object matching a ts-proto generated service definition. */
export type UnaryHandlers<D> = {
  [K in keyof D]: D[K] extends {
    requestDeserialize: (bytes: Buffer) => infer Req;
    responseSerialize: (value: infer Res) => Buffer;
  }
    ? UnaryHandler<Req, Res>
    : never;
};

function deadlineOf(call: ServerUnaryCall<unknown, unknown>): Date | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return Number.isFinite(d.getTime()) ? d : undefined;
  return Number.isFinite(d) ? new Date(d) : undefined;
}

export function bindUnary<D extends ServiceDefinition>(
  serviceName: string,
  definition: D,
  handlers: UnaryHandlers<D>,
  deps: { logger: Logger; metrics: RpcMetrics },
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof D & string)[]) {
    const method = definition[key]!;
    const methodName = method.path.slice(method.path.lastIndexOf("/") + 1);
    const labels = { grpc_service: serviceName, grpc_method: methodName };
    const handler = handlers[key] as UnaryHandler<unknown, unknown>;
    impl[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      deps.metrics.started.inc(labels);
      deps.metrics.inFlight.inc(labels);
      const stopTimer = deps.metrics.latency.startTimer(labels);
      const finish = (code: status) => {
        stopTimer();
        deps.metrics.inFlight.dec(labels);
        deps.metrics.handled.inc({ ...labels, grpc_code: status[code] });
      };
      const controller = new AbortController();
      call.once("cancelled", () => controller.abort());
      const deadline = deadlineOf(call);
      const ctx: CallContext = {
        deadline,
        signal: controller.signal,
        // At least 1 ms: a zero timeout means "no timeout" to the MongoDB driver.
        remainingMs: () => (deadline ? Math.max(1, deadline.getTime() - Date.now()) : undefined),
        logger: deps.logger,
      };
      if (deadline && deadline.getTime() <= Date.now()) {
        finish(status.DEADLINE_EXCEEDED);
        callback({ code: status.DEADLINE_EXCEEDED, details: "deadline passed before the call started" });
        return;
      }
      handler(call.request, ctx).then(
        (response) => {
          finish(status.OK);
          callback(null, response);
        },
        (err: unknown) => {
          const mapped = toStatus(err);
          if (mapped.unexpected) {
            deps.logger.error({ err, method: method.path }, "unexpected error in handler");
          } else {
            deps.logger.debug({ method: method.path, code: status[mapped.code], details: mapped.details }, "request failed");
          }
          finish(mapped.code);
          callback({ code: mapped.code, details: mapped.details, metadata: mapped.metadata });
        },
      );
    };
  }
  return impl;
}
