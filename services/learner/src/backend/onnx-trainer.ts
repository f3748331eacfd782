// One policy-gradient step on onnxruntime-node: the ppo_train_step graph
// computes the clipped loss, its gradients and the AdamW update in one run.
import path from "node:path";
import * as ort from "onnxruntime-node";
import { openOnnxSession } from "../../../../shared/onnx/session";
import type { TrainBatch } from "../domain/train-batch";
import { AGGREGATION_MODE, type OptimizerSettings, type PolicyLossSettings, type StepOutcome, type TrainState } from "../domain/train-state";

export const TRAIN_STEP_GRAPH = "ppo_train_step.onnx";
export const REVAL_STEP_GRAPH = "reval_train_step.onnx";

const scalar = (x: number) => new ort.Tensor("float32", Float32Array.of(x), []);

export class OnnxTrainer {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly revalSession: ort.InferenceSession,
  ) {}

  static async load(modelDir: string, executionProvider: string, intraOpThreads?: number): Promise<OnnxTrainer> {
    const open = (file: string) => openOnnxSession(path.join(modelDir, file), executionProvider, intraOpThreads);
    const [ppo, reval] = await Promise.all([open(TRAIN_STEP_GRAPH), open(REVAL_STEP_GRAPH)]);
    return new OnnxTrainer(ppo, reval);
  }

  private optimizerFeeds(state: TrainState, optimizer: OptimizerSettings): Record<string, ort.Tensor> {
    const n = state.params.length;
    return {
      params: new ort.Tensor("float32", state.params, [n]),
      adam_m: new ort.Tensor("float32", state.adamM, [n]),
      adam_v: new ort.Tensor("float32", state.adamV, [n]),
      adam_step: scalar(state.adamStep),
      lr: scalar(optimizer.learningRate),
      beta1: scalar(optimizer.beta1),
      beta2: scalar(optimizer.beta2),
      eps: scalar(optimizer.eps),
      weight_decay: scalar(optimizer.weightDecay),
      max_grad_norm: scalar(optimizer.maxGradNorm),
    };
  }

  private static nextState(state: TrainState, out: ort.InferenceSession.ReturnType): TrainState {
    return {
      step: state.step + 1n,
      params: out.new_params!.data as Float32Array,
      adamM: out.new_adam_m!.data as Float32Array,
      adamV: out.new_adam_v!.data as Float32Array,
      adamStep: (out.new_adam_step!.data as Float32Array)[0]!,
    };
  }

  /** One ReVal step: the squared trajectory residual, its gradients and AdamW. */
  async revalStep(state: TrainState, batch: TrainBatch, beta: number, optimizer: OptimizerSettings): Promise<StepOutcome> {
    const shape = [batch.batch, batch.width];
    const out = await this.revalSession.run({
      ...this.optimizerFeeds(state, optimizer),
      input_ids: new ort.Tensor("int32", batch.inputIds, shape),
      position_ids: new ort.Tensor("int32", batch.positionIds, shape),
      attention_mask: new ort.Tensor("float32", batch.attentionMask, shape),
      response_mask: new ort.Tensor("float32", batch.responseMask, shape),
      ref_logprobs: new ort.Tensor("float32", batch.refLogprobs, shape),
      ref_values: new ort.Tensor("float32", batch.refValues, [batch.batch]),
      rewards: new ort.Tensor("float32", batch.rewards, [batch.batch]),
      beta: scalar(beta),
    });
    const value = (name: string) => (out[name]!.data as Float32Array)[0]!;
    return {
      state: OnnxTrainer.nextState(state, out),
      metrics: {
        loss: value("loss"),
        pgLoss: 0,
        klLoss: 0,
        clipFraction: 0,
        approxKl: 0,
        entropy: value("entropy"),
        gradNorm: value("grad_norm"),
        tokens: batch.tokens,
        residualMean: value("residual_mean"),
        residualAbsMean: value("residual_abs_mean"),
      },
    };
  }

  async step(state: TrainState, batch: TrainBatch, loss: PolicyLossSettings, optimizer: OptimizerSettings): Promise<StepOutcome> {
    const shape = [batch.batch, batch.width];
    const out = await this.session.run({
      ...this.optimizerFeeds(state, optimizer),
      input_ids: new ort.Tensor("int32", batch.inputIds, shape),
      position_ids: new ort.Tensor("int32", batch.positionIds, shape),
      attention_mask: new ort.Tensor("float32", batch.attentionMask, shape),
      response_mask: new ort.Tensor("float32", batch.responseMask, shape),
      old_logprobs: new ort.Tensor("float32", batch.oldLogprobs, shape),
      advantages: new ort.Tensor("float32", batch.advantages, shape),
      ref_logprobs: new ort.Tensor("float32", batch.refLogprobs, shape),
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
      state: OnnxTrainer.nextState(state, out),
      metrics: {
        loss: value("loss"),
        pgLoss: value("pg_loss"),
        klLoss: value("kl_loss"),
        clipFraction: value("pg_clipfrac"),
        approxKl: value("ppo_kl"),
        entropy: value("entropy"),
        gradNorm: value("grad_norm"),
        tokens: batch.tokens,
        residualMean: 0,
        residualAbsMean: 0,
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.session.release(), this.revalSession.release()]);
  }
}
