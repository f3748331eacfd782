// The shared runtime as a service sees it: AUTH_TOKEN (every BaselineService
// RPC needs the bearer token; health and reflection stay open for probes) and
// the message size limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { BaselineServiceClient, type ListEstimatorsResponse } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { checkHealth, listServicesByReflection } from "../../../shared/grpc/client";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";

let service: ServiceProcess;
let client: BaselineServiceClient;

function list(authorization?: string): Promise<ListEstimatorsResponse> {
  const metadata = new Metadata();
  if (authorization) metadata.set("authorization", authorization);
  return new Promise((resolve, reject) =>
    client.listEstimators({}, metadata, { deadline: new Date(Date.now() + 5_000) }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

before(async () => {
  service = await startServiceProcess("baseline", { AUTH_TOKEN: "s3cret", MONGODB_URI: "mongodb://127.0.0.1:9/", GRPC_MAX_MESSAGE_BYTES: "4096" });
  client = new BaselineServiceClient(service.address, credentials.createInsecure());
});
after(async () => {
  client?.close();
  await service?.stop();
});

describe("bearer-token auth", () => {
  it("refuses calls without the token or with a wrong one", async () => {
    for (const header of [undefined, "Bearer nope", "s3cret", "Bearer s3cret "]) {
      await assert.rejects(list(header), (err: ServiceError) => err.code === status.UNAUTHENTICATED);
    }
  });
  it("serves calls with the token", async () => {
    assert.ok((await list("Bearer s3cret")).estimators.length > 0);
  });
  it("keeps health and reflection open", async () => {
    assert.equal(await checkHealth(service.address), "SERVING");
    assert.ok((await listServicesByReflection(service.address)).includes("valor.baseline.v1.BaselineService"));
  });
  it("answers a request over GRPC_MAX_MESSAGE_BYTES with RESOURCE_EXHAUSTED", async () => {
    const metadata = new Metadata();
    metadata.set("authorization", "Bearer s3cret");
    const groups = Array.from({ length: 200 }, (_, i) => ({ promptId: `p${i}`, rewards: [1, 0, 1, 0] }));
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.computeAdvantages({ estimator: "grpo", rewardScale: 1, groups, referencePolicyId: "" }, metadata, (e) => resolve(e)),
    );
    assert.equal(err?.code, status.RESOURCE_EXHAUSTED);
  });
  it("never logs the token", () => {
    const config = service.logs.find((l) => l.message === "configuration")!.config as Record<string, unknown>;
    assert.equal(config.AUTH_TOKEN, "***");
    assert.ok(!JSON.stringify(service.logs).includes("s3cret"));
  });
});
