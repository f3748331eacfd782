// What a backend decodes: sequences with their own sampling settings and
// random stream, filled in place with tokens, log-probabilities and a finish reason.
import type { SamplingSettings } from "./sampling";

export type Finish = "stop" | "length" | "context";

export interface DecodeSequence {
  promptIds: number[];
  maxNewTokens: number;
  sampling: SamplingSettings;
  random: () => number;
  /** Filled by the backend. */
  tokens: number[];
  logprobs: number[];
  finish?: Finish;
}

export interface ScoredSequence {
  logprobs: number[];
  sumLogprob: number;
  firstValue: number;
}

export interface BackendInfo {
  modelId: string;
  numParameters: number;
  vocabSize: number;
  maxPositions: number;
  executionProvider: string;
}

/**
 * A policy engine behind the RolloutService RPCs. The ONNX backend decodes the
 * built-in policy; others (a Hugging Face ONNX model, an OpenAI-compatible
 * server such as vLLM or SGLang) can implement the same interface.
 */
export interface PolicyBackend {
  readonly info: BackendInfo;
  generate(params: Float32Array, sequences: DecodeSequence[]): Promise<void>;
  score(params: Float32Array, sequences: ReadonlyArray<{ promptIds: number[]; responseIds: number[] }>): Promise<ScoredSequence[]>;
  close(): Promise<void>;
}
