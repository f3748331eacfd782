// Structured JSON logs on stdout (one object a line) with the service name, a
// `severity` field Kubernetes log collectors understand, and the active trace id.
import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";

export type { Logger };

/** Logs to stdout, or to `destination` (e.g. a file, for a CLI whose terminal shows progress instead). */
export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    messageKey: "message",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ severity: label.toUpperCase() }),
    },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
  };
  // Synchronous writes: nothing is buffered at exit, and a broken stdout (a supervisor that died,
  // shared/local/service-process.ts) turns logging off. pino's default asynchronous stdout flushes at
  // exit and retries a broken pipe forever, so such a process never exited.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
