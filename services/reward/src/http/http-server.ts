// HTTP/JSON adapters, so trainers can point their remote-reward URL at Valor:
//   POST /openrlhf (alias /get_reward): OpenRLHF's remote RM payload
//        {query: [...], prompts: [...], labels: [...]} → {rewards, scores, extra_logs}
//   POST /slime: slime's remote_rm payload {prompt, response, label} → a JSON
//        number (the reward), or {reward, status, ...} with ?format=object
//   POST /v1/verify: RewardService.Verify as JSON (proto3 JSON mapping)
//   GET  /healthz
// With a token configured every route but /healthz needs `Authorization: Bearer <token>`.
import { bearerMatches } from "../../../../shared/grpc/auth";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { InvalidArgumentError, ValorError } from "../../../../shared/errors";
import { VerifyRequest, VerifyResponse } from "../../../../shared/gen/valor/reward/v1/reward.pb";
import type { CallContext } from "../../../../shared/grpc/handlers";
import type { Logger } from "../../../../shared/telemetry/logger";
import type { ScaleName } from "../domain/rewards";
import { getTaskKind, type VerifyInput } from "../domain/verify";
import type { BatchEngine, ItemResult } from "../handlers/batch";
import type { RewardUnaryHandlers } from "../handlers/reward-handlers";

export interface HttpServerOptions {
  engine: BatchEngine;
  handlers: RewardUnaryHandlers;
  logger: Logger;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Empty: no authentication. */
  token: string;
  scale: ScaleName;
  bodyLimit: number;
  maxBatchItems: number;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

const openRlhfBody = z.object({
  query: z.array(z.string()),
  prompts: z.array(z.string()).optional(),
  labels: z.array(z.string()),
  metas: z.array(z.unknown()).optional(),
});

const slimeBody = z.object({
  prompt: z.unknown().optional(),
  response: z.string(),
  label: z.union([z.string(), z.number()]),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

const query = z.object({
  task_kind: z.string().optional(),
  format: z.enum(["number", "object"]).optional(),
});

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InvalidArgumentError(issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, ""), issue.message);
}

/** OpenRLHF's query is prompt + response; keep only the response when the prompt is a prefix. */
function responseOf(q: string, prompt: string | undefined): string {
  return prompt && q.startsWith(prompt) ? q.slice(prompt.length) : q;
}

const indicator = (results: ItemResult[], status: ItemResult["status"]) => results.map((r) => (r.status === status ? 1 : 0));

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit });
  const { engine, logger } = options;

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (options.token === "" || request.url === "/healthz") return;
    if (!bearerMatches(request.headers.authorization, options.token)) {
      await reply.code(401).send({ error: "a valid 'Authorization: Bearer <token>' header is required" });
    }
  });

  app.setErrorHandler((err: unknown, _request, reply) => {
    if (err instanceof InvalidArgumentError) return reply.code(400).send({ error: err.message, field_path: err.fieldPath });
    if (err instanceof ValorError) return reply.code(400).send({ error: err.message });
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.message });
    logger.error({ err }, "unexpected error in HTTP handler");
    return reply.code(500).send({ error: "internal error" });
  });

  app.get("/healthz", async () => ({ status: "SERVING" }));

  const taskKindOf = (request: FastifyRequest) => getTaskKind(parseOrThrow(query, request.query).task_kind ?? "", "task_kind").name;

  const openRlhf = async (request: FastifyRequest) => {
    const body = parseOrThrow(openRlhfBody, request.body);
    if (body.labels.length !== body.query.length) {
      throw new InvalidArgumentError("labels", `has ${body.labels.length} entries; query has ${body.query.length}`);
    }
    if (body.query.length > options.maxBatchItems) {
      throw new InvalidArgumentError("query", `has ${body.query.length} entries; the limit is ${options.maxBatchItems} (REWARD_MAX_BATCH_ITEMS)`);
    }
    const taskKind = taskKindOf(request);
    const items: VerifyInput[] = body.query.map((q, i) => ({ id: String(i), response: responseOf(q, body.prompts?.[i]), gold: body.labels[i]!, taskKind }));
    const { results } = await engine.run(items, { scale: options.scale }, "openrlhf");
    const rewards = results.map((r) => r.reward);
    return {
      rewards,
      scores: rewards,
      extra_logs: {
        correct: indicator(results, "CORRECT"),
        no_answer: indicator(results, "NO_ANSWER"),
        timeout: indicator(results, "TIMEOUT"),
        rejected: indicator(results, "REJECTED"),
      },
    };
  };
  app.post("/openrlhf", openRlhf);
  app.post("/get_reward", openRlhf);

  app.post("/slime", async (request) => {
    const body = parseOrThrow(slimeBody, request.body);
    const q = parseOrThrow(query, request.query);
    const item: VerifyInput = { id: "0", response: body.response, gold: String(body.label), taskKind: taskKindOf(request) };
    const { results } = await engine.run([item], { scale: options.scale }, "slime");
    const r = results[0]!;
    if (q.format !== "object") return r.reward;
    return { reward: r.reward, status: r.status, reason: r.reason, extracted_answer: r.extracted, rule: r.rule };
  });

  app.post("/v1/verify", async (request) => {
    const controller = new AbortController();
    request.raw.once("close", () => {
      if (!request.raw.complete) controller.abort();
    });
    const ctx: CallContext = { deadline: undefined, signal: controller.signal, remainingMs: () => undefined, logger };
    const response = await options.handlers.verify(VerifyRequest.fromJSON(request.body), ctx);
    return VerifyResponse.toJSON(response);
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return { port, close: () => app.close() };
}
