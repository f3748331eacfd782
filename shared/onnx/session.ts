// One way to open an ONNX Runtime session in every service: the configured
// execution provider ("cpu" or "cuda"), full graph optimisation, and an
// optional intra-op thread count (undefined lets onnxruntime choose).
import * as ort from "onnxruntime-node";

export function openOnnxSession(file: string, executionProvider: string, intraOpThreads?: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    executionProviders: [executionProvider],
    graphOptimizationLevel: "all",
    ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
  });
}
