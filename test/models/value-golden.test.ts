// Replays models/value/artifacts/value-golden.json through onnxruntime-node and checks the
// behaviour of the in-context pass-rate predictor (value_model.onnx):
//  - golden cases (various B, C, Q, padded and all-masked contexts) within tolerance;
//  - the same queries score higher against a strong policy's context than a weak one's;
//  - padding rows (mask 0, arbitrary contents, anywhere) do not change the output;
//  - batching (B) and query grouping (Q) do not change per-query predictions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { repoRoot } from "../../shared/paths";

const DIR = process.env.VALOR_VALUE_ARTIFACTS ?? path.join(repoRoot(), "models", "value", "artifacts");
const F = 16;

interface Arr {
  dtype: "float32";
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  B: number;
  C: number;
  Q: number;
  inputs: Record<string, Arr>;
  expected: { pass_rate: Arr };
}
interface Golden {
  atol: number;
  cases: Case[];
  behaviour: Record<string, Arr | string | number | string[]>;
}

const golden = JSON.parse(readFileSync(path.join(DIR, "value-golden.json"), "utf8")) as Golden;
const t32 = (data: ArrayLike<number>, dims: number[]) => new ort.Tensor("float32", Float32Array.from(data), dims);

let sessionP: Promise<ort.InferenceSession> | undefined;
const session = () =>
  (sessionP ??= ort.InferenceSession.create(path.join(DIR, "value_model.onnx"), {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
  }));

interface Feeds {
  cf: ArrayLike<number>;
  co: ArrayLike<number>;
  cm: ArrayLike<number>;
  qf: ArrayLike<number>;
  B: number;
  C: number;
  Q: number;
}

async function predict(f: Feeds): Promise<Float32Array> {
  const s = await session();
  const out = await s.run({
    context_features: t32(f.cf, [f.B, f.C, F]),
    context_outcomes: t32(f.co, [f.B, f.C]),
    context_mask: t32(f.cm, [f.B, f.C]),
    query_features: t32(f.qf, [f.B, f.Q, F]),
  });
  const y = out["pass_rate"];
  assert.ok(y, "missing pass_rate output");
  assert.deepEqual(y.dims, [f.B, f.Q]);
  return y.data as Float32Array;
}

const feedsOf = (c: Case): Feeds => ({
  cf: c.inputs["context_features"]!.data,
  co: c.inputs["context_outcomes"]!.data,
  cm: c.inputs["context_mask"]!.data,
  qf: c.inputs["query_features"]!.data,
  B: c.B,
  C: c.C,
  Q: c.Q,
});

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Number.isFinite(actual[i]!), `${what}: non-finite at ${i}`);
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= atol, `${what}: index ${i} actual ${actual[i]} expected ${expected[i]}`);
  }
}

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0) / a.length;

test("value model: graph interface", async () => {
  const s = await session();
  assert.deepEqual([...s.inputNames].sort(), ["context_features", "context_mask", "context_outcomes", "query_features"]);
  assert.deepEqual([...s.outputNames], ["pass_rate"]);
});

test("value model: golden cases replay within tolerance", async () => {
  assert.ok(golden.cases.length >= 3);
  for (const c of golden.cases) {
    const y = await predict(feedsOf(c));
    assertClose(y, c.expected.pass_rate.data, Math.max(golden.atol, 1e-4), c.name);
    for (const v of y) assert.ok(v >= 0 && v <= 1, `${c.name}: ${v} outside [0,1]`);
  }
});

test("value model: all-zero mask gives finite outputs", async () => {
  const B = 2, C = 4, Q = 3;
  const y = await predict({
    cf: new Float32Array(B * C * F).fill(0.5),
    co: new Float32Array(B * C).fill(1),
    cm: new Float32Array(B * C),
    qf: new Float32Array(B * Q * F).fill(0.3),
    B, C, Q,
  });
  for (const v of y) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1);
});

test("value model: strong-policy context gives higher p̂ than weak-policy context for the same queries", async () => {
  const b = golden.behaviour;
  const qf = b["query_features"] as Arr;
  const Q = qf.shape[1]!;
  const run = async (tag: string) => {
    const cf = b[`${tag}_context_features`] as Arr;
    const C = cf.shape[1]!;
    return predict({ cf: cf.data, co: (b[`${tag}_context_outcomes`] as Arr).data, cm: new Float32Array(C).fill(1), qf: qf.data, B: 1, C, Q });
  };
  const strong = await run("strong");
  const weak = await run("weak");
  assert.ok(mean(strong) > mean(weak) + 0.05, `mean p̂ strong ${mean(strong)} vs weak ${mean(weak)}`);
  let higher = 0;
  for (let i = 0; i < Q; i++) if (strong[i]! >= weak[i]!) higher++;
  assert.ok(higher >= 0.8 * Q, `only ${higher}/${Q} queries higher under the strong context`);
  // the strong context itself has the higher mean outcome
  assert.ok((b["strong_mean_outcome"] as number) > (b["weak_mean_outcome"] as number));
});

test("value model: padding rows do not change the output", async () => {
  const c = golden.cases.find((x) => x.name === "b1_c32_q8") ?? golden.cases[0]!;
  const base = await predict(feedsOf(c));
  const { B, C, Q } = c;
  // insert P garbage rows (mask 0) at pseudo-random positions in every batch row
  const P = 23;
  const C2 = C + P;
  const cf = new Float32Array(B * C2 * F);
  const co = new Float32Array(B * C2);
  const cm = new Float32Array(B * C2);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const src = feedsOf(c);
  for (let b = 0; b < B; b++) {
    const isPad = new Array<boolean>(C2).fill(false);
    let placed = 0;
    while (placed < P) {
      const j = Math.floor(rnd() * C2);
      if (!isPad[j]) {
        isPad[j] = true;
        placed++;
      }
    }
    let r = 0;
    for (let j = 0; j < C2; j++) {
      const dst = b * C2 + j;
      if (isPad[j]) {
        for (let k = 0; k < F; k++) cf[dst * F + k] = rnd() * 10 - 5;
        co[dst] = rnd();
        cm[dst] = 0;
      } else {
        const s = b * C + r++;
        for (let k = 0; k < F; k++) cf[dst * F + k] = src.cf[s * F + k]!;
        co[dst] = src.co[s]!;
        cm[dst] = src.cm[s]!;
      }
    }
  }
  const padded = await predict({ cf, co, cm, qf: src.qf, B, C: C2, Q });
  assertClose(padded, base, 1e-5, "padded vs unpadded");
});

test("value model: per-query predictions do not depend on batching or query grouping", async () => {
  const c = golden.cases.find((x) => x.name === "b3_c256_q4") ?? golden.cases[0]!;
  const all = await predict(feedsOf(c));
  const src = feedsOf(c);
  const { C, Q } = c;
  // batch row 1 alone, one query at a time
  for (let q = 0; q < Q; q++) {
    const y = await predict({
      cf: Array.from(src.cf).slice(C * F, 2 * C * F),
      co: Array.from(src.co).slice(C, 2 * C),
      cm: Array.from(src.cm).slice(C, 2 * C),
      qf: Array.from(src.qf).slice((Q + q) * F, (Q + q + 1) * F),
      B: 1, C, Q: 1,
    });
    assert.ok(Math.abs(y[0]! - all[Q + q]!) <= 1e-5, `query ${q}: ${y[0]} vs ${all[Q + q]}`);
  }
});

test("value model: features golden file is well formed", () => {
  const p = path.join(DIR, "features-golden.json");
  assert.ok(existsSync(p));
  const js = JSON.parse(readFileSync(p, "utf8")) as { n_features: number; cases: { prompt: string; features: number[] }[] };
  assert.equal(js.n_features, F);
  assert.ok(js.cases.length >= 50);
  for (const c of js.cases) {
    assert.equal(c.features.length, F, c.prompt);
    assert.equal(c.features.slice(0, 5).reduce((s, x) => s + x, 0), 1, `one-hot level of ${c.prompt}`);
  }
});
