// RolloutService handlers: validate, call the domain, convert the result.
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../../../../shared/errors";
import {
  FinishReason,
  type GenerateResponse,
  type RolloutServiceService,
  type Sample,
  type UpdateWeightsRequest,
  type UpdateWeightsResponse,
} from "../../../../shared/gen/valor/rollout/v1/rollout.pb";
import type { CallContext, UnaryHandlers } from "../../../../shared/grpc/handlers";
import { requireCountAtMost, requireId, requireInRange, requireNonEmpty } from "../../../../shared/validation";
import type { DynamicBatcher } from "../domain/batcher";
import type { DecodeSequence, Finish, PolicyBackend } from "../domain/generation";
import type { PolicyStore } from "../domain/policy-store";
import { mulberry32 } from "../../../../shared/random";
import { seedFor } from "../domain/sampling";
import type { CharTokenizer } from "../domain/tokenizer";

export interface RolloutDeps {
  backend: PolicyBackend;
  store: PolicyStore;
  batcher: DynamicBatcher;
  tokenizer: CharTokenizer;
  limits: { maxSequencesPerRequest: number };
}

const finishToProto: Record<Finish, FinishReason> = {
  stop: FinishReason.FINISH_REASON_STOP,
  length: FinishReason.FINISH_REASON_LENGTH,
  context: FinishReason.FINISH_REASON_CONTEXT,
};

type RolloutUnary = Omit<typeof RolloutServiceService, "updateWeights">;

export function createRolloutHandlers(deps: RolloutDeps): UnaryHandlers<RolloutUnary> & {
  updateWeights: (requests: AsyncIterable<UpdateWeightsRequest>, ctx: CallContext) => Promise<UpdateWeightsResponse>;
} {
  const { backend, store, batcher, tokenizer, limits } = deps;
  const { maxPositions, vocabSize } = backend.info;

  function checkTokens(ids: readonly number[], fieldPath: string): void {
    ids.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new InvalidArgumentError(`${fieldPath}[${j}]`, `token id ${id} is outside the vocabulary [0, ${vocabSize})`);
      }
    });
  }

  return {
    async generate(request): Promise<GenerateResponse> {
      requireNonEmpty(request.prompts.length, "prompts", "prompt");
      const n = request.samplesPerPrompt;
      if (n < 1) throw new InvalidArgumentError("samples_per_prompt", "must be at least 1");
      requireCountAtMost(request.prompts.length * n, limits.maxSequencesPerRequest, "samples_per_prompt", "ROLLOUT_MAX_SEQUENCES_PER_REQUEST, counting prompts × samples");
      const s = request.sampling;
      const temperature = s?.temperature === undefined ? 1 : requireInRange(s.temperature, 0, 100, "sampling.temperature");
      const topP = s?.topP === undefined ? 1 : requireInRange(s.topP, 1e-6, 1, "sampling.top_p");
      const maxNewTokens = s?.maxNewTokens ?? 0;
      if (maxNewTokens < 1) throw new InvalidArgumentError("sampling.max_new_tokens", "must be at least 1");
      const seed = s?.seed ?? 0n;

      const prompts = request.prompts.map((p, i) => {
        requireId(p.promptId, `prompts[${i}].prompt_id`);
        const ids = tokenizer.encodePrompt(p.text, `prompts[${i}].text`);
        if (ids.length >= maxPositions) {
          throw new InvalidArgumentError(`prompts[${i}].text`, `is ${ids.length} tokens with <bos>; the model's context holds ${maxPositions}`);
        }
        return { promptId: p.promptId, ids };
      });
      const sequences: DecodeSequence[] = [];
      prompts.forEach((p, i) => {
        for (let j = 0; j < n; j++) {
          sequences.push({
            promptIds: p.ids,
            maxNewTokens,
            sampling: { temperature, topP },
            // Each sample's stream depends only on (seed, prompt index, sample index), not on its batch.
            random: mulberry32(seedFor(seed, i, j)),
            tokens: [],
            logprobs: [],
          });
        }
      });
      const policy = await batcher.submit(sequences);
      let generated = 0;
      const samples = sequences.map((seq, k): Sample => {
        generated += seq.tokens.length;
        const prompt = prompts[Math.floor(k / n)]!;
        return {
          promptId: prompt.promptId,
          sampleIndex: k % n,
          promptTokenIds: prompt.ids,
          responseTokenIds: seq.tokens,
          text: tokenizer.decode(seq.tokens),
          logprobs: seq.logprobs,
          finishReason: finishToProto[seq.finish!],
          policyVersion: policy.version,
        };
      });
      return { samples, policyVersion: policy.version, generatedTokens: generated };
    },

    async score(request) {
      requireNonEmpty(request.sequences.length, "sequences", "sequence");
      requireCountAtMost(request.sequences.length, limits.maxSequencesPerRequest, "sequences", "ROLLOUT_MAX_SEQUENCES_PER_REQUEST");
      request.sequences.forEach((s, i) => {
        requireNonEmpty(s.promptTokenIds.length, `sequences[${i}].prompt_token_ids`, "token");
        requireNonEmpty(s.responseTokenIds.length, `sequences[${i}].response_token_ids`, "token");
        checkTokens(s.promptTokenIds, `sequences[${i}].prompt_token_ids`);
        checkTokens(s.responseTokenIds, `sequences[${i}].response_token_ids`);
        const length = s.promptTokenIds.length + s.responseTokenIds.length;
        if (length > maxPositions) {
          throw new InvalidArgumentError(`sequences[${i}]`, `is ${length} tokens; the model's context holds ${maxPositions}`);
        }
      });
      const policy = store.resolve(request.policyLabel);
      const scores = await backend.score(
        policy.params,
        request.sequences.map((s) => ({ promptIds: s.promptTokenIds, responseIds: s.responseTokenIds })),
      );
      return { scores, policyVersion: policy.version };
    },

    async updateWeights(requests) {
      let header: { policyVersion: bigint; numValues: bigint; sha256: string } | undefined;
      let bytes: Buffer | undefined;
      let received = 0;
      for await (const message of requests) {
        const part = message.part;
        if (!header) {
          if (part?.$case !== "header") throw new InvalidArgumentError("part", "the first message must be a header");
          header = part.value;
          store.checkUpdate(header.policyVersion, header.numValues, "header");
          if (!/^[0-9a-f]{64}$/.test(header.sha256)) throw new InvalidArgumentError("header.sha256", "must be 64 lowercase hex digits");
          bytes = Buffer.alloc(Number(header.numValues) * 4);
          continue;
        }
        if (part?.$case !== "chunk") throw new InvalidArgumentError("part", "only chunks may follow the header");
        if (received + part.value.length > bytes!.length) {
          throw new InvalidArgumentError("chunk", `more bytes than header.num_values × 4 = ${bytes!.length}`);
        }
        part.value.copy(bytes!, received);
        received += part.value.length;
      }
      if (!header) throw new InvalidArgumentError("part", "the stream carried no header");
      if (received !== bytes!.length) {
        throw new InvalidArgumentError("chunk", `received ${received} bytes; header.num_values × 4 = ${bytes!.length}`);
      }
      const digest = createHash("sha256").update(bytes!).digest("hex");
      if (digest !== header.sha256) throw new InvalidArgumentError("header.sha256", `does not match the received bytes (${digest})`);
      const params = new Float32Array(bytes!.buffer, bytes!.byteOffset, bytes!.length / 4);
      const bad = params.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new InvalidArgumentError("chunk", `weight ${bad} is ${params[bad]}`);
      // Checked again at the swap: a newer version may have arrived meanwhile.
      const previous = store.update({ version: header.policyVersion, params });
      return { policyVersion: header.policyVersion, previousPolicyVersion: previous.version };
    },

    async pinPolicy(request) {
      requireId(request.label, "label");
      const pinned = store.pin(request.label, request.policyVersion);
      return { policyVersion: pinned.version };
    },

    async getPolicy() {
      const info = backend.info;
      return {
        modelId: info.modelId,
        policyVersion: store.current.version,
        numParameters: BigInt(info.numParameters),
        vocabSize: info.vocabSize,
        maxPositions: info.maxPositions,
        pinned: store.pins().map((p) => ({ label: p.label, policyVersion: p.version })),
        executionProvider: info.executionProvider,
      };
    },
  };
}
