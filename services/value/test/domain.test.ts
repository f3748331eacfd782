import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../../shared/paths";
import { Coalescer } from "../src/domain/coalescer";
import { evaluate, promptFeatures } from "../src/domain/features";
import { fallbackPassRate, SupportBuffer, type ContextRow } from "../src/domain/support-buffer";

const row = (i: number, passRate = 0.5): ContextRow => ({ promptId: `p${i}`, text: `${i}+1=`, passRate, policyVersion: BigInt(i) });

describe("prompt features", () => {
  const golden = path.join(repoRoot(), "models", "value", "artifacts", "features-golden.json");
  it("match the Python definition on its golden prompts", (t) => {
    if (!fs.existsSync(golden)) return t.skip("no golden file yet");
    const cases = JSON.parse(fs.readFileSync(golden, "utf8")) as Array<{ prompt: string; features: number[] }> | { cases: Array<{ prompt: string; features: number[] }> };
    const list = Array.isArray(cases) ? cases : cases.cases;
    assert.ok(list.length >= 50);
    for (const c of list) assert.deepEqual(Array.from(promptFeatures(c.prompt)), c.features.map(Math.fround), c.prompt);
  });
  it("evaluates with precedence and parentheses, 0 when malformed", () => {
    assert.equal(evaluate("12*7-5"), 79);
    assert.equal(evaluate("3*(16-27)"), -33);
    assert.equal(evaluate("2+"), 0);
    assert.equal(evaluate("(1+2"), 0);
  });
  it("encodes the level one-hot and the carries", () => {
    const f = promptFeatures("58+67=");
    assert.deepEqual(Array.from(f.slice(0, 5)), [0, 1, 0, 0, 0]);
    assert.equal(f[15], 1); // two carries / 2
    assert.equal(promptFeatures("(8+9)*3=")[4], 1);
  });
});

describe("support buffer", () => {
  it("keeps exactly the newest N rows", () => {
    const b = new SupportBuffer(5);
    b.add({ batchId: "a", policyVersion: 1n, rows: [0, 1, 2, 3].map((i) => row(i)) });
    b.add({ batchId: "b", policyVersion: 2n, rows: [4, 5, 6].map((i) => row(i)) });
    assert.deepEqual(b.snapshot().map((r) => r.promptId), ["p2", "p3", "p4", "p5", "p6"]);
  });
  it("adds a batch id once", () => {
    const b = new SupportBuffer(10);
    assert.equal(b.add({ batchId: "a", policyVersion: 1n, rows: [row(1)] }), true);
    assert.equal(b.add({ batchId: "a", policyVersion: 1n, rows: [row(1)] }), false);
    assert.equal(b.size, 1);
  });
  it("falls back to the smoothed mean, 0.5 with no rows", () => {
    assert.equal(fallbackPassRate([]), 0.5);
    assert.equal(fallbackPassRate([row(1, 1), row(2, 1), row(3, 1)]), 3.5 / 4);
  });
});

describe("coalescer", () => {
  it("runs concurrent requests together and gives each caller its own answer", async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, number>({ run: async (xs) => (batches.push(xs), xs.map((x) => x * 10)) }, 4, 5);
    const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => c.submit(x)));
    assert.deepEqual(out, [10, 20, 30, 40, 50, 60]);
    assert.deepEqual(batches, [
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });
  it("fails every caller of a failed batch", async () => {
    const c = new Coalescer<number, number>({ run: async () => Promise.reject(new Error("boom")) }, 8, 1);
    const results = await Promise.allSettled([c.submit(1), c.submit(2)]);
    assert.ok(results.every((r) => r.status === "rejected"));
  });
});
