// Test helpers for the policy graphs: where the artefacts are, tensors, sessions.
// The task, tokenizer and weights loader live in shared/ and services/rollout.
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { repoRoot } from "../../shared/paths";

export const ARTIFACTS = process.env.VALOR_MODELS_ARTIFACTS ?? path.join(repoRoot(), "models", "artifacts");

export const f32 = (data: Float32Array | number[], dims: number[]) =>
  new ort.Tensor("float32", data instanceof Float32Array ? data : Float32Array.from(data), dims);
export const i32 = (data: Int32Array | number[], dims: number[]) =>
  new ort.Tensor("int32", data instanceof Int32Array ? data : Int32Array.from(data), dims);
export const scalarF32 = (x: number) => new ort.Tensor("float32", Float32Array.from([x]), []);
export const scalarI32 = (x: number) => new ort.Tensor("int32", Int32Array.from([x]), []);

export function openSession(name: string, dir = ARTIFACTS): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path.join(dir, `${name}.onnx`), {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
  });
}
