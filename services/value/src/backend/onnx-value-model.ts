// The value model on onnxruntime-node: context rows (features, outcome, mask)
// and query features in, p̂ per query out; several predictions share one run,
// each padded to the batch's largest context and query count.
import * as ort from "onnxruntime-node";
import { openOnnxSession } from "../../../../shared/onnx/session";
import type { BatchRunner } from "../domain/coalescer";

export interface PredictionInput {
  /** C × F row-major. */
  contextFeatures: Float32Array;
  contextOutcomes: Float32Array;
  /** Q × F row-major. */
  queryFeatures: Float32Array;
}

export class OnnxValueModel implements BatchRunner<PredictionInput, Float32Array> {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly featureSize: number,
  ) {}

  static async load(file: string, featureSize: number, executionProvider: string, intraOpThreads?: number): Promise<OnnxValueModel> {
    const session = await openOnnxSession(file, executionProvider, intraOpThreads);
    for (const name of ["context_features", "context_outcomes", "context_mask", "query_features"]) {
      if (!session.inputNames.includes(name)) throw new Error(`${file} has no input ${name} (inputs: ${session.inputNames.join(", ")})`);
    }
    if (!session.outputNames.includes("pass_rate")) throw new Error(`${file} has no output pass_rate`);
    return new OnnxValueModel(session, featureSize);
  }

  async run(inputs: PredictionInput[]): Promise<Float32Array[]> {
    const F = this.featureSize;
    const B = inputs.length;
    // At least one (masked) row, so an empty context still has a shape.
    const C = Math.max(1, ...inputs.map((x) => x.contextOutcomes.length));
    const Q = Math.max(...inputs.map((x) => x.queryFeatures.length / F));
    const cf = new Float32Array(B * C * F);
    const co = new Float32Array(B * C);
    const cm = new Float32Array(B * C);
    const qf = new Float32Array(B * Q * F);
    inputs.forEach((x, b) => {
      cf.set(x.contextFeatures, b * C * F);
      co.set(x.contextOutcomes, b * C);
      cm.fill(1, b * C, b * C + x.contextOutcomes.length);
      qf.set(x.queryFeatures, b * Q * F);
    });
    const out = await this.session.run({
      context_features: new ort.Tensor("float32", cf, [B, C, F]),
      context_outcomes: new ort.Tensor("float32", co, [B, C]),
      context_mask: new ort.Tensor("float32", cm, [B, C]),
      query_features: new ort.Tensor("float32", qf, [B, Q, F]),
    });
    const p = out.pass_rate!.data as Float32Array;
    return inputs.map((x, b) => p.slice(b * Q, b * Q + x.queryFeatures.length / F));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
