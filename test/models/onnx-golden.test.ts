// Replays the models/ golden files through onnxruntime-node and checks behaviour of
// the policy graphs (prefill/decode/score/ppo_train_step/reval_train_step).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { checkAnswer, generateProblems as generate } from "../../shared/models/arith-task";
import { loadBuiltinPolicy } from "../../shared/models/builtin-policy";
import { fnv1a32, mulberry32 } from "../../shared/random";
import { OnnxPolicyBackend } from "../../services/rollout/src/backend/onnx-backend";
import type { DecodeSequence } from "../../services/rollout/src/domain/generation";
import { CharTokenizer } from "../../services/rollout/src/domain/tokenizer";
import { ARTIFACTS, f32, i32, openSession, scalarF32, scalarI32 } from "./policy-io";

interface Arr {
  dtype: "float32" | "int32";
  shape: number[];
  data: number[];
}
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const golden = (name: string): Json =>
  JSON.parse(readFileSync(path.join(ARTIFACTS, "golden", `${name}.json`), "utf8")) as Json;
const tensor = (a: Arr) => (a.dtype === "int32" ? i32(a.data, a.shape) : f32(a.data, a.shape));
const data = (t: ort.Tensor | undefined) => {
  assert.ok(t, "missing output");
  return Array.from(t.data as Float32Array);
};
const scalar = (t: ort.Tensor | undefined) => data(t)[0]!;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) - rtol * Math.abs(expected[i]!);
    if (err > worst) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= atol, `${what}: index ${at} actual ${actual[at]} expected ${expected[at]} (excess ${worst})`);
}

const { manifest, params, vocab } = loadBuiltinPolicy(ARTIFACTS);
const N = manifest.n_params;
const tok = new CharTokenizer(vocab);
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const session = (name: string) => {
  if (!sessions.has(name)) sessions.set(name, openSession(name));
  return sessions.get(name)!;
};

const PPO_SCALARS = ["loss", "pg_loss", "kl_loss", "pg_clipfrac", "pg_clipfrac_lower", "ppo_kl", "entropy", "grad_norm"];

function ppoFeeds(
  batch: Json,
  hp: Record<string, number>,
  state?: { params: Float32Array; m: Float32Array; v: Float32Array; step: number },
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    params: f32(state?.params ?? params, [N]),
    adam_m: f32(state?.m ?? new Float32Array(N), [N]),
    adam_v: f32(state?.v ?? new Float32Array(N), [N]),
    adam_step: scalarF32(state?.step ?? 0),
  };
  for (const k of ["input_ids", "position_ids", "attention_mask", "response_mask", "old_logprobs", "advantages", "ref_logprobs"])
    feeds[k] = tensor(batch[k] as Arr);
  for (const [k, v] of Object.entries(hp)) feeds[k] = k === "loss_agg_mode" ? scalarI32(v) : scalarF32(v);
  return feeds;
}

const HP = (over: Partial<Record<string, number>> = {}): Record<string, number> => ({
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weight_decay: 0.01,
  max_grad_norm: 1.0,
  clip_ratio_low: 0.2,
  clip_ratio_high: 0.2,
  clip_ratio_c: 3.0,
  kl_coef: 0,
  entropy_coef: 0,
  loss_agg_mode: 0,
  loss_scale_factor: 8,
  ...over,
} as Record<string, number>);

/** verl compute_policy_loss_vanilla + agg_loss, written independently. */
function handPgLoss(lp: number[], batch: Json, hp: Record<string, number>): number {
  const [B, T] = (batch.response_mask as Arr).shape as [number, number];
  const m = (batch.response_mask as Arr).data;
  const A = (batch.advantages as Arr).data;
  const old = (batch.old_logprobs as Arr).data;
  const L = new Array<number>(B * T).fill(0);
  for (let i = 0; i < B * T; i++) {
    const ratio = Math.exp(Math.min(20, Math.max(-20, lp[i]! - old[i]!)));
    const a = A[i]!;
    const clipped = Math.min(Math.max(ratio, 1 - hp.clip_ratio_low!), 1 + hp.clip_ratio_high!);
    const l = Math.max(-a * ratio, -a * clipped);
    L[i] = a < 0 ? Math.min(-a * hp.clip_ratio_c!, l) : l;
  }
  let tot = 0;
  let ntok = 0;
  const seqSum: number[] = [];
  const seqLen: number[] = [];
  for (let b = 0; b < B; b++) {
    let s = 0;
    let n = 0;
    for (let t = 0; t < T; t++) {
      s += L[b * T + t]! * m[b * T + t]!;
      n += m[b * T + t]!;
    }
    seqSum.push(s);
    seqLen.push(n);
    tot += s;
    ntok += n;
  }
  switch (hp.loss_agg_mode) {
    case 0:
      return tot / ntok;
    case 1:
      return seqSum.reduce((acc, s, b) => acc + s / seqLen[b]!, 0) / B;
    case 2:
      return tot / hp.loss_scale_factor!;
    default:
      return tot / B;
  }
}

test("task generator, split hash and tokenizer match Python", () => {
  const g = golden("task");
  const rng = mulberry32(42);
  assertClose(Array.from({ length: 8 }, rng), g.mulberry32_seed42_first8, 0, 0, "mulberry32");
  for (const [s, h] of Object.entries(g.fnv1a32 as Record<string, number>)) assert.equal(fnv1a32(s), h);
  assert.deepEqual(generate(42, 40, "any"), g.generate_seed42_any_40);
  assert.deepEqual(generate(7, 20, "test"), g.generate_seed7_test_20);
  assert.deepEqual(tok.encodePrompt(g.encode.prompt, "prompt"), g.encode.ids);
  assert.deepEqual(tok.encodeResponse(g.encode.response, "response"), g.encode.response_ids);
  assert.equal(tok.decode(g.encode.response_ids), g.encode.response);
  // train/test never overlap: split is a function of the prompt text
  const test_ = new Set(generate(1, 300, "test").map((p) => p.prompt));
  for (const p of generate(2, 3000, "train")) assert.ok(!test_.has(p.prompt));
  assert.ok(checkAnswer("-51", -51) && !checkAnswer("-051", -51) && !checkAnswer("51", -51) && !checkAnswer("", 0));
});

test("weights manifest is consistent", () => {
  const last = manifest.tensors[manifest.tensors.length - 1]!;
  assert.equal(last.offset + last.shape.reduce((a, b) => a * b, 1), N);
  assert.ok(manifest.tensors.every((t) => t.decay === t.offset < manifest.n_decay));
  assert.ok(params.every(Number.isFinite));
});

test("prefill and decode reproduce golden logits; decode == full prefill", async () => {
  const g = golden("forward");
  const pre = await session("policy_prefill");
  const dec = await session("policy_decode");
  const p = f32(params, [N]);
  const out = await pre.run({
    params: p,
    input_ids: tensor(g.prefill.input_ids),
    position_ids: tensor(g.prefill.position_ids),
    attention_mask: tensor(g.prefill.attention_mask),
  });
  assertClose(data(out.logits), g.prefill.logits.data, 1e-4, 1e-4, "prefill logits");
  const d = await dec.run({
    params: p,
    input_ids: tensor(g.decode.input_ids),
    position_ids: tensor(g.decode.position_ids),
    attention_mask: tensor(g.decode.attention_mask),
    past_keys: out.present_keys!,
    past_values: out.present_values!,
  });
  assertClose(data(d.logits), g.decode.logits.data, 1e-4, 1e-4, "decode logits");
  // same thing via one prefill over the extended sequence
  const [B, T] = g.prefill.input_ids.shape as [number, number];
  const ext = (a: Arr, extra: number[]) => {
    const res: number[] = [];
    for (let b = 0; b < B; b++) res.push(...a.data.slice(b * T, (b + 1) * T), extra[b]!);
    return res;
  };
  const full = await pre.run({
    params: p,
    input_ids: i32(ext(g.prefill.input_ids, g.decode.input_ids.data), [B, T + 1]),
    position_ids: i32(ext(g.prefill.position_ids, g.decode.position_ids.data), [B, T + 1]),
    attention_mask: f32(g.decode.attention_mask.data, [B, T + 1]),
  });
  const fl = data(full.logits);
  const V = vocab.tokens.length;
  const last: number[] = [];
  for (let b = 0; b < B; b++) last.push(...fl.slice((b * (T + 1) + T) * V, (b * (T + 1) + T + 1) * V));
  assertClose(data(d.logits), last, 1e-4, 1e-4, "decode vs full prefill");
});

test("greedy generation (prefill + decode loop) matches Python's", async () => {
  const g = golden("forward");
  const cases = g.greedy as { prompt: string; answer: number; generated: string }[];
  // The rollout service's own backend, greedy.
  const backend = await OnnxPolicyBackend.load({
    modelDir: ARTIFACTS,
    modelId: "golden",
    numParameters: N,
    vocabSize: vocab.tokens.length,
    maxPositions: manifest.config.max_pos,
    padId: vocab.pad_id,
    eosId: vocab.eos_id,
    executionProvider: "cpu",
    intraOpThreads: 1,
  });
  const sequences: DecodeSequence[] = cases.map((c) => ({
    promptIds: tok.encodePrompt(c.prompt, "prompt"),
    maxNewTokens: manifest.config.max_pos,
    sampling: { temperature: 0, topP: 1 },
    random: () => 0,
    tokens: [],
    logprobs: [],
  }));
  await backend.generate(params, sequences);
  await backend.close();
  const gen = sequences.map((s) => tok.decode(s.tokens));
  let same = 0;
  cases.forEach((c, i) => (same += gen[i] === c.generated ? 1 : 0));
  assert.ok(same >= cases.length - 1, `only ${same}/${cases.length} generations match`);
  const correct = cases.filter((c, i) => checkAnswer(gen[i]!, c.answer)).length;
  assert.ok(correct > 0 && correct < cases.length, `pass rate should be in (0,1): ${correct}/${cases.length}`);
});

test("score graph reproduces golden per-token statistics", async () => {
  const g = golden("score");
  const out = await (await session("policy_score")).run({
    params: f32(params, [N]),
    input_ids: tensor(g.batch.input_ids),
    position_ids: tensor(g.batch.position_ids),
    attention_mask: tensor(g.batch.attention_mask),
  });
  assertClose(data(out.token_logprobs), g.token_logprobs.data, 1e-4, 1e-4, "token_logprobs");
  assertClose(data(out.token_entropy), g.token_entropy.data, 1e-4, 1e-4, "token_entropy");
  assertClose(data(out.token_logsumexp), g.token_logsumexp.data, 1e-4, 1e-4, "token_logsumexp");
});

test("ppo_train_step reproduces goldens for every aggregation mode / clip setting", async () => {
  const g = golden("ppo_train_step");
  const s = await session("ppo_train_step");
  const idx = g.sample_indices as number[];
  const losses = new Map<string, number>();
  for (const c of g.cases as Json[]) {
    const out = await s.run(ppoFeeds(g.batch, c.hp));
    for (const k of PPO_SCALARS) assertClose([scalar(out[k])], [c.scalars[k]], 1e-5, 1e-3, `${c.name}.${k}`);
    assert.equal(scalar(out.new_adam_step), 1);
    assertClose(data(out.logprobs), c.logprobs.data, 1e-4, 1e-4, `${c.name}.logprobs`);
    const np_ = out.new_params!.data as Float32Array;
    // first Adam step moves each weight by ~lr; allow 5% of lr
    assertClose(idx.map((i) => np_[i]!), c.new_params_sample, 0.05 * c.hp.lr, 0, `${c.name}.new_params`);
    const m = out.new_adam_m!.data as Float32Array;
    assertClose(idx.map((i) => m[i]!), c.new_adam_m_sample, 1e-6, 1e-3, `${c.name}.new_adam_m`);
    losses.set(c.name, scalar(out.loss));
    if (c.hp.kl_coef === 0 && c.hp.entropy_coef === 0) {
      const hand = handPgLoss(data(out.logprobs), g.batch, c.hp);
      assertClose([scalar(out.loss)], [hand], 1e-5, 1e-4, `${c.name} vs hand-computed loss`);
    }
    if (c.second_step) {
      const st = {
        params: out.new_params!.data as Float32Array,
        m: out.new_adam_m!.data as Float32Array,
        v: out.new_adam_v!.data as Float32Array,
        step: scalar(out.new_adam_step),
      };
      const out2 = await s.run(ppoFeeds(g.batch, c.hp, st));
      for (const k of ["loss", "grad_norm", "new_adam_step", "ppo_kl"])
        assertClose([scalar(out2[k])], [c.second_step.scalars[k]], 1e-5, 1e-3, `${c.name}.step2.${k}`);
      const p2 = out2.new_params!.data as Float32Array;
      assertClose(idx.map((i) => p2[i]!), c.second_step.new_params_sample, 0.05 * c.hp.lr, 0, "step2 params");
    }
  }
  // different modes / clip ranges give different losses
  const vals = [...losses.values()];
  assert.equal(new Set(vals.map((v) => v.toFixed(6))).size, vals.length, `losses not distinct: ${vals}`);
});

test("clip range: eps_high only matters above 1+eps; loss equals the hand-computed value", async () => {
  const g = golden("ppo_train_step");
  const s = await session("ppo_train_step");
  const grpo = await s.run(ppoFeeds(g.batch, HP({ clip_ratio_high: 0.2 })));
  const dapo = await s.run(ppoFeeds(g.batch, HP({ clip_ratio_high: 0.28 })));
  const lp = data(grpo.logprobs);
  const lg = scalar(grpo.loss);
  const ld = scalar(dapo.loss);
  assertClose([lg], [handPgLoss(lp, g.batch, HP({ clip_ratio_high: 0.2 }))], 1e-5, 1e-4, "grpo hand");
  assertClose([ld], [handPgLoss(lp, g.batch, HP({ clip_ratio_high: 0.28 }))], 1e-5, 1e-4, "dapo hand");
  assert.notEqual(lg.toFixed(6), ld.toFixed(6));
  // clip fraction shrinks when the upper range widens
  assert.ok(scalar(dapo.pg_clipfrac) <= scalar(grpo.pg_clipfrac));
  // seq-mean-token-sum-norm scales exactly with 1 / loss_scale_factor
  const n8 = scalar((await s.run(ppoFeeds(g.batch, HP({ loss_agg_mode: 2, loss_scale_factor: 8 })))).loss);
  const n16 = scalar((await s.run(ppoFeeds(g.batch, HP({ loss_agg_mode: 2, loss_scale_factor: 16 })))).loss);
  assertClose([n16 * 2], [n8], 1e-6, 1e-5, "sum-norm scaling");
});

async function responseLogprob(p: Float32Array, batch: Json): Promise<number[]> {
  const out = await (await session("policy_score")).run({
    params: f32(p, [N]),
    input_ids: tensor(batch.input_ids),
    position_ids: tensor(batch.position_ids),
    attention_mask: tensor(batch.attention_mask),
  });
  const lp = data(out.token_logprobs);
  const m = (batch.response_mask as Arr).data;
  const [B, T] = (batch.response_mask as Arr).shape as [number, number];
  return Array.from({ length: B }, (_, b) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += lp[b * T + t]! * m[b * T + t]!;
    return s;
  });
}

function sliceRows(batch: Json, b: number): Json {
  const out: Json = {};
  for (const k of ["input_ids", "position_ids", "attention_mask", "response_mask", "old_logprobs", "advantages", "ref_logprobs"]) {
    const a = batch[k] as Arr;
    const T = a.shape[1]!;
    out[k] = { dtype: a.dtype, shape: [1, T], data: a.data.slice(b * T, (b + 1) * T) } as Arr;
  }
  return out;
}

async function onPolicyStep(batch: Json, sign: number): Promise<{ before: number[]; after: number[]; out: Record<string, ort.Tensor> }> {
  const sc = await (await session("policy_score")).run({
    params: f32(params, [N]),
    input_ids: tensor(batch.input_ids),
    position_ids: tensor(batch.position_ids),
    attention_mask: tensor(batch.attention_mask),
  });
  const mask = batch.response_mask as Arr;
  const b2: Json = {
    ...batch,
    old_logprobs: { dtype: "float32", shape: mask.shape, data: data(sc.token_logprobs) } as Arr, // on-policy
    advantages: { ...mask, data: mask.data.map((x) => sign * x) } as Arr,
  };
  const before = await responseLogprob(params, batch);
  const out = await (await session("ppo_train_step")).run(ppoFeeds(b2, HP({ lr: 1e-5 })));
  const after = await responseLogprob(out.new_params!.data as Float32Array, batch);
  return { before, after, out };
}

test("one step with A>0 raises, with A<0 lowers the responses' log-probability", async () => {
  const g = golden("ppo_train_step");
  const B = (g.batch.response_mask as Arr).shape[0]!;
  for (const sign of [1, -1]) {
    // whole batch: total response log-probability moves in the direction of A
    const all = await onPolicyStep(g.batch, sign);
    assertClose([scalar(all.out.ppo_kl)], [0], 1e-6, 0, "on-policy ppo_kl");
    assertClose([scalar(all.out.pg_clipfrac)], [0], 0, 0, "on-policy clipfrac");
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(sign * (sum(all.after) - sum(all.before)) > 0, `batch sign ${sign}: ${all.before} -> ${all.after}`);
    // each sequence on its own: its log-probability moves in the direction of A
    for (let b = 0; b < B; b++) {
      const one = await onPolicyStep(sliceRows(g.batch, b), sign);
      assert.ok(sign * (one.after[0]! - one.before[0]!) > 0, `sign ${sign} seq ${b}: ${one.before[0]} -> ${one.after[0]}`);
    }
  }
});

test("reval_train_step reproduces golden and the hand-computed residual", async () => {
  const g = golden("reval_train_step");
  const feeds: Record<string, ort.Tensor> = {
    params: f32(params, [N]),
    adam_m: f32(new Float32Array(N), [N]),
    adam_v: f32(new Float32Array(N), [N]),
    adam_step: scalarF32(0),
    ref_values: tensor(g.ref_values),
    rewards: tensor(g.rewards),
  };
  for (const k of ["input_ids", "position_ids", "attention_mask", "response_mask", "ref_logprobs"]) feeds[k] = tensor(g.batch[k]);
  for (const [k, v] of Object.entries(g.hp as Record<string, number>)) feeds[k] = scalarF32(v);
  const out = await (await session("reval_train_step")).run(feeds);
  for (const k of ["loss", "residual_mean", "residual_abs_mean", "entropy", "grad_norm"])
    assertClose([scalar(out[k])], [g.scalars[k]], 1e-5, 1e-3, `reval.${k}`);
  assertClose(data(out.v_s1), g.v_s1.data, 1e-4, 1e-4, "v_s1");
  const p = out.new_params!.data as Float32Array;
  assertClose((g.sample_indices as number[]).map((i) => p[i]!), g.new_params_sample, 0.05 * g.hp.lr, 0, "reval params");
  // loss = mean(resid^2) with resid from the graph's own per-sequence outputs
  const sumLp = data(out.sum_logprobs);
  const v1 = data(out.v_s1);
  const m = (g.batch.response_mask as Arr).data;
  const ref = (g.batch.ref_logprobs as Arr).data;
  const [B, T] = (g.batch.response_mask as Arr).shape as [number, number];
  let acc = 0;
  for (let b = 0; b < B; b++) {
    let sref = 0;
    for (let t = 0; t < T; t++) sref += ref[b * T + t]! * m[b * T + t]!;
    const r = v1[b]! - g.ref_values.data[b] + sumLp[b]! - g.rewards.data[b] / g.hp.beta - sref;
    acc += r * r;
  }
  assertClose([scalar(out.loss)], [acc / B], 1e-5, 1e-4, "reval hand loss");
});
