// The real value service with the committed value model and a real database.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, status } from "@grpc/grpc-js";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import { ContextSource, ValueServiceClient, type ObserveRequest } from "../../../shared/gen/valor/value/v1/value.pb";
import { checkHealth, unary } from "../../../shared/grpc/client";
import { generateProblems } from "../../../shared/models/arith-task";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { rejectsWithStatus } from "../../../shared/testing/grpc-assert";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";

let db: TestDatabase;
let service: ServiceProcess;
let client: ValueServiceClient;

before(async () => {
  db = await openTestDatabase();
  service = await startServiceProcess("value", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: "500",
    VALUE_CONTEXT_CAPACITY: "64",
    VALUE_INTRA_OP_THREADS: "1",
  });
  client = new ValueServiceClient(service.address, credentials.createInsecure());
});

after(async () => {
  client?.close();
  await service?.stop();
  await db?.close();
});

const problems = generateProblems(11, 200, "train");
const observe = (req: Partial<ObserveRequest>) =>
  unary(client.observe.bind(client), { policyId: "pi", policyVersion: 1n, batchId: "b", rewardScale: RewardScale.REWARD_SCALE_BINARY, observations: [], ...req });
const predict = (policyId: string, texts: string[], policyVersion = 1n) =>
  unary(client.predict.bind(client), { policyId, policyVersion, prompts: texts.map((text, i) => ({ promptId: `q${i}`, text })), modelId: "" });

/** A policy that solves a prompt with probability `skill` (levels 1-3) or `skill`/4 (levels 4-5). */
function outcomes(skill: number, from: number, count: number) {
  return problems.slice(from, from + count).map((p, i) => {
    const pass = p.level <= 3 ? skill : skill / 4;
    return { promptId: `c${from + i}`, text: p.prompt, rewards: Array.from({ length: 8 }, (_, k) => ((k + 0.5) / 8 < pass ? 1 : 0)) };
  });
}

describe("value service", () => {
  it("serves health once the model is loaded", async () => {
    assert.equal(await checkHealth(service.address), "SERVING");
  });

  it("falls back with no_context before it has evidence", async () => {
    const res = await predict("nobody", ["3+4="]);
    assert.equal(res.noContext, true);
    assert.deepEqual(res.passRates, [0.5]);
    assert.equal(res.provenance!.contextSize, 0);
  });

  it("predicts higher for a strong policy's context than for a weak one's, with provenance", async () => {
    await observe({ policyId: "strong", batchId: "s1", observations: outcomes(0.9, 0, 48) });
    await observe({ policyId: "weak", batchId: "w1", observations: outcomes(0.15, 0, 48) });
    const queries = problems.slice(150, 170).map((p) => p.prompt);
    const strong = await predict("strong", queries, 3n);
    const weak = await predict("weak", queries, 3n);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(strong.passRates) > mean(weak.passRates) + 0.2, `${mean(strong.passRates)} vs ${mean(weak.passRates)}`);
    assert.ok(strong.passRates.every((p) => p >= 0 && p <= 1));
    assert.deepEqual(strong.provenance, { modelId: "valor-v0-arith", contextSize: 48, contextAge: 2n, contextSource: ContextSource.CONTEXT_SOURCE_STORE });
  });

  it("keeps the newest N observations and does not duplicate a retried batch", async () => {
    const first = await observe({ policyId: "bounded", batchId: "x1", observations: outcomes(0.5, 0, 40) });
    assert.deepEqual(first, { applied: true, contextSize: 40 });
    assert.deepEqual(await observe({ policyId: "bounded", batchId: "x1", observations: outcomes(0.5, 0, 40) }), { applied: false, contextSize: 40 });
    await observe({ policyId: "bounded", batchId: "x2", policyVersion: 2n, observations: outcomes(0.5, 40, 40) });
    const ctx = await unary(client.getContext.bind(client), { policyId: "bounded" });
    assert.equal(ctx.size, 64);
    assert.equal(ctx.capacity, 64);
    assert.equal(ctx.oldestPolicyVersion, 1n);
    assert.equal(ctx.newestPolicyVersion, 2n);
  });

  it("gives each of many concurrent callers its own answers", async () => {
    await observe({ policyId: "strong2", batchId: "s", observations: outcomes(0.9, 0, 32) });
    await observe({ policyId: "weak2", batchId: "w", observations: outcomes(0.1, 0, 32) });
    const q = problems.slice(180, 184).map((p) => p.prompt);
    const alone = { strong: await predict("strong2", q), weak: await predict("weak2", q) };
    const together = await Promise.all(Array.from({ length: 24 }, (_, i) => predict(i % 2 ? "weak2" : "strong2", q)));
    together.forEach((r, i) => {
      const expected = i % 2 ? alone.weak : alone.strong;
      r.passRates.forEach((p, j) => assert.ok(Math.abs(p - expected.passRates[j]!) < 1e-5, `caller ${i}`));
    });
  });

  it("refuses bad input with the field path", async () => {
    await rejectsWithStatus(predict("pi", []), status.INVALID_ARGUMENT, "prompts");
    await rejectsWithStatus(unary(client.predict.bind(client), { policyId: "pi", policyVersion: 1n, prompts: [{ promptId: "a", text: "1+1=" }], modelId: "gpt-9" }), status.INVALID_ARGUMENT, "model_id");
    await rejectsWithStatus(observe({ observations: [{ promptId: "a", text: "1+1=", rewards: [1, NaN] }] }), status.INVALID_ARGUMENT, "observations[0].rewards[1]");
    await rejectsWithStatus(observe({ observations: [{ promptId: "a", text: "1+1=", rewards: [2] }] }), status.INVALID_ARGUMENT, "observations[0].rewards[0]");
    await rejectsWithStatus(observe({ policyId: "$where", observations: outcomes(0.5, 0, 1) }), status.INVALID_ARGUMENT, "policy_id");
  });

  it("keeps predicting from its cache while the database is down, and refuses Observe with UNAVAILABLE", async (t) => {
    if (!db.ferret) return t.skip("MONGODB_URI points at an external database");
    await observe({ policyId: "cached", batchId: "c1", observations: outcomes(0.9, 0, 24) });
    await db.ferret.stop();
    await rejectsWithStatus(observe({ policyId: "cached", batchId: "c2", observations: outcomes(0.9, 24, 4) }), status.UNAVAILABLE);
    const res = await predict("cached", ["12+30="]);
    assert.equal(res.provenance!.contextSource, ContextSource.CONTEXT_SOURCE_CACHE);
    assert.equal(res.noContext, false);
    await db.ferret.restart();
    assert.equal((await observe({ policyId: "cached", batchId: "c2", observations: outcomes(0.9, 24, 4) })).applied, true);
    assert.equal((await predict("cached", ["12+30="])).provenance!.contextSource, ContextSource.CONTEXT_SOURCE_STORE);
  });
});

it("fails fast with a clear message when the model file is missing", async () => {
  await assert.rejects(startServiceProcess("value", { VALUE_MODEL_FILE: "/nonexistent/value.onnx" }), /exited with code 1[\s\S]*VALUE_MODEL_FILE/);
});
