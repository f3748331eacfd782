import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../../shared/errors";
import { DynamicBatcher } from "../src/domain/batcher";
import type { DecodeSequence, PolicyBackend } from "../src/domain/generation";
import { PolicyStore } from "../src/domain/policy-store";
import { mulberry32 } from "../../../shared/random";
import { logSoftmaxAt, sampleToken, seedFor } from "../src/domain/sampling";
import { CharTokenizer } from "../src/domain/tokenizer";

const logits = Float32Array.from([2, 1, 0, -1]); // softmax ≈ .644 .237 .087 .032

describe("sampling", () => {
  it("is greedy at temperature 0", () => {
    assert.equal(sampleToken(logits, 0, 4, { temperature: 0, topP: 1 }, 0.99), 0);
  });
  it("draws by cumulative probability at temperature 1", () => {
    assert.equal(sampleToken(logits, 0, 4, { temperature: 1, topP: 1 }, 0.5), 0);
    assert.equal(sampleToken(logits, 0, 4, { temperature: 1, topP: 1 }, 0.7), 1);
    assert.equal(sampleToken(logits, 0, 4, { temperature: 1, topP: 1 }, 0.95), 2);
    assert.equal(sampleToken(logits, 0, 4, { temperature: 1, topP: 1 }, 0.999), 3);
  });
  it("keeps only the nucleus under top-p", () => {
    // top_p 0.8 keeps tokens 0 and 1 (mass .881); u = .999 then lands on 1, never 2 or 3.
    for (const u of [0.1, 0.5, 0.9, 0.999]) assert.ok([0, 1].includes(sampleToken(logits, 0, 4, { temperature: 1, topP: 0.8 }, u)));
    assert.equal(sampleToken(logits, 0, 4, { temperature: 1, topP: 0.5 }, 0.999), 0);
  });
  it("reads the row at its offset", () => {
    const two = Float32Array.from([0, 0, 0, 0, 9, 0, 0, 0]);
    assert.equal(sampleToken(two, 4, 4, { temperature: 0, topP: 1 }, 0), 0);
    assert.equal(sampleToken(two, 0, 4, { temperature: 0, topP: 1 }, 0), 0);
    assert.ok(Math.abs(logSoftmaxAt(two, 4, 4, 0) - (9 - Math.log(Math.exp(9) + 3))) < 1e-9);
  });
  it("matches the empirical distribution (temperature 0.5 sharpens it)", () => {
    const random = mulberry32(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[sampleToken(logits, 0, 4, { temperature: 0.5, topP: 1 }, random())]!++;
    const z = [4, 2, 0, -2].map(Math.exp);
    const total = z.reduce((a, b) => a + b, 0);
    counts.forEach((c, i) => assert.ok(Math.abs(c / 20_000 - z[i]! / total) < 0.01, `token ${i}: ${c}`));
  });
  it("derives independent, reproducible seeds", () => {
    assert.equal(seedFor(1n, 0, 0), seedFor(1n, 0, 0));
    assert.notEqual(seedFor(1n, 0, 0), seedFor(1n, 0, 1));
    assert.notEqual(seedFor(1n, 0, 1), seedFor(1n, 1, 0));
  });
});

describe("tokenizer", () => {
  const tok = new CharTokenizer({ tokens: ["<pad>", "<bos>", "<eos>", ..."0123456789+-*()="], pad_id: 0, bos_id: 1, eos_id: 2 });
  it("encodes prompts with <bos> and decodes up to <eos>", () => {
    assert.deepEqual(tok.encodePrompt("1+2=", "p"), [1, 4, 13, 5, 18]);
    assert.equal(tok.decode([6, 2, 7]), "3");
  });
  it("names the field of a character outside the alphabet", () => {
    assert.throws(() => tok.encodePrompt("1+x=", "prompts[2].text"), (e: unknown) => e instanceof InvalidArgumentError && e.fieldPath === "prompts[2].text");
  });
});

describe("policy store", () => {
  const store = () => new PolicyStore({ version: 1n, params: new Float32Array(3) }, 3);
  it("accepts only newer versions of the right size", () => {
    const s = store();
    assert.throws(() => s.checkUpdate(1n, 3n, "header"), FailedPreconditionError);
    assert.throws(() => s.checkUpdate(2n, 4n, "header"), (e: unknown) => e instanceof InvalidArgumentError && e.fieldPath === "header.num_values");
    const previous = s.update({ version: 2n, params: Float32Array.of(1, 2, 3) });
    assert.equal(previous.version, 1n);
    assert.equal(s.current.version, 2n);
  });
  it("keeps a pinned version after newer ones arrive", () => {
    const s = store();
    s.pin("reference", 0n);
    s.update({ version: 5n, params: Float32Array.of(1, 1, 1) });
    assert.equal(s.resolve("reference").version, 1n);
    assert.equal(s.resolve("").version, 5n);
    assert.throws(() => s.resolve("nope"), NotFoundError);
    assert.throws(() => s.pin("old", 3n), FailedPreconditionError);
    assert.equal(s.pin("again", 1n).version, 1n);
  });
});

describe("dynamic batching", () => {
  /** Records batch sizes and holds the first batch until released, so later requests queue up. */
  class GatedBackend implements PolicyBackend {
    readonly info = { modelId: "fake", numParameters: 1, vocabSize: 1, maxPositions: 8, executionProvider: "cpu" };
    readonly batchSizes: number[] = [];
    release: () => void = () => {};
    private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
    async generate(_params: Float32Array, sequences: DecodeSequence[]): Promise<void> {
      this.batchSizes.push(sequences.length);
      if (this.batchSizes.length === 1) await this.gate;
      for (const s of sequences) s.finish = "length";
    }
    score = async () => [];
    close = async () => {};
  }
  const seqs = (n: number): DecodeSequence[] =>
    Array.from({ length: n }, () => ({ promptIds: [1], maxNewTokens: 1, sampling: { temperature: 1, topP: 1 }, random: Math.random, tokens: [], logprobs: [] }));

  it("decodes requests that arrive together or while busy in one batch, up to the size limit", async () => {
    const backend = new GatedBackend();
    const store = new PolicyStore({ version: 3n, params: new Float32Array(1) }, 1);
    const batcher = new DynamicBatcher(backend, store, 10);
    // Four requests in the same tick: one batch up to the limit of 10, the rest next.
    const first = [batcher.submit(seqs(2)), batcher.submit(seqs(4)), batcher.submit(seqs(4)), batcher.submit(seqs(4))];
    // Held while the first batch runs, then batched with the leftover.
    await new Promise((resolve) => setImmediate(resolve));
    const late = batcher.submit(seqs(3));
    backend.release();
    const versions = await Promise.all([...first, late]);
    assert.deepEqual(backend.batchSizes, [10, 7]);
    assert.ok(versions.every((v) => v.version === 3n));
    assert.deepEqual(batcher.stats, { batches: 2, sequences: 17, largestBatch: 10 });
  });
});
