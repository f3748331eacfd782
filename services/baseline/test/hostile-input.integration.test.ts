// Requests that used to hold the baseline service or its connection: a
// PlanRollouts whose greedy loops ran groups × max-per-prompt times on the only
// thread, error messages that echoed a 100,000-character string into the status
// trailer, and bodies that are not protobuf messages (INTERNAL before). Each
// gets a clear status within its deadline while health keeps answering.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { BaselineServiceClient } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import { checkHealth, unary } from "../../../shared/grpc/client";
import { MAX_DETAILS_CHARS } from "../../../shared/grpc/status";
import { rejectsWithStatus } from "../../../shared/testing/grpc-assert";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";

let service: ServiceProcess;
let client: BaselineServiceClient;
let raw: Client;

before(async () => {
  // No database is needed for these RPCs; an unreachable one proves it.
  service = await startServiceProcess("baseline", { MONGODB_URI: "mongodb://127.0.0.1:9/" });
  client = new BaselineServiceClient(service.address, credentials.createInsecure());
  raw = new Client(service.address, credentials.createInsecure());
});
after(async () => {
  client?.close();
  raw?.close();
  await service?.stop();
});

/** Health probes every 50 ms while `work` runs; returns how many failed. */
async function probeDuring(work: Promise<unknown>): Promise<{ probes: number; failed: number }> {
  let done = false;
  const settled = work.then(
    () => (done = true),
    () => (done = true),
  );
  let probes = 0;
  let failed = 0;
  while (!done) {
    probes++;
    const ok = await checkHealth(service.address, "", 3_000).then(
      (s) => s === "SERVING",
      () => false,
    );
    if (!ok) failed++;
    await Promise.race([settled, new Promise((r) => setTimeout(r, 50))]);
  }
  return { probes, failed };
}

const BINARY = RewardScale.REWARD_SCALE_BINARY;

function rawCall(method: string, body: Buffer): Promise<ServiceError | null> {
  return new Promise((resolve) =>
    raw.makeUnaryRequest(
      `/valor.baseline.v1.BaselineService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: new Date(Date.now() + 5_000) },
      (err) => resolve(err),
    ),
  );
}

describe("PlanRollouts is bounded", () => {
  it("plans v05 with cost 0 and k_max 4,096 over 8,192 groups quickly, health answering", async () => {
    const groups = Array.from({ length: 8_192 }, (_, i) => ({ promptId: `p${i}`, rewards: [1, 0, 0, 0], prior: { passRate: 0.99 } }));
    const plan = unary(
      client.planRollouts.bind(client),
      { policy: "v05", rewardScale: BINARY, groups, parameters: { kInit: 4, kMax: 4_096, costPerRollout: 0 } },
      10_000,
    );
    const started = Date.now();
    const { failed } = await probeDuring(plan);
    const res = await plan;
    // It took 39 s before the look-ahead became a binary search; decoding 8,192 groups is most of what is left.
    assert.ok(Date.now() - started < 8_000, `planned in ${Date.now() - started} ms`);
    assert.equal(res.plans.length, 8_192);
    // With no cost, every rejected prior is topped up to k_max.
    assert.equal(res.plans[0]!.targetRollouts, 4_096);
    assert.equal(failed, 0, "health kept answering");
  });

  it("refuses a v0 plan whose greedy allocation would exceed BASELINE_MAX_PLAN_STEPS with RESOURCE_EXHAUSTED", async () => {
    const groups = Array.from({ length: 65_536 }, (_, i) => ({ promptId: `p${i}`, rewards: [], prior: { passRate: 0.3 } }));
    const started = Date.now();
    const err = await rejectsWithStatus(
      unary(
        client.planRollouts.bind(client),
        { policy: "v0", rewardScale: BINARY, groups, parameters: { totalBudget: 2 ** 32 - 1, maxPerPrompt: 4_096, minPerPrompt: 2 } },
        10_000,
      ),
      status.RESOURCE_EXHAUSTED,
    );
    assert.match(err.details, /BASELINE_MAX_PLAN_STEPS/);
    assert.ok(Date.now() - started < 5_000, "refused without doing the work");
  });

  it("refuses a v05 batch cap that would take more than BASELINE_MAX_PLAN_STEPS greedy steps", async () => {
    // 4,096 groups × 4,092 wanted extra rollouts = 16,760,832 > the cap, so the cap's greedy loop would run 16 M times.
    const groups = Array.from({ length: 4_096 }, (_, i) => ({ promptId: `p${i}`, rewards: [1, 0, 0, 0], prior: { passRate: 0.99 } }));
    const err = await rejectsWithStatus(
      unary(
        client.planRollouts.bind(client),
        { policy: "v05", rewardScale: BINARY, groups, parameters: { kMax: 4_096, costPerRollout: 0, maxExtraRollouts: 16_000_000 } },
        10_000,
      ),
      status.RESOURCE_EXHAUSTED,
    );
    assert.match(err.details, /BASELINE_MAX_PLAN_STEPS/);
  });
});

describe("long strings in requests", () => {
  it("answers a 100,000-character estimator name with a capped INVALID_ARGUMENT, and the channel stays usable", async () => {
    const name = "x".repeat(100_000);
    const err = await rejectsWithStatus(
      unary(client.computeAdvantages.bind(client), { estimator: name, rewardScale: BINARY, groups: [], referencePolicyId: "" }, 5_000),
      status.INVALID_ARGUMENT,
    );
    assert.ok(err.details.length <= MAX_DETAILS_CHARS + 64, `details are capped (${err.details.length} characters)`);
    const ok = await unary(client.listEstimators.bind(client), {}, 5_000);
    assert.ok(ok.estimators.length > 0);
  });

  it("caps a long field path in the trailer", async () => {
    const id = "p".repeat(100_000);
    const err = await rejectsWithStatus(
      unary(client.planRollouts.bind(client), { policy: "v05", rewardScale: BINARY, groups: [{ promptId: id, rewards: [2] }] }, 5_000),
      status.INVALID_ARGUMENT,
    );
    assert.ok(err.details.length <= MAX_DETAILS_CHARS + 64);
  });
});

describe("bodies that are not protobuf messages", () => {
  it("answers garbage with INVALID_ARGUMENT on every RPC, never INTERNAL", async () => {
    const methods = Object.values(BaselineServiceClient.service).map((m) => m.path.slice(m.path.lastIndexOf("/") + 1));
    // A field-1 length-delimited tag claiming 2^28 bytes, then too few: every decoder refuses it.
    const garbage = Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x01, 0xff, 0xff]);
    for (const method of methods) {
      const err = await rawCall(method, garbage);
      assert.equal(err?.code, status.INVALID_ARGUMENT, `${method}: ${err?.details}`);
      assert.match(err!.details, /not a valid/);
    }
    assert.equal(await checkHealth(service.address), "SERVING");
  });
});
