// OpenTelemetry tracing of every RPC (client and server side through the
// grpc-js instrumentation). Off unless configured with the standard variables:
// OTEL_TRACES_EXPORTER (otlp | console) or an OTLP endpoint. Must run before
// @grpc/grpc-js is loaded, so each service's instrumentation.ts is the first
// import of its main.ts.

export interface TracingHandle {
  enabled: boolean;
  shutdown(): Promise<void>;
}

export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter !== undefined) return exporter !== "" && exporter !== "none";
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): TracingHandle {
  if (env.OTEL_SDK_DISABLED === "true" || !tracingRequested(env)) {
    return { enabled: false, shutdown: async () => {} };
  }
  // Valor exports metrics through Prometheus and logs through stdout.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  // Loaded lazily: the SDK costs start-up time that untraced services skip.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NodeSDK } = require("@opentelemetry/sdk-node") as typeof import("@opentelemetry/sdk-node");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { GrpcInstrumentation } = require("@opentelemetry/instrumentation-grpc") as typeof import("@opentelemetry/instrumentation-grpc");
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? serviceName,
    instrumentations: [new GrpcInstrumentation() as never],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
