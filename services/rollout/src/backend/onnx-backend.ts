// The built-in policy on onnxruntime-node: batched prefill with left padding,
// then one decode step per token with the key/value cache passed back in. The
// weights are a graph input, so a new policy version is just a new tensor.
import path from "node:path";
import * as ort from "onnxruntime-node";
import { openOnnxSession } from "../../../../shared/onnx/session";
import type { BackendInfo, DecodeSequence, PolicyBackend, ScoredSequence } from "../domain/generation";
import { logSoftmaxAt, sampleToken } from "../domain/sampling";

export interface OnnxModelFiles {
  dir: string;
  prefill: string;
  decode: string;
  score: string;
}

export const BUILTIN_GRAPHS = { prefill: "policy_prefill.onnx", decode: "policy_decode.onnx", score: "policy_score.onnx" };

export interface OnnxBackendOptions {
  modelDir: string;
  modelId: string;
  numParameters: number;
  vocabSize: number;
  maxPositions: number;
  padId: number;
  eosId: number;
  /** "cpu" or "cuda". */
  executionProvider: string;
  intraOpThreads?: number;
}

export class OnnxPolicyBackend implements PolicyBackend {
  readonly info: BackendInfo;

  private constructor(
    private readonly options: OnnxBackendOptions,
    private readonly prefill: ort.InferenceSession,
    private readonly decode: ort.InferenceSession,
    private readonly scorer: ort.InferenceSession,
  ) {
    this.info = {
      modelId: options.modelId,
      numParameters: options.numParameters,
      vocabSize: options.vocabSize,
      maxPositions: options.maxPositions,
      executionProvider: options.executionProvider,
    };
  }

  static async load(options: OnnxBackendOptions): Promise<OnnxPolicyBackend> {
    const open = (file: string) => openOnnxSession(path.join(options.modelDir, file), options.executionProvider, options.intraOpThreads);
    const [prefill, decode, scorer] = await Promise.all([open(BUILTIN_GRAPHS.prefill), open(BUILTIN_GRAPHS.decode), open(BUILTIN_GRAPHS.score)]);
    return new OnnxPolicyBackend(options, prefill, decode, scorer);
  }

  async generate(params: Float32Array, sequences: DecodeSequence[]): Promise<void> {
    const { vocabSize: V, maxPositions, padId, eosId } = this.options;
    const B = sequences.length;
    if (B === 0) return;
    const P = Math.max(...sequences.map((s) => s.promptIds.length));
    const weights = new ort.Tensor("float32", params, [params.length]);

    // Left padding puts every prompt's last token at column P - 1.
    const ids = new Int32Array(B * P).fill(padId);
    const pos = new Int32Array(B * P);
    let mask = new Float32Array(B * P);
    sequences.forEach((s, i) => {
      const offset = P - s.promptIds.length;
      s.promptIds.forEach((id, j) => {
        ids[i * P + offset + j] = id;
        pos[i * P + offset + j] = j;
        mask[i * P + offset + j] = 1;
      });
    });
    let out = await this.prefill.run({
      params: weights,
      input_ids: new ort.Tensor("int32", ids, [B, P]),
      position_ids: new ort.Tensor("int32", pos, [B, P]),
      attention_mask: new ort.Tensor("float32", mask, [B, P]),
    });
    let logits = out.logits!.data as Float32Array;
    let rowStride = P * V;
    let lastColumn = (P - 1) * V;
    let width = P;

    const pick = (s: DecodeSequence, base: number) => {
      const token = sampleToken(logits, base, V, s.sampling, s.random());
      s.tokens.push(token);
      s.logprobs.push(logSoftmaxAt(logits, base, V, token));
      if (token === eosId) s.finish = "stop";
      else if (s.tokens.length >= s.maxNewTokens) s.finish = "length";
      else if (s.promptIds.length + s.tokens.length >= maxPositions) s.finish = "context";
    };
    for (let i = 0; i < B; i++) {
      const s = sequences[i]!;
      if (s.maxNewTokens === 0) s.finish = "length";
      else if (s.promptIds.length >= maxPositions) s.finish = "context";
      else pick(s, i * rowStride + lastColumn);
    }

    while (sequences.some((s) => !s.finish)) {
      const stepIds = new Int32Array(B).fill(padId);
      const stepPos = new Int32Array(B);
      const nextMask = new Float32Array(B * (width + 1));
      for (let i = 0; i < B; i++) {
        const s = sequences[i]!;
        nextMask.set(mask.subarray(i * width, (i + 1) * width), i * (width + 1));
        if (!s.finish) {
          stepIds[i] = s.tokens[s.tokens.length - 1]!;
          stepPos[i] = s.promptIds.length + s.tokens.length - 1;
          nextMask[i * (width + 1) + width] = 1;
        }
      }
      mask = nextMask;
      width += 1;
      out = await this.decode.run({
        params: weights,
        input_ids: new ort.Tensor("int32", stepIds, [B, 1]),
        position_ids: new ort.Tensor("int32", stepPos, [B, 1]),
        attention_mask: new ort.Tensor("float32", mask, [B, width]),
        past_keys: out.present_keys!,
        past_values: out.present_values!,
      });
      logits = out.logits!.data as Float32Array;
      rowStride = V;
      lastColumn = 0;
      for (let i = 0; i < B; i++) if (!sequences[i]!.finish) pick(sequences[i]!, i * rowStride + lastColumn);
    }
  }

  async score(params: Float32Array, sequences: ReadonlyArray<{ promptIds: number[]; responseIds: number[] }>): Promise<ScoredSequence[]> {
    const { padId } = this.options;
    const B = sequences.length;
    if (B === 0) return [];
    const T = Math.max(...sequences.map((s) => s.promptIds.length + s.responseIds.length));
    const ids = new Int32Array(B * T).fill(padId);
    const pos = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    sequences.forEach((s, i) => {
      [...s.promptIds, ...s.responseIds].forEach((id, j) => {
        ids[i * T + j] = id;
        pos[i * T + j] = j;
        mask[i * T + j] = 1;
      });
    });
    const out = await this.scorer.run({
      params: new ort.Tensor("float32", params, [params.length]),
      input_ids: new ort.Tensor("int32", ids, [B, T]),
      position_ids: new ort.Tensor("int32", pos, [B, T]),
      attention_mask: new ort.Tensor("float32", mask, [B, T]),
    });
    // Column t holds the statistics of the distribution that predicted token t.
    const logprobs = out.token_logprobs!.data as Float32Array;
    const lse = out.token_logsumexp!.data as Float32Array;
    return sequences.map((s, i) => {
      const start = i * T + s.promptIds.length;
      const lp = Array.from(logprobs.subarray(start, start + s.responseIds.length));
      return { logprobs: lp, sumLogprob: lp.reduce((a, b) => a + b, 0), firstValue: lse[start]! };
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.prefill.release(), this.decode.release(), this.scorer.release()]);
  }
}
