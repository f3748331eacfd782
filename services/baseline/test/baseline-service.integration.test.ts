// The real baseline service process against a real database (FerretDB, or
// MONGODB_URI), called through the generated client.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, status } from "@grpc/grpc-js";
import {
  BaselineServiceClient,
  DropReason,
  PlanReason,
  PromptClass,
  ReferenceSource,
  type ComputeAdvantagesRequest,
  type RecordReferenceRewardsRequest,
} from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { RewardScale } from "../../../shared/gen/valor/common/v1/reward.pb";
import { checkHealth, listServicesByReflection, unary } from "../../../shared/grpc/client";
import { rejectsWithStatus } from "../../../shared/testing/grpc-assert";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";

const BINARY = RewardScale.REWARD_SCALE_BINARY;
const SIGNED = RewardScale.REWARD_SCALE_SIGNED;

let db: TestDatabase;
let service: ServiceProcess;
let client: BaselineServiceClient;

const compute = (req: Partial<ComputeAdvantagesRequest>) =>
  unary(client.computeAdvantages.bind(client), { estimator: "grpo", rewardScale: BINARY, groups: [], referencePolicyId: "", ...req });
const record = (req: Partial<RecordReferenceRewardsRequest>) =>
  unary(client.recordReferenceRewards.bind(client), { referencePolicyId: "ref-a", batchId: "b1", rewardScale: BINARY, prompts: [], ...req });
const getStats = (referencePolicyId: string, promptIds: string[], rewardScale = BINARY) =>
  unary(client.getReferenceStatistics.bind(client), { reference: { $case: "referencePolicyId", value: referencePolicyId }, promptIds, rewardScale });

const rejects = rejectsWithStatus;

before(async () => {
  db = await openTestDatabase();
  service = await startServiceProcess("baseline", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: "500",
    BASELINE_MAX_GROUPS: "100",
  });
  client = new BaselineServiceClient(service.address, credentials.createInsecure());
});

after(async () => {
  client?.close();
  await service?.stop();
  await db?.close();
});

describe("serving", () => {
  it("reports SERVING through grpc.health.v1 for the server and the service", async () => {
    assert.equal(await checkHealth(service.address), "SERVING");
    assert.equal(await checkHealth(service.address, "valor.baseline.v1.BaselineService"), "SERVING");
  });
  it("lists its services through reflection", async () => {
    const services = await listServicesByReflection(service.address);
    assert.ok(services.includes("valor.baseline.v1.BaselineService"), services.join());
    assert.ok(services.includes("grpc.health.v1.Health"), services.join());
  });
  it("lists the estimators and budget policies", async () => {
    const res = await unary(client.listEstimators.bind(client), {});
    assert.deepEqual(res.estimators.map((e) => e.name), ["grpo", "dr_grpo", "rloo", "dapo", "pvpo", "v05"]);
    assert.deepEqual(res.budgetPolicies.map((e) => e.name), ["v05", "v0"]);
    assert.equal(res.estimators.find((e) => e.name === "pvpo")!.requiresReference, true);
  });
});

describe("ComputeAdvantages", () => {
  it("fuses priors (v05) with diagnostics and a batch summary", async () => {
    const res = await compute({
      estimator: "v05",
      rewardScale: SIGNED,
      groups: [
        { promptId: "gsm8k/1", rewards: [1, 1, 1, 1], prior: { passRate: 0.6, provenance: { modelId: "v0", policyId: "pi", policyVersion: 3n, contextSize: 256, contextAge: 0 } } },
        { promptId: "gsm8k/2", rewards: [1, 1, 1, -1], prior: { passRate: 0.6 } },
        { promptId: "gsm8k/3", rewards: [-1], prior: { passRate: 0.1 } },
      ],
    });
    const [a, b, c] = res.groups;
    assert.ok(a!.diagnostics?.$case === "priorFusion");
    assert.equal(a!.diagnostics.value.priorRejected, true);
    assert.ok(Math.abs(a!.baseline - 0.6875) < 1e-12);
    assert.ok(Math.abs(a!.diagnostics.value.weight - 0.609375) < 1e-12);
    assert.ok(Math.abs(b!.baseline - 0.2) < 1e-12);
    assert.ok(Math.abs(c!.advantages[0]! - (-1 - -0.8)) < 1e-12, "a group of one is measured against the prior");
    assert.equal(res.summary!.priorsRejected, 1);
  });
  it("reports DAPO drops per reason", async () => {
    const res = await compute({
      estimator: "dapo",
      groups: [
        { promptId: "a", rewards: [1, 1] },
        { promptId: "b", rewards: [0, 0, 0] },
        { promptId: "c", rewards: [1, 0, 0] },
      ],
    });
    assert.equal(res.summary!.groupsKept, 1);
    assert.deepEqual(
      res.summary!.drops.sort((x, y) => x.reason - y.reason),
      [
        { reason: DropReason.DROP_REASON_ALL_CORRECT, groups: 1 },
        { reason: DropReason.DROP_REASON_ALL_WRONG, groups: 1 },
      ],
    );
  });
});

describe("ComputePackedAdvantages", () => {
  const packed = (groups: object, extra: object = {}) =>
    unary(client.computePackedAdvantages.bind(client), { estimator: "v05", rewardScale: SIGNED, referencePolicyId: "", groups: groups as never, ...extra });
  const columns = {
    promptIds: ["a", "b", "c"],
    groupSizes: [4, 4, 1],
    rewards: [1, 1, 1, 1, 1, 1, 1, -1, -1],
    priorPassRates: [0.6, 0.6, 0.1],
    referenceRollouts: [],
    referenceMeanRewards: [],
  };
  it("returns the same numbers as ComputeAdvantages, as flat columns", async () => {
    const res = await packed(columns);
    const byGroup = await compute({
      estimator: "v05",
      rewardScale: SIGNED,
      groups: [
        { promptId: "a", rewards: [1, 1, 1, 1], prior: { passRate: 0.6 } },
        { promptId: "b", rewards: [1, 1, 1, -1], prior: { passRate: 0.6 } },
        { promptId: "c", rewards: [-1], prior: { passRate: 0.1 } },
      ],
    });
    assert.deepEqual(res.advantages, byGroup.groups.flatMap((g) => g.advantages));
    assert.deepEqual(res.baselines, byGroup.groups.map((g) => g.baseline));
    assert.deepEqual(res.priorRejected, [true, false, false]);
    assert.deepEqual(res.summary, byGroup.summary);
  });
  it("names the flat field path of a bad entry", async () => {
    await rejects(packed({ ...columns, rewards: [1, 1, 1, 1, 1, 1, 1, -1, NaN] }), status.INVALID_ARGUMENT, "groups.rewards[8]");
    await rejects(packed({ ...columns, groupSizes: [4, 4] }), status.INVALID_ARGUMENT, "groups.group_sizes");
    await rejects(packed({ ...columns, groupSizes: [4, 4, 2] }), status.INVALID_ARGUMENT, "groups.rewards");
    await rejects(packed({ ...columns, priorPassRates: [] }), status.INVALID_ARGUMENT, "groups.prior_pass_rates");
    await rejects(packed({ ...columns, priorPassRates: [0.6, -0.1, 0.2] }), status.INVALID_ARGUMENT, "groups.prior_pass_rates[1]");
    await rejects(packed({ ...columns, promptIds: ["a", "$where", "c"] }), status.INVALID_ARGUMENT, "groups.prompt_ids[1]");
    await rejects(packed({ ...columns, groupSizes: [4, 0, 5] }), status.INVALID_ARGUMENT, "groups.group_sizes[1]");
  });
});

describe("PlanRollouts", () => {
  it("plans V0.5 extra rollouts only where the prior is rejected", async () => {
    const res = await unary(client.planRollouts.bind(client), {
      policy: "v05",
      rewardScale: SIGNED,
      groups: [
        { promptId: "agree", rewards: [1, 1, 1, -1], prior: { passRate: 0.6 } },
        { promptId: "conflict", rewards: [1, 1, 1, 1], prior: { passRate: 0.0 } },
      ],
    });
    assert.deepEqual(
      res.plans.map((p) => [p.promptId, p.extraRollouts, p.reason]),
      [
        ["agree", 0, PlanReason.PLAN_REASON_PRIOR_ACCEPTED],
        ["conflict", 12, PlanReason.PLAN_REASON_PRIOR_REJECTED],
      ],
    );
    assert.equal(res.totalExtraRollouts, 12);
  });
  it("allocates a V0 budget", async () => {
    const res = await unary(client.planRollouts.bind(client), {
      policy: "v0",
      rewardScale: BINARY,
      groups: [
        { promptId: "a", rewards: [], prior: { passRate: 0.5 } },
        { promptId: "b", rewards: [], prior: { passRate: 0.95 } },
      ],
      parameters: { totalBudget: 6 },
    });
    assert.deepEqual(res.plans.map((p) => p.targetRollouts), [4, 2]);
  });
});

describe("reference statistics (PVPO)", () => {
  it("records, classifies and serves them to pvpo", async () => {
    const res = await record({
      referencePolicyId: "ref-a",
      batchId: "batch-1",
      prompts: [
        { promptId: "easy", rewards: [1, 1, 1, 1] },
        { promptId: "mixed", rewards: [1, 0, 0, 0] },
        { promptId: "hard", rewards: [0, 0, 0, 0] },
      ],
    });
    assert.deepEqual(res, { promptsApplied: 3, promptsAlreadyApplied: 0 });
    const stats = await getStats("ref-a", ["easy", "mixed", "hard", "unseen"], SIGNED);
    assert.deepEqual(
      stats.statistics.map((s) => [s.promptId, s.found, s.rollouts, s.class, s.meanReward]),
      [
        ["easy", true, 4, PromptClass.PROMPT_CLASS_DROP, 1],
        ["mixed", true, 4, PromptClass.PROMPT_CLASS_KEEP, -0.5],
        ["hard", true, 4, PromptClass.PROMPT_CLASS_HARD, -1],
        ["unseen", false, 0, PromptClass.PROMPT_CLASS_UNSPECIFIED, 0],
      ],
    );
    const pvpo = await compute({ estimator: "pvpo", referencePolicyId: "ref-a", groups: [{ promptId: "mixed", rewards: [1, 0] }] });
    assert.deepEqual(pvpo.groups[0]!.advantages, [0.75, -0.25]);
    assert.deepEqual(pvpo.groups[0]!.diagnostics, { $case: "reference", value: { referenceRollouts: 4, source: ReferenceSource.REFERENCE_SOURCE_STORE } });
  });

  it("does not count a retried batch twice", async () => {
    const req = { referencePolicyId: "ref-retry", batchId: "b-7", prompts: [{ promptId: "p", rewards: [1, 0] }] };
    assert.deepEqual(await record(req), { promptsApplied: 1, promptsAlreadyApplied: 0 });
    assert.deepEqual(await record(req), { promptsApplied: 0, promptsAlreadyApplied: 1 });
    const [s] = (await getStats("ref-retry", ["p"])).statistics;
    assert.equal(s!.rollouts, 2);
    assert.equal(s!.meanPassRate, 0.5);
  });

  it("keeps exact counts with 8 concurrent writers on one prompt (and 8 concurrent retries)", async () => {
    const writers = Array.from({ length: 8 }, (_, i) =>
      record({ referencePolicyId: "ref-race", batchId: `writer-${i}`, prompts: [{ promptId: "hot", rewards: [1, 0, 0, i % 2] }] }),
    );
    const retries = Array.from({ length: 8 }, () =>
      record({ referencePolicyId: "ref-race", batchId: "same-batch", prompts: [{ promptId: "hot", rewards: [1, 1] }] }),
    );
    const results = await Promise.all([...writers, ...retries]);
    assert.equal(results.slice(8).filter((r) => r.promptsApplied === 1).length, 1, "the shared batch applies once");
    const [s] = (await getStats("ref-race", ["hot"])).statistics;
    assert.equal(s!.rollouts, 8 * 4 + 2);
    // correct: 8 writers × 1 + 4 odd writers × 1 + 2 from the shared batch
    assert.equal(s!.meanPassRate, (8 + 4 + 2) / 34);
  });

  it("activates a new reference version without deleting the old one", async () => {
    await record({ referencePolicyId: "run1-ref-v1", batchId: "b", prompts: [{ promptId: "q", rewards: [0, 0] }] });
    await record({ referencePolicyId: "run1-ref-v2", batchId: "b", prompts: [{ promptId: "q", rewards: [1, 1] }] });
    const activate = (id: string) => unary(client.activateReferencePolicy.bind(client), { lineage: "run1", referencePolicyId: id });
    assert.equal((await activate("run1-ref-v1")).previousReferencePolicyId, "");
    assert.equal((await activate("run1-ref-v2")).previousReferencePolicyId, "run1-ref-v1");
    assert.equal((await activate("run1-ref-v2")).previousReferencePolicyId, "run1-ref-v1", "re-activation is a no-op");
    const current = await unary(client.getReferenceStatistics.bind(client), {
      reference: { $case: "lineage", value: "run1" },
      promptIds: ["q"],
      rewardScale: BINARY,
    });
    assert.equal(current.referencePolicyId, "run1-ref-v2");
    assert.equal(current.statistics[0]!.class, PromptClass.PROMPT_CLASS_DROP);
    assert.equal((await getStats("run1-ref-v1", ["q"])).statistics[0]!.class, PromptClass.PROMPT_CLASS_HARD);
  });

  it("refuses to activate a reference policy that never recorded rewards, and changes nothing", async () => {
    const activate = (id: string) => unary(client.activateReferencePolicy.bind(client), { lineage: "run-unrecorded", referencePolicyId: id });
    const err = await rejects(activate("ref-never-recorded"), status.FAILED_PRECONDITION);
    assert.match(err.details, /ref-never-recorded/);
    await rejects(
      unary(client.getReferenceStatistics.bind(client), { reference: { $case: "lineage", value: "run-unrecorded" }, promptIds: ["q"], rewardScale: BINARY }),
      status.NOT_FOUND,
    );
  });

  it("answers pvpo without statistics with FAILED_PRECONDITION", async () => {
    const err = await rejects(compute({ estimator: "pvpo", referencePolicyId: "ref-a", groups: [{ promptId: "nowhere", rewards: [1] }] }), status.FAILED_PRECONDITION);
    assert.match(err.details, /nowhere/);
  });

  it("answers an unknown lineage with NOT_FOUND", async () => {
    await rejects(
      unary(client.getReferenceStatistics.bind(client), { reference: { $case: "lineage", value: "no-such-run" }, promptIds: ["q"], rewardScale: BINARY }),
      status.NOT_FOUND,
    );
  });
});

describe("bad input", () => {
  const g = (rewards: number[], extra: object = {}) => ({ promptId: "p", rewards, ...extra });
  const cases: Array<[string, Partial<ComputeAdvantagesRequest>, string]> = [
    ["NaN reward", { groups: [g([1, 0]), { promptId: "q", rewards: [1, NaN] }] }, "groups[1].rewards[1]"],
    ["infinite reward", { groups: [g([Infinity])] }, "groups[0].rewards[0]"],
    ["reward off the binary scale", { groups: [g([1, -1])] }, "groups[0].rewards[1]"],
    ["reward off the signed scale", { rewardScale: SIGNED, groups: [g([1, 2])] }, "groups[0].rewards[1]"],
    ["empty group", { groups: [g([])] }, "groups[0].rewards"],
    ["no groups", { groups: [] }, "groups"],
    ["unspecified scale", { rewardScale: RewardScale.REWARD_SCALE_UNSPECIFIED, groups: [g([1])] }, "reward_scale"],
    ["unknown estimator", { estimator: "ppo", groups: [g([1])] }, "estimator"],
    ["prior above 1", { estimator: "v05", groups: [g([1], { prior: { passRate: 1.5 } })] }, "groups[0].prior.pass_rate"],
    ["prior NaN", { estimator: "v05", groups: [g([1], { prior: { passRate: NaN } })] }, "groups[0].prior.pass_rate"],
    ["v05 without a prior", { estimator: "v05", groups: [g([1])] }, "groups[0].prior"],
    ["operator-looking id", { groups: [{ promptId: "$where", rewards: [1] }] }, "groups[0].prompt_id"],
    ["dotted id", { groups: [{ promptId: "a.b", rewards: [1] }] }, "groups[0].prompt_id"],
    ["duplicate prompt", { groups: [g([1]), g([0])] }, "groups[1].prompt_id"],
    ["oversized batch", { groups: Array.from({ length: 101 }, (_, i) => ({ promptId: `p${i}`, rewards: [1] })) }, "groups"],
    ["pvpo without reference", { estimator: "pvpo", groups: [g([1])] }, "reference_policy_id"],
    ["operator-looking reference id", { estimator: "pvpo", referencePolicyId: "{$ne:1}", groups: [g([1])] }, "reference_policy_id"],
  ];
  for (const [name, req, path] of cases) {
    it(`${name} → INVALID_ARGUMENT naming ${path}`, async () => {
      await rejects(compute(req), status.INVALID_ARGUMENT, path);
    });
  }

  it("k_max < k_init → INVALID_ARGUMENT naming parameters.k_max", async () => {
    await rejects(
      unary(client.planRollouts.bind(client), {
        policy: "v05",
        rewardScale: BINARY,
        groups: [{ promptId: "p", rewards: [], prior: { passRate: 0.5 } }],
        parameters: { kInit: 8, kMax: 4 },
      }),
      status.INVALID_ARGUMENT,
      "parameters.k_max",
    );
  });

  it("writes nothing for a rejected RecordReferenceRewards", async () => {
    await rejects(
      record({
        referencePolicyId: "ref-atomic",
        batchId: "b",
        prompts: [
          { promptId: "ok-1", rewards: [1] },
          { promptId: "ok-2", rewards: [0] },
          { promptId: "bad", rewards: [0.5, NaN] },
        ],
      }),
      status.INVALID_ARGUMENT,
      "prompts[2].rewards[1]",
    );
    const stats = await getStats("ref-atomic", ["ok-1", "ok-2"]);
    assert.deepEqual(stats.statistics.map((s) => s.found), [false, false]);
    assert.equal(await db.client.db(db.database).collection("reference_rewards").countDocuments({ referencePolicyId: "ref-atomic" }), 0);
  });

  it("rejects ids with '$' or '.' in reference calls", async () => {
    await rejects(record({ referencePolicyId: "ref", batchId: "$where", prompts: [{ promptId: "p", rewards: [1] }] }), status.INVALID_ARGUMENT, "batch_id");
    await rejects(record({ referencePolicyId: "r", prompts: [{ promptId: "x.$gt", rewards: [1] }] }), status.INVALID_ARGUMENT, "prompts[0].prompt_id");
  });
});

describe("metrics", () => {
  it("counts RPCs by method and status code", async () => {
    const body = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
    assert.match(body, /grpc_server_handled_total\{grpc_service="valor\.baseline\.v1\.BaselineService",grpc_method="ComputeAdvantages",grpc_code="OK",service="valor-baseline"\} [1-9]/);
    assert.match(body, /grpc_server_handled_total\{[^}]*grpc_method="ComputeAdvantages",grpc_code="INVALID_ARGUMENT"[^}]*\} [1-9]/);
    assert.match(body, /grpc_server_handling_seconds_bucket\{/);
  });
});

describe("database outage", () => {
  it("answers UNAVAILABLE while the database is down, keeps serving stateless RPCs, and recovers by itself", async (t) => {
    if (!db.ferret) return t.skip("MONGODB_URI points at an external database");
    await db.ferret.stop();
    const req = { referencePolicyId: "ref-outage", batchId: "b", prompts: [{ promptId: "p", rewards: [1] }] };
    await rejects(record(req), status.UNAVAILABLE);
    const stateless = await compute({ groups: [{ promptId: "p", rewards: [1, 0] }] });
    assert.equal(stateless.groups.length, 1);
    await db.ferret.restart();
    // The driver reconnects on its own; the service needs no restart.
    assert.deepEqual(await record(req), { promptsApplied: 1, promptsAlreadyApplied: 0 });
  });
});

describe("shutdown", () => {
  it("drains and exits 0 on SIGTERM", async () => {
    const code = await service.stop("SIGTERM");
    assert.equal(code, 0);
    assert.ok(service.logs.some((l) => l.message === "stopped"));
  });
});
