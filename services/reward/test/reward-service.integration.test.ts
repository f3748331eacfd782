// Integration: the real reward service process over gRPC and HTTP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  RewardServiceClient,
  VerdictStatus,
  type VerifyRequest,
  type VerifyResponse,
  type VerifyStreamResponse,
} from "../../../shared/gen/valor/reward/v1/reward.pb";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import { checkHealth, listServicesByReflection, unary } from "../../../shared/grpc/client";
import { FIELD_PATH_TRAILER } from "../../../shared/grpc/status";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";

const SERVICE = "valor.reward.v1.RewardService";

function httpPortOf(svc: ServiceProcess): number {
  const line = svc.logs.find((l) => l.message === "http listening");
  assert.ok(line, "the service logs its HTTP port before 'listening'");
  return line.httpPort as number;
}

async function expectInvalid(client: RewardServiceClient, request: VerifyRequest, fieldPath: string): Promise<void> {
  await assert.rejects(unary(client.verify.bind(client), request), (err: ServiceError) => {
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.equal(err.metadata.get(FIELD_PATH_TRAILER)[0], fieldPath, err.details);
    assert.ok(err.details.startsWith(fieldPath), err.details);
    return true;
  });
}

const item = (id: string, response: string, gold: string, taskKind = "") => ({ id, response, gold, taskKind });

describe("reward service (real process)", () => {
  let svc: ServiceProcess;
  let client: RewardServiceClient;

  before(async () => {
    svc = await startServiceProcess("reward", {
      REWARD_HTTP_PORT: "0",
      REWARD_THREADS: "2",
      REWARD_ITEM_TIMEOUT_MS: "1500",
      REWARD_MAX_BATCH_ITEMS: "300",
    });
    client = new RewardServiceClient(svc.address, credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    assert.equal(await svc?.stop(), 0, "exits cleanly on SIGTERM");
  });

  it("reports SERVING health and describes itself through reflection", async () => {
    assert.equal(await checkHealth(svc.address, SERVICE), "SERVING");
    assert.ok((await listServicesByReflection(svc.address)).includes(SERVICE));
  });

  it("verifies a mixed batch in request order with reasons and rewards", async () => {
    const res: VerifyResponse = await unary(client.verify.bind(client), {
      items: [
        item("a", "so the answer is \\boxed{\\dfrac{1}{2}}", "0.5"),
        item("b", "#### 1,234", "1234"),
        item("c", "\\boxed{(2,1)}", "(1,2)"),
        item("d", "I give up", "7"),
        item("e", "the answer is (C)", "C", "multiple_choice"),
        item("f", "\\boxed{x^2+2x+1}", "(x+1)^2"),
      ],
      options: { rewardScale: RewardScale.REWARD_SCALE_SIGNED, strict: true, percentPolicy: 0, defaultTaskKind: "" },
    });
    assert.deepEqual(
      res.results.map((r) => [r.id, VerdictStatus[r.status], r.reward]),
      [
        ["a", "VERDICT_STATUS_CORRECT", 1],
        ["b", "VERDICT_STATUS_CORRECT", 1],
        ["c", "VERDICT_STATUS_WRONG", -1],
        ["d", "VERDICT_STATUS_NO_ANSWER", -1],
        ["e", "VERDICT_STATUS_CORRECT", 1],
        ["f", "VERDICT_STATUS_CORRECT", 1],
      ],
    );
    for (const r of res.results) assert.ok(r.reason.length > 0);
    assert.equal(res.results[0]!.extractedAnswer, "\\dfrac{1}{2}");
    assert.equal(res.results[0]!.normalizedPrediction, "\\frac{1}{2}");
    assert.equal(res.summary!.items, 6);
  });

  it("rejects bad input with INVALID_ARGUMENT naming the field path", async () => {
    const ok = item("ok", "\\boxed{1}", "1");
    await expectInvalid(client, { items: [] }, "items");
    await expectInvalid(client, { items: [ok, item("", "x", "1")] }, "items[1].id");
    await expectInvalid(client, { items: [ok, item("ok", "x", "1")] }, "items[1].id");
    await expectInvalid(client, { items: [ok, ok, ok, { ...item("g", "x", " "), id: "g" }] }, "items[3].gold");
    await expectInvalid(client, { items: [ok, item("k", "x", "1", "poetry")] }, "items[1].task_kind");
    await expectInvalid(client, { items: Array.from({ length: 301 }, (_, i) => item(`i${i}`, "\\boxed{1}", "1")) }, "items");
    await expectInvalid(client, { items: [ok], options: { rewardScale: 0, strict: false, percentPolicy: 0, defaultTaskKind: "", timeoutMs: 10_000_000 } }, "options.timeout_ms");
  });

  it("times out a CAS hang without stalling the batch or a concurrent batch", async () => {
    const normal = Array.from({ length: 200 }, (_, i) => item(`n${i}`, `#### ${i}`, `${i}`));
    const started = Date.now();
    const [hostile, concurrent] = await Promise.all([
      unary(client.verify.bind(client), {
        items: [item("tower", "\\boxed{9^{9^{9^{9}}}}", "1"), item("big", "1 ".repeat(600_000), "1"), ...normal.slice(0, 20)],
        options: { rewardScale: 0, strict: false, percentPolicy: 0, defaultTaskKind: "", timeoutMs: 500 },
      }),
      unary(client.verify.bind(client), { items: normal }),
    ]);
    assert.equal(VerdictStatus[hostile.results[0]!.status], "VERDICT_STATUS_TIMEOUT", hostile.results[0]!.reason);
    assert.equal(VerdictStatus[hostile.results[1]!.status], "VERDICT_STATUS_REJECTED", hostile.results[1]!.reason);
    assert.ok(hostile.results.slice(2).every((r) => r.status === VerdictStatus.VERDICT_STATUS_CORRECT));
    assert.ok(concurrent.results.every((r) => r.status === VerdictStatus.VERDICT_STATUS_CORRECT));
    assert.ok(Date.now() - started < 5_000);
    // The replaced worker serves the next CAS item.
    const next = await unary(client.verify.bind(client), { items: [item("s", "\\boxed{\\sqrt{12}}", "2\\sqrt{3}")] });
    assert.equal(next.results[0]!.status, VerdictStatus.VERDICT_STATUS_CORRECT, next.results[0]!.reason);
  });

  it("streams results as they complete, then a summary", async () => {
    const items = Array.from({ length: 50 }, (_, i) => item(`s${i}`, `\\boxed{\\frac{${2 * i}}{2}}`, `${i}`));
    const events = await new Promise<VerifyStreamResponse[]>((resolve, reject) => {
      const got: VerifyStreamResponse[] = [];
      const stream = client.verifyStream({ items }, { deadline: new Date(Date.now() + 10_000) });
      stream.on("data", (e: VerifyStreamResponse) => got.push(e));
      stream.on("error", reject);
      stream.on("end", () => resolve(got));
    });
    const results = events.filter((e) => e.event?.$case === "result");
    assert.equal(results.length, 50);
    const last = events[events.length - 1]!.event;
    assert.equal(last?.$case, "summary");
    assert.equal(last.$case === "summary" && last.value.meanReward, 1);
  });

  it("lists task kinds", async () => {
    const res = await unary(client.listTaskKinds.bind(client), {});
    assert.deepEqual(res.taskKinds.map((k) => k.name), ["math", "numeric", "multiple_choice", "exact"]);
  });

  it("exports per-status verdict counters and latency histograms", async () => {
    const body = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
    assert.match(body, /valor_reward_verdicts_total\{[^}]*status="TIMEOUT"/);
    assert.match(body, /valor_reward_verdicts_total\{[^}]*status="CORRECT"/);
    assert.match(body, /valor_reward_item_seconds_bucket\{[^}]*path="pool"/);
    assert.match(body, /grpc_server_handled_total\{[^}]*grpc_method="Verify"/);
  });

  it("serves OpenRLHF's and slime's remote reward payloads over HTTP", async () => {
    const base = `http://127.0.0.1:${httpPortOf(svc)}`;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const o = await post("/openrlhf", {
      query: ["<prompt>What is 1/2?</prompt> The answer is \\boxed{0.5}", "<prompt>\\boxed{9}</prompt> so 4"],
      prompts: ["<prompt>What is 1/2?</prompt>", "<prompt>\\boxed{9}</prompt>"],
      labels: ["\\frac{1}{2}", "9"],
    });
    assert.equal(o.status, 200);
    const oj = (await o.json()) as { rewards: number[]; extra_logs: Record<string, number[]> };
    assert.deepEqual(oj.rewards, [1, 0], "the prompt's own \\boxed{9} is not read as the answer");
    assert.deepEqual(oj.extra_logs.correct, [1, 0]);
    const s = await post("/slime", { prompt: "p", response: "so the answer is $\\frac{3}{4}$.", label: "0.75" });
    assert.equal(await s.json(), 1);
    const so = await post("/slime?format=object", { prompt: "p", response: "no idea", label: "0.75" });
    assert.equal(((await so.json()) as { status: string }).status, "NO_ANSWER");
    const bad = await post("/openrlhf", { query: ["a"], labels: [] });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field_path: string }).field_path, "labels");
  });
});

describe("reward service with a bearer token", () => {
  let svc: ServiceProcess;
  before(async () => {
    svc = await startServiceProcess("reward", { REWARD_HTTP_PORT: "0", REWARD_THREADS: "1", AUTH_TOKEN: "s3cret", METRICS_PORT: "-1" });
  });
  after(() => svc?.stop());

  it("refuses gRPC and HTTP calls without the token and serves them with it", async () => {
    const client = new RewardServiceClient(svc.address, credentials.createInsecure());
    const request = { items: [item("a", "\\boxed{2}", "2")] };
    await assert.rejects(unary(client.verify.bind(client), request), (err: ServiceError) => err.code === status.UNAUTHENTICATED);
    const md = new Metadata();
    md.set("authorization", "Bearer s3cret");
    const res = await new Promise<VerifyResponse>((resolve, reject) =>
      client.verify(request, md, { deadline: new Date(Date.now() + 5_000) }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    assert.equal(res.results[0]!.status, VerdictStatus.VERDICT_STATUS_CORRECT);
    client.close();
    const url = `http://127.0.0.1:${httpPortOf(svc)}/slime`;
    const body = JSON.stringify({ prompt: "p", response: "\\boxed{2}", label: "2" });
    const denied = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(denied.status, 401);
    const allowed = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer s3cret" }, body });
    assert.equal(await allowed.json(), 1);
  });
});
