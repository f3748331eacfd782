// Structured JSON logs on stdout (one object a line) with the service name, a
// `severity` field Kubernetes log collectors understand, and the active trace id.
import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
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
  });
}
