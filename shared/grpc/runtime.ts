// The service runtime every Valor service uses: a grpc-js server with message
// limits, standard health checking (grpc.health.v1), server reflection, a
// Prometheus endpoint, and a graceful stop that drains in-flight calls.
import path from "node:path";
import { Server, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import { repoRoot } from "../paths";
import { requireBearerToken } from "./auth";
import { tolerantDefinition } from "./handlers";
import { serverCredentials, type ServerTlsSettings } from "./tls";
import type { Logger } from "../telemetry/logger";
import { serveMetrics, type RpcMetrics } from "../telemetry/metrics";

export interface ServiceRegistration {
  /** Fully qualified name, e.g. valor.baseline.v1.BaselineService. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RuntimeOptions {
  logger: Logger;
  metrics: RpcMetrics;
  grpcHost: string;
  grpcPort: number;
  metricsHost: string;
  /** 0 picks a free port; -1 disables the endpoint. */
  metricsPort: number;
  maxMessageBytes: number;
  shutdownGraceMs: number;
  /** Bearer token every call to `services` must carry; "" disables the check. */
  authToken: string;
  tls: ServerTlsSettings;
  /** Proto files (relative to proto/) that reflection describes. */
  protoFiles: string[];
  services: ServiceRegistration[];
  /** Closed after the server has drained, in order (e.g. the MongoDB client, tracing). */
  closers?: Array<() => Promise<void>>;
}

/** The runtime settings every service reads from commonServiceEnv (shared/config). */
export interface CommonServiceSettings {
  GRPC_HOST: string;
  GRPC_PORT: number;
  METRICS_HOST: string;
  METRICS_PORT: number;
  GRPC_MAX_MESSAGE_BYTES: number;
  SHUTDOWN_GRACE_MS: number;
  AUTH_TOKEN: string;
  TLS_CERT_FILE: string;
  TLS_KEY_FILE: string;
  TLS_CLIENT_CA_FILE: string;
  TLS_RELOAD_MS: number;
}

export function listenOptions(config: CommonServiceSettings) {
  return {
    grpcHost: config.GRPC_HOST,
    grpcPort: config.GRPC_PORT,
    metricsHost: config.METRICS_HOST,
    metricsPort: config.METRICS_PORT,
    maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    authToken: config.AUTH_TOKEN,
    tls: {
      TLS_CERT_FILE: config.TLS_CERT_FILE,
      TLS_KEY_FILE: config.TLS_KEY_FILE,
      TLS_CLIENT_CA_FILE: config.TLS_CLIENT_CA_FILE,
      TLS_RELOAD_MS: config.TLS_RELOAD_MS,
    },
  };
}

/** "1": stop when stdin ends (the parent that holds the pipe exited); see exitOnSignals. */
export const EXIT_WITH_PARENT_ENV = "VALOR_EXIT_WITH_PARENT";

export interface RunningService {
  grpcPort: number;
  metricsPort: number | undefined;
  health: HealthImplementation;
  /** Stops accepting calls, drains in-flight ones (up to the grace period), then closes dependencies. */
  stop(reason: string): Promise<void>;
}

export async function startService(opts: RuntimeOptions): Promise<RunningService> {
  const server = new Server({
    "grpc.max_receive_message_length": opts.maxMessageBytes,
    "grpc.max_send_message_length": opts.maxMessageBytes,
  });

  const health = new HealthImplementation({ "": "NOT_SERVING" });
  for (const svc of opts.services) health.setStatus(svc.name, "NOT_SERVING");
  health.addToServer(server);

  const protoDir = path.join(repoRoot(), "proto");
  const packageDefinition = loadSync([...opts.protoFiles.map((f) => path.join(protoDir, f)), healthProtoPath], {
    includeDirs: [protoDir],
  });
  new ReflectionService(packageDefinition).addToServer(server);

  for (const svc of opts.services) {
    server.addService(tolerantDefinition(svc.definition), requireBearerToken(svc.implementation, opts.authToken));
  }

  const tls = serverCredentials(opts.tls);
  const grpcPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.grpcHost}:${opts.grpcPort}`, tls.credentials, (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
  await tls.loaded;
  const metricsServer =
    opts.metricsPort >= 0 ? await serveMetrics(opts.metrics.registry, opts.metricsHost, opts.metricsPort) : undefined;

  health.setStatus("", "SERVING");
  for (const svc of opts.services) health.setStatus(svc.name, "SERVING");
  opts.logger.info(
    {
      grpcHost: opts.grpcHost,
      grpcPort,
      metricsPort: metricsServer?.port,
      pid: process.pid,
      services: opts.services.map((s) => s.name),
      auth: opts.authToken ? "bearer" : "none",
      tls: opts.tls.TLS_CLIENT_CA_FILE ? "mutual" : opts.tls.TLS_CERT_FILE ? "server" : "none",
    },
    "listening",
  );

  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      opts.logger.info({ reason, graceMs: opts.shutdownGraceMs }, "stopping: draining in-flight calls");
      health.setStatus("", "NOT_SERVING");
      for (const svc of opts.services) health.setStatus(svc.name, "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          opts.logger.warn("grace period over: cancelling remaining calls");
          server.forceShutdown();
          resolve();
        }, opts.shutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await metricsServer?.close();
      for (const close of opts.closers ?? []) {
        try {
          await close();
        } catch (err) {
          opts.logger.warn({ err }, "error while closing a dependency");
        }
      }
      opts.logger.info("stopped");
    })();
    return stopping;
  };

  return { grpcPort, metricsPort: metricsServer?.port, health, stop };
}

/**
 * SIGTERM/SIGINT stop the service gracefully; a second signal exits at once.
 * With `exitWithParent`, the end of stdin stops it the same way: a parent that
 * holds the other end of a pipe (shared/local/service-process.ts) closes it
 * when it dies, even by SIGKILL, so no service outlives its supervisor.
 */
export function exitOnSignals(service: RunningService, logger: Logger, options: { exitWithParent?: boolean } = {}): void {
  let stopping = false;
  const stop = (reason: string) => {
    stopping = true;
    service.stop(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stop(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  if (options.exitWithParent) {
    process.stdin.on("end", () => {
      if (stopping) return;
      logger.warn("the parent process is gone (stdin closed)");
      stop("parent exited");
    });
    process.stdin.resume();
  }
}
