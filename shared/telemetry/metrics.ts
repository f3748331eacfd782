// Prometheus metrics: one registry per process, served over HTTP at /metrics.
// RPC metrics follow the go-grpc-prometheus names so existing dashboards work.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface RpcMetrics {
  registry: Registry;
  started: Counter<"grpc_service" | "grpc_method">;
  handled: Counter<"grpc_service" | "grpc_method" | "grpc_code">;
  latency: Histogram<"grpc_service" | "grpc_method">;
  inFlight: Gauge<"grpc_service" | "grpc_method">;
}

export function createRpcMetrics(service: string): RpcMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    started: new Counter({
      name: "grpc_server_started_total",
      help: "RPCs started on the server.",
      labelNames: ["grpc_service", "grpc_method"],
      registers: [registry],
    }),
    handled: new Counter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by status code.",
      labelNames: ["grpc_service", "grpc_method", "grpc_code"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Time from receiving a request to sending its response.",
      labelNames: ["grpc_service", "grpc_method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "grpc_server_in_flight",
      help: "RPCs being handled now.",
      labelNames: ["grpc_service", "grpc_method"],
      registers: [registry],
    }),
  };
}

/** Serves the registry at GET /metrics; resolves with the bound port. */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
