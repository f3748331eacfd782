// Hostile inputs: each returns TIMEOUT or REJECTED within its time limit while
// a concurrent normal batch still succeeds, and the pool keeps working after
// its workers were replaced.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_SETTINGS } from "../src/domain/settings";
import type { VerifyInput } from "../src/domain/verify";
import { Verifier } from "../src/pool/verifier-pool";

const LIMIT_MS = 400;
/** Slack over the limit: abort, worker termination and scheduling on a loaded 2-core machine. */
const SLACK_MS = 600;

const hostile: Array<{ name: string; input: VerifyInput; expected: string[] }> = [
  { name: "power tower (CAS hang)", input: { id: "tower", response: "\\boxed{9^{9^{9^{9}}}}", gold: "1", taskKind: "math" }, expected: ["TIMEOUT", "REJECTED"] },
  { name: "huge sum (CAS hang)", input: { id: "sum", response: "\\boxed{\\sum_{n=1}^{10^{9}} n}", gold: "5", taskKind: "math" }, expected: ["TIMEOUT", "REJECTED"] },
  { name: "1 MB response", input: { id: "big", response: "7 ".repeat(512 * 1024), gold: "7", taskKind: "math" }, expected: ["REJECTED"] },
  { name: "10,000 nested braces", input: { id: "nest", response: `\\boxed{${"{".repeat(10_000)}1${"}".repeat(10_000)}}`, gold: "1", taskKind: "math" }, expected: ["REJECTED"] },
  { name: "10,000 unbalanced braces", input: { id: "open", response: `\\boxed{${"{".repeat(10_000)}1`, gold: "1", taskKind: "math" }, expected: ["REJECTED", "WRONG", "UNPARSEABLE", "CORRECT"] },
  { name: "many boxes", input: { id: "boxes", response: "\\boxed{1} ".repeat(20_000), gold: "1", taskKind: "math" }, expected: ["CORRECT", "REJECTED"] },
  { name: "deep brackets in gold", input: { id: "gold", response: "\\boxed{1}", gold: "(".repeat(5_000) + ")".repeat(5_000), taskKind: "math" }, expected: ["REJECTED"] },
];

const normal: VerifyInput[] = Array.from({ length: 64 }, (_, i) => ({
  id: `n${i}`,
  response: i % 2 === 0 ? `so the answer is \\boxed{\\frac{${i + 1}}{\\sqrt{4}}}` : `#### ${i * 3}`,
  gold: i % 2 === 0 ? `${(i + 1) / 2}` : `${i * 3}`,
  taskKind: "math",
}));

describe("hostile inputs", () => {
  let verifier: Verifier;
  before(async () => {
    verifier = new Verifier({ threads: 2 });
    await verifier.warm(DEFAULT_SETTINGS);
  });
  after(() => verifier.close());

  for (const h of hostile) {
    it(`${h.name}: ${h.expected.join("/")} within the limit while a normal batch succeeds`, async () => {
      const started = performance.now();
      const [bad, ...good] = await Promise.all([
        verifier.verify(h.input, DEFAULT_SETTINGS, LIMIT_MS),
        ...normal.map((n) => verifier.verify(n, DEFAULT_SETTINGS, 5_000)),
      ]);
      assert.ok(h.expected.includes(bad!.status), `${bad!.status}: ${bad!.reason}`);
      assert.ok(bad!.reason.length > 0);
      assert.ok(bad!.elapsedMs < LIMIT_MS + SLACK_MS, `returned after ${bad!.elapsedMs} ms`);
      for (const g of good) assert.equal(g.status, "CORRECT", `${g.reason}`);
      assert.ok(performance.now() - started < 10_000);
    });
  }

  it("keeps verifying after timed-out workers were replaced", async () => {
    assert.ok(verifier.timeouts >= 2, "the CAS-hang cases timed out");
    const out = await verifier.verify({ id: "after", response: "\\boxed{\\sqrt{8}}", gold: "2\\sqrt{2}", taskKind: "math" }, DEFAULT_SETTINGS, 5_000);
    assert.equal(out.status, "CORRECT", out.reason);
    assert.equal(out.pooled, true);
  });

  it("several hangs at once time out independently and never read as WRONG", async () => {
    const hangs = Array.from({ length: 4 }, (_, i) => ({ id: `h${i}`, response: "\\boxed{9^{9^{9^{9}}}}", gold: `${i + 2}`, taskKind: "math" }));
    const results = await Promise.all(hangs.map((h) => verifier.verify(h, DEFAULT_SETTINGS, LIMIT_MS)));
    for (const r of results) assert.equal(r.status, "TIMEOUT", r.reason);
  });
});
