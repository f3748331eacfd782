// Tracing is off by default and, when configured with the standard OTEL_*
// variables, covers every RPC. The console exporter stands in for OTLP here.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { BaselineServiceClient } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { unary } from "../../../shared/grpc/client";
import { startServiceProcess } from "../../../shared/local/service-process";

async function callOnce(env: Record<string, string>) {
  // No database is needed for ListEstimators; point at a closed port.
  const service = await startServiceProcess("baseline", { MONGODB_URI: "mongodb://127.0.0.1:9/", ...env });
  const client = new BaselineServiceClient(service.address, credentials.createInsecure());
  try {
    await unary(client.listEstimators.bind(client), {});
  } finally {
    client.close();
    await service.stop();
  }
  return service;
}

describe("tracing", () => {
  it("exports a server span per RPC when OTEL_TRACES_EXPORTER is set", async () => {
    const service = await callOnce({ OTEL_TRACES_EXPORTER: "console", OTEL_BSP_SCHEDULE_DELAY: "10" });
    const config = service.logs.find((l) => l.message === "configuration")!;
    assert.equal(config.tracing, true);
    const output = service.otherOutput.join("\n");
    assert.match(output, /grpc\.valor\.baseline\.v1\.BaselineService\/ListEstimators/);
  });
  it("is off by default", async () => {
    const service = await callOnce({});
    assert.equal(service.logs.find((l) => l.message === "configuration")!.tracing, false);
    assert.equal(service.otherOutput.join(""), "");
  });
});
