import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../../shared/errors";
import { DEFAULT_BUDGET_PARAMETERS, getBudgetPolicy, lookaheadTarget, v0Utility, type PlanGroup } from "../src/domain/budget";
import { fusedMse } from "../src/domain/fusion";
import { SCALES } from "../src/domain/scale";

const v05 = getBudgetPolicy("v05");
const v0 = getBudgetPolicy("v0");

describe("v05 one-step look-ahead", () => {
  it("asks for more rollouts when 4/4 correct contradicts p̂ = 0.6 (gain 0.020 > c)", () => {
    const gain = fusedMse(0.39, 1, 4) - fusedMse(0.39, 1, 5);
    assert.ok(Math.abs(gain - 0.02) < 0.001, `gain ${gain}`);
    const { plans } = v05.plan([{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0.6 }], SCALES.signed, DEFAULT_BUDGET_PARAMETERS);
    assert.equal(plans[0]!.reason, "prior_rejected");
    assert.ok(plans[0]!.extraRollouts > 0);
    assert.ok(plans[0]!.expectedMseAfter < plans[0]!.expectedMseNow);
  });
  it("stops when 3/4 correct agrees with p̂ = 0.6", () => {
    const { plans, totalExtraRollouts } = v05.plan([{ promptId: "p", rewards: [1, 1, 1, -1], prior: 0.6 }], SCALES.signed, DEFAULT_BUDGET_PARAMETERS);
    assert.equal(plans[0]!.reason, "prior_accepted");
    assert.equal(totalExtraRollouts, 0);
  });
  it("c = 0.0039 reproduces the cap of 16 under an infinitely biased prior, even with a higher k_max", () => {
    assert.equal(lookaheadTarget(Infinity, 4, 1000, 1, 0.0039), 16);
    // binary scale: variance and cost both scale by 1/4
    assert.equal(lookaheadTarget(Infinity, 4, 1000, 0.25, 0.0039 * 0.25), 16);
  });
  it("the binary search finds exactly the target of the one-rollout-at-a-time look-ahead", () => {
    const linear = (b: number, k: number, kMax: number, v: number, c: number) => {
      let t = k;
      while (t < kMax && fusedMse(b, v, t) - fusedMse(b, v, t + 1) > c) t++;
      return t;
    };
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(Infinity), fc.constant(0), fc.double({ min: 1e-9, max: 4, noNaN: true })),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 512 }),
        fc.constantFrom(1, 0.25),
        fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })),
        (b, k, extra, v, c) => lookaheadTarget(b, k, k + extra, v, c) === linear(b, k, k + extra, v, c),
      ),
      { numRuns: 2_000 },
    );
  });
  it("plans the full 16 for a prior at the wrong end (p̂ = 0, all correct)", () => {
    const { plans } = v05.plan([{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0 }], SCALES.binary, DEFAULT_BUDGET_PARAMETERS);
    assert.equal(plans[0]!.targetRollouts, 16);
    assert.equal(plans[0]!.extraRollouts, 12);
  });
  it("tops up to k_init before testing the prior", () => {
    const { plans } = v05.plan(
      [
        { promptId: "new", rewards: [], prior: 0.5 },
        { promptId: "two", rewards: [1, 0], prior: 0.5 },
      ],
      SCALES.binary,
      DEFAULT_BUDGET_PARAMETERS,
    );
    assert.deepEqual(
      plans.map((p) => [p.extraRollouts, p.reason]),
      [
        [4, "initial_rollouts"],
        [2, "initial_rollouts"],
      ],
    );
  });
  it("never plans past k_max", () => {
    const { plans } = v05.plan([{ promptId: "p", rewards: new Array(16).fill(1), prior: 0 }], SCALES.binary, DEFAULT_BUDGET_PARAMETERS);
    assert.equal(plans[0]!.extraRollouts, 0);
    assert.equal(plans[0]!.reason, "at_max");
  });
  it("gives a binding batch cap to the largest MSE reductions, top-ups first", () => {
    const groups: PlanGroup[] = [
      { promptId: "mild", rewards: [1, 1, 1, 1], prior: 0.6 }, // small bias
      { promptId: "wild", rewards: [1, 1, 1, 1], prior: 0.0 }, // huge bias
      { promptId: "fresh", rewards: [], prior: 0.5 },
    ];
    const free = v05.plan(groups, SCALES.signed, DEFAULT_BUDGET_PARAMETERS);
    const capped = v05.plan(groups, SCALES.signed, { ...DEFAULT_BUDGET_PARAMETERS, maxExtraRollouts: 10 });
    assert.ok(free.totalExtraRollouts > 10);
    assert.equal(capped.totalExtraRollouts, 10);
    assert.equal(capped.budgetBinding, true);
    assert.equal(capped.plans[2]!.extraRollouts, 4, "top-up to k_init comes first");
    // The wildly biased prompt's first extra rollouts are worth more than the mild one's.
    assert.ok(capped.plans[1]!.extraRollouts >= capped.plans[0]!.extraRollouts);
    assert.equal(capped.plans[1]!.reason, "batch_cap");
  });
});

describe("v0 marginal-utility allocation", () => {
  it("computes U(B, p) = B(1-p)[1-(1-p)^(B-1)]", () => {
    assert.equal(v0Utility(2, 0.5), 2 * 0.5 * 0.5);
    assert.equal(v0Utility(1, 0.3), 0);
  });
  it("greedily follows the largest marginal utility (worked case)", () => {
    // Start [2, 2]. Gains: p=.5: U(3)-U(2) = 1.125-0.5 = 0.625, then 0.625; p=.95: 0.0546. Both extra go to p=.5.
    const out = v0.plan(
      [
        { promptId: "mid", rewards: [], prior: 0.5 },
        { promptId: "easy", rewards: [], prior: 0.95 },
      ],
      SCALES.binary,
      { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: 6 },
    );
    assert.deepEqual(out.plans.map((p) => p.targetRollouts), [4, 2]);
    assert.equal(out.budgetBinding, true);
  });
  it("respects max_per_prompt and moves on to the next best prompt", () => {
    const out = v0.plan(
      [
        { promptId: "mid", rewards: [], prior: 0.5 },
        { promptId: "hard", rewards: [], prior: 0.05 },
      ],
      SCALES.binary,
      { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: 140 },
    );
    assert.deepEqual(out.plans.map((p) => p.targetRollouts), [128, 12]);
    assert.equal(out.totalExtraRollouts, 140);
  });
  it("counts rollouts already taken against a prompt's allocation", () => {
    const out = v0.plan([{ promptId: "mid", rewards: [1, 0, 1], prior: 0.5 }], SCALES.binary, { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: 8 });
    assert.deepEqual([out.plans[0]!.targetRollouts, out.plans[0]!.extraRollouts], [8, 5]);
  });
  it("refuses a budget below min_per_prompt × prompts", () => {
    assert.throws(
      () => v0.plan([{ promptId: "a", rewards: [], prior: 0.5 }, { promptId: "b", rewards: [], prior: 0.5 }], SCALES.binary, { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: 3 }),
      (err: unknown) => err instanceof InvalidArgumentError && err.fieldPath === "parameters.total_budget",
    );
  });
  it("spends nothing on prompts with no expected utility (p = 0 or 1)", () => {
    const out = v0.plan([{ promptId: "a", rewards: [], prior: 1 }, { promptId: "b", rewards: [], prior: 0 }], SCALES.binary, { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: 100 });
    assert.deepEqual(out.plans.map((p) => p.targetRollouts), [2, 2]);
    assert.equal(out.budgetBinding, false);
  });
});

describe("registry", () => {
  it("answers an unknown policy with the valid names", () => {
    assert.throws(() => getBudgetPolicy("uniform"), /valid: v0, v05/);
  });
});
