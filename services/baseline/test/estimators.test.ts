import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../../shared/errors";
import { computeBatch, getEstimator, DEFAULT_ESTIMATOR_OPTIONS, type Group } from "../src/domain/estimators";
import { fusePrior } from "../src/domain/fusion";
import { SCALES } from "../src/domain/scale";

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
const closeAll = (actual: readonly number[], expected: readonly number[], tol = 1e-9) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => close(a, expected[i]!, tol));
};

function run(name: string, groups: Group[], scale = SCALES.binary) {
  return computeBatch(getEstimator(name), groups, scale, DEFAULT_ESTIMATOR_OPTIONS);
}

describe("grpo", () => {
  it("normalises by the sample std plus 1e-6", () => {
    // rewards 1,0,0,1: mean 0.5, sample std sqrt(1/3) = 0.57735
    const [g] = run("grpo", [{ promptId: "p", rewards: [1, 0, 0, 1] }]).groups;
    const std = Math.sqrt(1 / 3);
    close(g!.baseline, 0.5);
    close(g!.std, std);
    closeAll(g!.advantages, [0.5, -0.5, -0.5, 0.5].map((d) => d / (std + 1e-6)));
  });
  it("gives zero advantages to an all-equal group", () => {
    const [g] = run("grpo", [{ promptId: "p", rewards: [1, 1, 1] }]).groups;
    closeAll(g!.advantages, [0, 0, 0]);
  });
  it("keeps the reward of a group of one (verl: mean 0, std 1)", () => {
    const [g] = run("grpo", [{ promptId: "p", rewards: [0.7] }]).groups;
    closeAll(g!.advantages, [0.7]);
    close(g!.baseline, 0);
  });
  it("handles groups of different sizes in one batch", () => {
    const out = run("grpo", [
      { promptId: "a", rewards: [1, 0] },
      { promptId: "b", rewards: [1, 1, 0, 0, 0, 0] },
    ]);
    // a: mean .5, std sqrt(.5); b: mean 1/3, std sqrt((2·(2/3)²+4·(1/3)²)/5) = sqrt(4/15)
    closeAll(out.groups[0]!.advantages, [0.5, -0.5].map((d) => d / (Math.sqrt(0.5) + 1e-6)));
    const sb = Math.sqrt(4 / 15);
    close(out.groups[1]!.advantages[0]!, (2 / 3) / (sb + 1e-6));
    close(out.groups[1]!.advantages[5]!, (-1 / 3) / (sb + 1e-6));
    assert.equal(out.summary.rollouts, 8);
  });
});

describe("dr_grpo and rloo", () => {
  it("dr_grpo is r - mean without std", () => {
    const [g] = run("dr_grpo", [{ promptId: "p", rewards: [1, 0, 0, 0] }]).groups;
    closeAll(g!.advantages, [0.75, -0.25, -0.25, -0.25]);
  });
  it("rloo subtracts the mean of the other rewards", () => {
    const [g] = run("rloo", [{ promptId: "p", rewards: [1, 0, 0, 1] }]).groups;
    // r_1 - mean(0,0,1) = 1 - 1/3; r_2 - mean(1,0,1) = -2/3
    closeAll(g!.advantages, [2 / 3, -2 / 3, -2 / 3, 2 / 3]);
  });
  it("rloo keeps the reward of a group of one", () => {
    const [g] = run("rloo", [{ promptId: "p", rewards: [1] }]).groups;
    closeAll(g!.advantages, [1]);
  });
});

describe("dapo", () => {
  it("drops zero-spread groups with per-reason counts and keeps the rest", () => {
    const out = run(
      "dapo",
      [
        { promptId: "all-right", rewards: [1, 1, 1, 1] },
        { promptId: "all-wrong", rewards: [-1, -1, -1, -1] },
        { promptId: "graded-flat", rewards: [0.5, 0.5] },
        { promptId: "mixed", rewards: [1, -1, 1, 1] },
        { promptId: "one", rewards: [1] },
      ],
      SCALES.signed,
    );
    const verdicts = out.groups.map((g) => (g.diagnostics?.kind === "dynamic_sampling" ? [g.diagnostics.keep, g.diagnostics.reason] : null));
    assert.deepEqual(verdicts, [
      [false, "all_correct"],
      [false, "all_wrong"],
      [false, "zero_spread"],
      [true, undefined],
      // verl keeps a group when `std > 0 or len == 1`.
      [true, undefined],
    ]);
    assert.deepEqual(out.summary.drops, { all_correct: 1, all_wrong: 1, zero_spread: 1 });
    assert.equal(out.summary.groupsKept, 2);
  });
  it("keeps a graded group with any spread even when its mean sits at an end of the scale's interior", () => {
    const [g] = run("dapo", [{ promptId: "p", rewards: [0.2, 0.3] }]).groups;
    assert.deepEqual(g!.diagnostics, { kind: "dynamic_sampling", keep: true });
  });
  it("computes GRPO advantages", () => {
    const [d] = run("dapo", [{ promptId: "p", rewards: [1, 0, 0, 1] }]).groups;
    const [g] = run("grpo", [{ promptId: "p", rewards: [1, 0, 0, 1] }]).groups;
    assert.deepEqual(d!.advantages, g!.advantages);
  });
});

describe("pvpo", () => {
  it("subtracts the reference mean with no std and no epsilon", () => {
    const [g] = run("pvpo", [{ promptId: "p", rewards: [1, 0, 1], reference: { rollouts: 16, meanReward: 0.25, source: "inline" } }]).groups;
    closeAll(g!.advantages, [0.75, -0.25, 0.75], 0);
    close(g!.baseline, 0.25, 0);
  });
  it("gives a group of one a real baseline", () => {
    const [g] = run("pvpo", [{ promptId: "p", rewards: [1], reference: { rollouts: 4, meanReward: 0.5, source: "store" } }]).groups;
    closeAll(g!.advantages, [0.5]);
  });
});

describe("v05 prior fusion", () => {
  it("worked case, signed scale, p̂ = 0.6, 4/4 correct: prior rejected, w ≈ 0.609, b ≈ 0.688", () => {
    const f = fusePrior([1, 1, 1, 1], 0.6, SCALES.signed);
    close(f.priorValue, 0.2);
    close(f.biasSq, 0.39);
    close(f.weight, 0.39 / 0.64);
    close(f.baseline, 0.6875);
    close(f.z, 1.6);
    assert.equal(f.rejected, true);
    const [g] = run("v05", [{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0.6 }], SCALES.signed).groups;
    closeAll(g!.advantages, [1, 1, 1, 1].map(() => 1 - 0.6875));
  });
  it("worked case, signed scale, p̂ = 0.6, 3/4 correct: prior accepted, b = 0.2", () => {
    const f = fusePrior([1, 1, 1, -1], 0.6, SCALES.signed);
    assert.equal(f.rejected, false);
    assert.equal(f.weight, 0);
    close(f.baseline, 0.2);
    close(f.z, 0.6);
  });
  it("gives the same decisions on the binary scale (everything scales by 1/4)", () => {
    const signed = fusePrior([1, 1, 1, 1], 0.6, SCALES.signed);
    const binary = fusePrior([1, 1, 1, 1], 0.6, SCALES.binary);
    close(binary.weight, signed.weight);
    close(binary.z, signed.z);
    close(binary.baseline, SCALES.signed.toPassRate(signed.baseline));
  });
  it("a group of one gets the prior as its baseline when the prior agrees", () => {
    // binary, p̂ = 0.7, r = 1: s² = 0.25, (1 - 0.7)² = 0.09 < s² → accepted
    const [g] = run("v05", [{ promptId: "p", rewards: [1], prior: 0.7 }]).groups;
    closeAll(g!.advantages, [0.3]);
  });
  it("rewards agreeing rollouts against a wrong-but-accepted prior (non-zero advantage where GRPO gives 0)", () => {
    const [g] = run("v05", [{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0.8 }]).groups;
    assert.ok(g!.advantages.every((a) => a > 0));
  });
  it("divides by the group std only when asked", () => {
    const [plain] = run("v05", [{ promptId: "p", rewards: [1, 0, 0, 1], prior: 0.5 }]).groups;
    const [normed] = computeBatch(getEstimator("v05"), [{ promptId: "p", rewards: [1, 0, 0, 1], prior: 0.5 }], SCALES.binary, {
      ...DEFAULT_ESTIMATOR_OPTIONS,
      v05NormalizeByStd: true,
    }).groups;
    closeAll(plain!.advantages, [0.5, -0.5, -0.5, 0.5]);
    closeAll(normed!.advantages, [0.5, -0.5, -0.5, 0.5].map((a) => a / (Math.sqrt(1 / 3) + 1e-6)));
  });
  it("does not divide by eps when every reward agrees (the advantage stays r - b)", () => {
    const [g] = computeBatch(getEstimator("v05"), [{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0.8 }], SCALES.binary, {
      ...DEFAULT_ESTIMATOR_OPTIONS,
      v05NormalizeByStd: true,
    }).groups;
    const [plain] = run("v05", [{ promptId: "p", rewards: [1, 1, 1, 1], prior: 0.8 }]).groups;
    closeAll(g!.advantages, plain!.advantages);
    assert.ok(g!.advantages.every((a) => a > 0 && a < 1));
  });
  it("counts rejected priors in the batch summary", () => {
    const out = run(
      "v05",
      [
        { promptId: "a", rewards: [1, 1, 1, 1], prior: 0.6 },
        { promptId: "b", rewards: [1, 1, 1, -1], prior: 0.6 },
      ],
      SCALES.signed,
    );
    assert.equal(out.summary.priorsRejected, 1);
    assert.equal(out.summary.priorRejectionRate, 0.5);
  });
});

describe("registry", () => {
  it("answers an unknown name with the list of valid ones", () => {
    assert.throws(
      () => getEstimator("ppo"),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.fieldPath === "estimator" &&
        err.message.includes("dapo, dr_grpo, grpo, pvpo, rloo, v05"),
    );
  });
});
