import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../../shared/errors";
import { buildTrainBatch, type TrajectoryInput } from "../src/domain/train-batch";

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
    const b = buildTrainBatch([t(), t({ promptTokenIds: [1, 6], responseTokenIds: [9], oldLogprobs: [-2], advantage: -1 })], limits, false);
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

  const bad: Array<[string, TrajectoryInput[], boolean, string]> = [
    ["no trajectories", [], false, "trajectories"],
    ["too many", [t(), t(), t(), t(), t()], false, "trajectories"],
    ["token outside the vocabulary", [t(), t({ responseTokenIds: [7, 19] })], false, "trajectories[1].response_token_ids[1]"],
    ["negative token", [t({ promptTokenIds: [1, -3] })], false, "trajectories[0].prompt_token_ids[1]"],
    ["empty response", [t({ responseTokenIds: [], oldLogprobs: [] })], false, "trajectories[0].response_token_ids"],
    ["log-prob length mismatch", [t({ oldLogprobs: [-1] })], false, "trajectories[0].old_logprobs"],
    ["NaN log-prob", [t({ oldLogprobs: [-1, NaN] })], false, "trajectories[0].old_logprobs[1]"],
    ["NaN advantage", [t({ advantage: NaN })], false, "trajectories[0].advantage"],
    ["too long for the context", [t({ promptTokenIds: [1, 2, 3, 4, 5, 6, 7] })], false, "trajectories[0]"],
    ["reference needed for KL", [t()], true, "trajectories[0].ref_logprobs"],
    ["reference length mismatch", [t({ refLogprobs: [-1, -1, -1] })], false, "trajectories[0].ref_logprobs"],
  ];
  for (const [name, trajectories, requireRef, path] of bad) {
    it(`${name} → INVALID_ARGUMENT at ${path}`, () => {
      assert.throws(() => buildTrainBatch(trajectories, limits, requireRef), (e: unknown) => e instanceof InvalidArgumentError && e.fieldPath === path);
    });
  }
});
