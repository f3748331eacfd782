// Handlers are plain async functions `(request, ctx) => response` (or, for
// server streaming, `(request, ctx, write) => done`) that throw domain errors;
// `bindUnary` and `bindServerStream` adapt them to grpc-js and add metrics,
// logging, deadline checks and error mapping.
import {
  status,
  type MethodDefinition,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { InvalidArgumentError } from "../errors";
import type { Logger } from "../telemetry/logger";
import type { RpcMetrics } from "../telemetry/metrics";
import { toStatus } from "./status";

/**
 * What a request that is not a valid protobuf message deserializes to. grpc-js
 * answers a throwing deserializer with INTERNAL; the bound handlers answer
 * this marker with INVALID_ARGUMENT instead, before any handler code runs.
 */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** The definition with deserializers that return MalformedRequest instead of throwing. */
export function tolerantDefinition<D extends ServiceDefinition>(definition: D): D {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [key, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out as D;
}

function malformedStatus(path: string, request: MalformedRequest) {
  const type = path.slice(path.lastIndexOf("/") + 1);
  return { code: status.INVALID_ARGUMENT, details: `the request body is not a valid ${type} request message: ${request.reason.slice(0, 200)}` };
}

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

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerReadableStream<unknown, unknown>;

function deadlineOf(call: AnyCall): Date | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return Number.isFinite(d.getTime()) ? d : undefined;
  return Number.isFinite(d) ? new Date(d) : undefined;
}

type CallLabels = { grpc_service: string; grpc_method: string };

/** What every call gets: metrics, a context with deadline and cancellation, and one way to finish. */
function instrument(
  call: AnyCall,
  labels: CallLabels,
  deps: { logger: Logger; metrics: RpcMetrics },
) {
  deps.metrics.started.inc(labels);
  deps.metrics.inFlight.inc(labels);
  const stopTimer = deps.metrics.latency.startTimer(labels);
  const controller = new AbortController();
  (call as NodeJS.EventEmitter).once("cancelled", () => controller.abort());
  const deadline = deadlineOf(call);
  const ctx: CallContext = {
    deadline,
    signal: controller.signal,
    // At least 1 ms: a zero timeout means "no timeout" to the MongoDB driver.
    remainingMs: () => (deadline ? Math.max(1, deadline.getTime() - Date.now()) : undefined),
    logger: deps.logger,
  };
  const finish = (code: status) => {
    stopTimer();
    deps.metrics.inFlight.dec(labels);
    deps.metrics.handled.inc({ ...labels, grpc_code: status[code] });
  };
  /** Maps an error to a status (logging unexpected ones), records it, and returns it for the transport. */
  const fail = (err: unknown, method: string) => {
    const mapped = toStatus(err);
    if (mapped.unexpected && !controller.signal.aborted) {
      deps.logger.error({ err, method }, "unexpected error in handler");
    } else {
      deps.logger.debug({ method, code: status[mapped.code], details: mapped.details }, "request failed");
    }
    finish(controller.signal.aborted ? status.CANCELLED : mapped.code);
    return { code: mapped.code, details: mapped.details, metadata: mapped.metadata };
  };
  const expired = deadline !== undefined && deadline.getTime() <= Date.now();
  if (expired) finish(status.DEADLINE_EXCEEDED);
  return { ctx, finish, fail, expired };
}

const EXPIRED = { code: status.DEADLINE_EXCEEDED, details: "deadline passed before the call started" };

function methodName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
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
    const labels = { grpc_service: serviceName, grpc_method: methodName(method.path) };
    const handler = handlers[key] as UnaryHandler<unknown, unknown>;
    impl[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const { ctx, finish, fail, expired } = instrument(call, labels, deps);
      if (expired) return callback(EXPIRED);
      if (call.request instanceof MalformedRequest) {
        finish(status.INVALID_ARGUMENT);
        return callback(malformedStatus(method.path, call.request));
      }
      handler(call.request, ctx).then(
        (response) => {
          finish(status.OK);
          callback(null, response);
        },
        (err: unknown) => callback(fail(err, method.path)),
      );
    };
  }
  return impl;
}

/**
 * A server-streaming handler: writes any number of responses, resolves when
 * done. `write` resolves once the transport can take more, so a handler that
 * awaits it never buffers more than the stream's window in memory.
 */
export type ServerStreamHandler<Req, Res> = (request: Req, ctx: CallContext, write: (response: Res) => Promise<void>) => Promise<void>;

export function bindServerStream<Req, Res>(
  serviceName: string,
  method: MethodDefinition<Req, Res>,
  handler: ServerStreamHandler<Req, Res>,
  deps: { logger: Logger; metrics: RpcMetrics },
): (call: ServerWritableStream<Req, Res>) => void {
  const labels = { grpc_service: serviceName, grpc_method: methodName(method.path) };
  return (call) => {
    const { ctx, finish, fail, expired } = instrument(call as ServerWritableStream<unknown, unknown>, labels, deps);
    if (expired) return void call.emit("error", EXPIRED);
    if ((call.request as unknown) instanceof MalformedRequest) {
      finish(status.INVALID_ARGUMENT);
      return void call.emit("error", malformedStatus(method.path, call.request as unknown as MalformedRequest));
    }
    const write = (response: Res): Promise<void> => {
      if (ctx.signal.aborted || call.write(response)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          call.off("drain", done);
          ctx.signal.removeEventListener("abort", done);
          resolve();
        };
        call.on("drain", done);
        ctx.signal.addEventListener("abort", done);
      });
    };
    handler(call.request, ctx, write).then(
      () => {
        call.end();
        finish(status.OK);
      },
      (err: unknown) => call.emit("error", fail(err, method.path)),
    );
  };
}

/** A client-streaming handler: reads the request messages, resolves with the one response. */
export type ClientStreamHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;

export function bindClientStream<Req, Res>(
  serviceName: string,
  method: MethodDefinition<Req, Res>,
  handler: ClientStreamHandler<Req, Res>,
  deps: { logger: Logger; metrics: RpcMetrics },
): (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>) => void {
  const labels = { grpc_service: serviceName, grpc_method: methodName(method.path) };
  return (call, callback) => {
    const { ctx, finish, fail, expired } = instrument(call as ServerReadableStream<unknown, unknown>, labels, deps);
    if (expired) return callback(EXPIRED);
    const requests = async function* () {
      for await (const message of call as AsyncIterable<Req | MalformedRequest>) {
        if (message instanceof MalformedRequest) throw new InvalidArgumentError("", malformedStatus(method.path, message).details);
        yield message;
      }
    };
    handler(requests(), ctx).then(
      (response) => {
        finish(status.OK);
        callback(null, response);
      },
      (err: unknown) => {
        // Stop reading what the client still sends; the status says why.
        call.destroy();
        callback(fail(err, method.path));
      },
    );
  };
}
