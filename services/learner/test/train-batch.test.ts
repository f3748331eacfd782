import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../../shared/errors";
import { groupMeanRewards } from "../../../shared/training/rewards";
import { buildTrainBatch, type BatchObjective, type TrajectoryInput } from "../src/domain/train-batch";

const POLICY = { kind: "policy", requireRef: false } as const;
const POLICY_KL = { kind: "policy", requireRef: true } as const;
const REVAL = { kind: "reval" } as const;
const limits = { vocabSize: 19, maxPositions: 8, padId: 0, maxTrajectories: 4 };
const t = (over: Partial<TrajectoryInput> = {}): TrajectoryInput => ({
  promptTokenIds: [1, 5, 13],
  responseTokenIds: [7, 2],
  oldLogprobs: [-0.5, -0.1],
  advantage: 1.5,
  refLogprobs: [],
  ...over,
});

describe("train batch", () => {
  it("right-pads and puts response token k of a length-P prompt in column P + k", () => {
    const b = buildTrainBatch([t(), t({ promptTokenIds: [1, 6], responseTokenIds: [9], oldLogprobs: [-2], advantage: -1 })], limits, POLICY);
    assert.equal(b.width, 5);
    assert.deepEqual([...b.inputIds], [1, 5, 13, 7, 2, 1, 6, 9, 0, 0]);
    assert.deepEqual([...b.positionIds], [0, 1, 2, 3, 4, 0, 1, 2, 0, 0]);
    assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual([...b.responseMask], [0, 0, 0, 1, 1, 0, 0, 1, 0, 0]);
    assert.deepEqual([...b.oldLogprobs], [0, 0, 0, -0.5, -0.1, 0, 0, -2, 0, 0].map((x) => Math.fround(x)));
    assert.deepEqual([...b.advantages], [0, 0, 0, 1.5, 1.5, 0, 0, -1, 0, 0]);
    // No reference given: log π_ref = log π_old, so a zero-weight KL term stays finite.
    assert.deepEqual([...b.refLogprobs], [...b.oldLogprobs]);
    assert.equal(b.tokens, 3);
  });

  it("takes ReVal batches without old log-probs, with rewards and V_ref(s1) per trajectory", () => {
    const b = buildTrainBatch([t({ oldLogprobs: [], refLogprobs: [-1, -2], reward: 0.5, refValue: 3 })], limits, REVAL);
    assert.deepEqual([...b.rewards], [0.5]);
    assert.deepEqual([...b.refValues], [3]);
    assert.deepEqual([...b.refLogprobs], [0, 0, 0, -1, -2]);
  });

  it("puts a ReVal reference sum given alone in the first response column", () => {
    const b = buildTrainBatch([t({ oldLogprobs: [], reward: 1, refValue: 0, refLogprobSum: -3.5 })], limits, REVAL);
    assert.deepEqual([...b.refLogprobs], [0, 0, 0, -3.5, 0]);
  });

  it("computes ReVal's group-mean reward", () => {
    assert.deepEqual(groupMeanRewards([{ reward: 1, groupId: "a" }, { reward: 0, groupId: "a" }, { reward: 1, groupId: "b" }]), [0.5, -0.5, 0]);
    assert.throws(() => groupMeanRewards([{ reward: 1, groupId: "" }]), (e: unknown) => e instanceof InvalidArgumentError && e.fieldPath === "trajectories[0].group_id");
  });

  const bad: Array<[string, TrajectoryInput[], BatchObjective, string]> = [
    ["no trajectories", [], POLICY, "trajectories"],
    ["too many", [t(), t(), t(), t(), t()], POLICY, "trajectories"],
    ["token outside the vocabulary", [t(), t({ responseTokenIds: [7, 19] })], POLICY, "trajectories[1].response_token_ids[1]"],
    ["negative token", [t({ promptTokenIds: [1, -3] })], POLICY, "trajectories[0].prompt_token_ids[1]"],
    ["empty response", [t({ responseTokenIds: [], oldLogprobs: [] })], POLICY, "trajectories[0].response_token_ids"],
    ["log-prob length mismatch", [t({ oldLogprobs: [-1] })], POLICY, "trajectories[0].old_logprobs"],
    ["NaN log-prob", [t({ oldLogprobs: [-1, NaN] })], POLICY, "trajectories[0].old_logprobs[1]"],
    ["NaN advantage", [t({ advantage: NaN })], POLICY, "trajectories[0].advantage"],
    ["too long for the context", [t({ promptTokenIds: [1, 2, 3, 4, 5, 6, 7] })], POLICY, "trajectories[0]"],
    ["reference needed for KL", [t()], POLICY_KL, "trajectories[0].ref_logprobs"],
    ["reference needed by ReVal", [t({ reward: 1, refValue: 0 })], REVAL, "trajectories[0].ref_logprobs"],
    ["ReVal reward NaN", [t({ refLogprobs: [-1, -1], reward: NaN, refValue: 0 })], REVAL, "trajectories[0].reward"],
    ["ReVal V_ref missing", [t({ refLogprobs: [-1, -1], reward: 1 })], REVAL, "trajectories[0].ref_value"],
    ["reference length mismatch", [t({ refLogprobs: [-1, -1, -1] })], POLICY, "trajectories[0].ref_logprobs"],
  ];
  for (const [name, trajectories, objective, path] of bad) {
    it(`${name} → INVALID_ARGUMENT at ${path}`, () => {
      assert.throws(() => buildTrainBatch(trajectories, limits, objective), (e: unknown) => e instanceof InvalidArgumentError && e.fieldPath === path);
    });
  }
});
