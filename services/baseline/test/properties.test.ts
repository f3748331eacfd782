// Property tests of the estimators and the planner (fast-check).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DEFAULT_BUDGET_PARAMETERS, getBudgetPolicy } from "../src/domain/budget";
import { computeBatch, getEstimator, DEFAULT_ESTIMATOR_OPTIONS } from "../src/domain/estimators";
import { fusePrior } from "../src/domain/fusion";
import { SCALES, type ScaleName } from "../src/domain/scale";

const scaleName = fc.constantFrom<ScaleName>("binary", "signed");
const binaryRewards = (min: number, max: number) => fc.array(fc.constantFrom(0, 1), { minLength: min, maxLength: max });
const toScale = (rewards: number[], name: ScaleName) => (name === "signed" ? rewards.map((r) => 2 * r - 1) : rewards);
const passRate = fc.double({ min: 0, max: 1, noNaN: true });

describe("estimator properties", () => {
  for (const name of ["grpo", "rloo", "dr_grpo"]) {
    it(`${name} advantages sum to 0 in every group of two or more`, () => {
      fc.assert(
        fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 64 }), (rewards) => {
          const [g] = computeBatch(getEstimator(name), [{ promptId: "p", rewards }], SCALES.signed, DEFAULT_ESTIMATOR_OPTIONS).groups;
          const sum = g!.advantages.reduce((a, b) => a + b, 0);
          const scale = name === "grpo" ? 1 / (g!.std + 1e-6) : name === "rloo" ? rewards.length / (rewards.length - 1) : 1;
          assert.ok(Math.abs(sum) <= 1e-9 * rewards.length * Math.max(1, scale), `sum ${sum}`);
        }),
      );
    });
  }

  it("v05: w ∈ [0, 1] and the baseline lies between the prior V and the mean", () => {
    fc.assert(
      fc.property(binaryRewards(1, 32), passRate, scaleName, (raw, p, name) => {
        const scale = SCALES[name];
        const f = fusePrior(toScale(raw, name), p, scale);
        assert.ok(f.weight >= 0 && f.weight <= 1);
        const lo = Math.min(f.priorValue, f.mean) - 1e-12;
        const hi = Math.max(f.priorValue, f.mean) + 1e-12;
        assert.ok(f.baseline >= lo && f.baseline <= hi, `b=${f.baseline} V=${f.priorValue} mean=${f.mean}`);
        assert.equal(f.rejected, Math.abs(f.z) > 1 && f.biasSq > 0);
      }),
    );
  });
});

describe("planner properties", () => {
  it("v05 never plans past k_max nor past the batch cap", () => {
    const group = fc.record({ rewards: binaryRewards(0, 20), prior: passRate });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 24 }),
        fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
        scaleName,
        (groups, kInit, extraMax, cap, name) => {
          const params = { ...DEFAULT_BUDGET_PARAMETERS, kInit, kMax: kInit + extraMax, maxExtraRollouts: cap };
          const input = groups.map((g, i) => ({ promptId: `p${i}`, rewards: toScale(g.rewards, name), prior: g.prior }));
          const out = getBudgetPolicy("v05").plan(input, SCALES[name], params);
          for (const [i, p] of out.plans.entries()) {
            assert.ok(p.extraRollouts >= 0);
            assert.ok(p.targetRollouts <= Math.max(params.kMax, input[i]!.rewards.length), `target ${p.targetRollouts} > k_max ${params.kMax}`);
          }
          if (cap !== undefined) assert.ok(out.totalExtraRollouts <= cap);
        },
      ),
    );
  });

  it("v0 never exceeds the total budget or the per-prompt bounds", () => {
    fc.assert(
      fc.property(fc.array(passRate, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 2000 }), (priors, extra) => {
        const total = priors.length * 2 + extra;
        const out = getBudgetPolicy("v0").plan(
          priors.map((p, i) => ({ promptId: `p${i}`, rewards: [], prior: p })),
          SCALES.binary,
          { ...DEFAULT_BUDGET_PARAMETERS, totalBudget: total },
        );
        const spent = out.plans.reduce((s, p) => s + p.targetRollouts, 0);
        assert.ok(spent <= total);
        for (const p of out.plans) assert.ok(p.targetRollouts >= 2 && p.targetRollouts <= 128);
      }),
    );
  });
});
