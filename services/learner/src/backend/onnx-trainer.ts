// One policy-gradient step on onnxruntime-node: the ppo_train_step graph
// computes the clipped loss, its gradients and the AdamW update in one run.
import path from "node:path";
import * as ort from "onnxruntime-node";
import type { TrainBatch } from "../domain/train-batch";
import { AGGREGATION_MODE, type OptimizerSettings, type PolicyLossSettings, type StepOutcome, type TrainState } from "../domain/train-state";

export const TRAIN_STEP_GRAPH = "ppo_train_step.onnx";

const scalar = (x: number) => new ort.Tensor("float32", Float32Array.of(x), []);

export class OnnxTrainer {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(modelDir: string, executionProvider: string, intraOpThreads?: number): Promise<OnnxTrainer> {
    const session = await ort.InferenceSession.create(path.join(modelDir, TRAIN_STEP_GRAPH), {
      executionProviders: [executionProvider],
      graphOptimizationLevel: "all",
      ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
    });
    return new OnnxTrainer(session);
  }

  async step(state: TrainState, batch: TrainBatch, loss: PolicyLossSettings, optimizer: OptimizerSettings): Promise<StepOutcome> {
    const n = state.params.length;
    const shape = [batch.batch, batch.width];
    const out = await this.session.run({
      params: new ort.Tensor("float32", state.params, [n]),
      adam_m: new ort.Tensor("float32", state.adamM, [n]),
      adam_v: new ort.Tensor("float32", state.adamV, [n]),
      adam_step: scalar(state.adamStep),
      input_ids: new ort.Tensor("int32", batch.inputIds, shape),
      position_ids: new ort.Tensor("int32", batch.positionIds, shape),
      attention_mask: new ort.Tensor("float32", batch.attentionMask, shape),
      response_mask: new ort.Tensor("float32", batch.responseMask, shape),
      old_logprobs: new ort.Tensor("float32", batch.oldLogprobs, shape),
      advantages: new ort.Tensor("float32", batch.advantages, shape),
      ref_logprobs: new ort.Tensor("float32", batch.refLogprobs, shape),
      lr: scalar(optimizer.learningRate),
      beta1: scalar(optimizer.beta1),
      beta2: scalar(optimizer.beta2),
      eps: scalar(optimizer.eps),
      weight_decay: scalar(optimizer.weightDecay),
      max_grad_norm: scalar(optimizer.maxGradNorm),
      clip_ratio_low: scalar(loss.clipRatioLow),
      clip_ratio_high: scalar(loss.clipRatioHigh),
      clip_ratio_c: scalar(loss.dualClip),
      kl_coef: scalar(loss.klCoef),
      entropy_coef: scalar(0),
      loss_agg_mode: new ort.Tensor("int32", Int32Array.of(AGGREGATION_MODE[loss.aggregation]), []),
      loss_scale_factor: scalar(loss.lossScaleFactor),
    });
    const value = (name: string) => (out[name]!.data as Float32Array)[0]!;
    return {
      state: {
        step: state.step + 1n,
        params: out.new_params!.data as Float32Array,
        adamM: out.new_adam_m!.data as Float32Array,
        adamV: out.new_adam_v!.data as Float32Array,
        adamStep: value("new_adam_step"),
      },
      metrics: {
        loss: value("loss"),
        pgLoss: value("pg_loss"),
        klLoss: value("kl_loss"),
        clipFraction: value("pg_clipfrac"),
        approxKl: value("ppo_kl"),
        entropy: value("entropy"),
        gradNorm: value("grad_norm"),
        tokens: batch.tokens,
      },
    };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
