// `valor train --config <file>`: the training configuration, a YAML (or JSON)
// file validated once, with every problem reported by its field path. A file
// holds one run, or `defaults` plus a list of `runs` (a comparison, as in the
// demo); `services` says where the services are (local or remote).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../../../shared/config";
import { ID_PATTERN } from "../../../shared/validation";
import { ALGORITHM_NAMES } from "./domain/algorithms";

const id = z.string().regex(ID_PATTERN, "must be 1-256 characters of [A-Za-z0-9_:/@#+=-]");
const positiveInt = z.number().int().min(1);

const runSchema = z
  .object({
    /** Default: <algorithm>-k<rollouts_per_prompt>-seed<seed>, so that running a file again resumes its runs. */
    run_id: id.optional(),
    label: z.string().min(1).max(80).optional(),
    algorithm: z.enum(ALGORITHM_NAMES as [string, ...string[]]),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    steps: positiveInt.max(1_000_000),
    prompts_per_step: positiveInt.max(4_096).default(32),
    /** Rollouts per prompt: the group size k (V0.5: k_init). */
    rollouts_per_prompt: positiveInt.max(256).default(4),
    sampling: z
      .object({
        temperature: z.number().min(0).max(10).default(1),
        top_p: z.number().gt(0).max(1).default(1),
        max_new_tokens: positiveInt.max(4_096).default(8),
      })
      .strict()
      .default({ temperature: 1, top_p: 1, max_new_tokens: 8 }),
    optimizer: z
      .object({
        learning_rate: z.number().gt(0).max(1).default(1e-4),
        /**
         * Linear warm-up over the first N learner updates (DAPO: 20). Adam's
         * first updates move every parameter by about the full learning rate,
         * whatever the gradient's size; the warm-up keeps them small.
         */
        warmup_updates: z.number().int().min(0).default(10),
        weight_decay: z.number().min(0).max(1).default(0),
        max_grad_norm: z.number().gt(0).default(1),
      })
      .strict()
      .default({ learning_rate: 1e-4, warmup_updates: 10, weight_decay: 0, max_grad_norm: 1 }),
    /** Overrides of the algorithm's clip range. */
    loss: z
      .object({ clip_ratio_low: z.number().gt(0).max(1).optional(), clip_ratio_high: z.number().gt(0).max(10).optional() })
      .strict()
      .default({}),
    task: z
      .object({
        /** Size of the training pool (the built-in task's train split); batches are drawn from it. */
        train_prompts: positiveInt.max(1_000_000).default(1_024),
        eval_prompts: positiveInt.max(100_000).default(256),
        /** k of the mean@k evaluation (sampled at the training temperature). */
        eval_samples: positiveInt.max(64).default(4),
        /** Evaluate every N steps (and before the first and after the last); 0: only those two. */
        eval_every: z.number().int().min(0).default(10),
        levels: z.array(z.number().int().min(1).max(5)).min(1).default([1, 2, 3, 4, 5]),
      })
      .strict()
      .default({ train_prompts: 1_024, eval_prompts: 256, eval_samples: 4, eval_every: 10, levels: [1, 2, 3, 4, 5] }),
    dapo: z
      .object({
        /** Prompt batches drawn per step at most (verl's max_num_gen_batches); 0 is unlimited. */
        max_generation_batches: z.number().int().min(0).default(4),
      })
      .strict()
      .default({ max_generation_batches: 4 }),
    pvpo: z
      .object({
        /** M: reference rollouts per training prompt (the paper: 16 on math). */
        reference_rollouts: positiveInt.max(256).default(16),
        /** Refresh the reference statistics with the current policy every R steps; 0 never. */
        refresh_every: z.number().int().min(0).default(0),
        /** Prompts the reference never solved: keep them (baseline 0) or skip them. */
        hard_prompts: z.enum(["keep", "skip"]).default("keep"),
      })
      .strict()
      .default({ reference_rollouts: 16, refresh_every: 0, hard_prompts: "keep" }),
    v05: z
      .object({
        k_max: positiveInt.max(256).default(16),
        cost_per_rollout: z.number().gt(0).optional(),
        max_extra_rollouts: z.number().int().min(0).optional(),
      })
      .strict()
      .default({ k_max: 16 }),
    reval: z
      .object({
        beta: z.number().gt(0).default(0.02),
        updates_per_step: positiveInt.max(64).default(2),
        reference_reset_every: z.number().int().min(0).default(200),
        buffer_capacity: positiveInt.max(10_000_000).default(5_120),
        group_mean_reward: z.boolean().default(true),
      })
      .strict()
      .default({ beta: 0.02, updates_per_step: 2, reference_reset_every: 200, buffer_capacity: 5_120, group_mean_reward: true }),
    /** The learner checkpoints every N of its steps; 1 makes every step survive a crash. */
    checkpoint_every: z.number().int().min(0).default(1),
    /** Local mode: the learner keeps the run's newest N checkpoints (0: all, e.g. to export them). */
    checkpoint_keep: z.number().int().min(0).default(3),
  })
  .strict()
  .superRefine((run, ctx) => {
    if (run.algorithm === "v05" && run.v05.k_max < run.rollouts_per_prompt) {
      ctx.addIssue({ code: "custom", path: ["v05", "k_max"], message: "must be at least rollouts_per_prompt (k_init)" });
    }
  });

const addressesSchema = z
  .object({
    rollout: z.string().min(1),
    learner: z.string().min(1),
    reward: z.string().min(1),
    baseline: z.string().min(1),
    value: z.string().min(1).optional(),
    replay: z.string().min(1).optional(),
  })
  .strict();

const servicesSchema = z
  .object({
    mode: z.enum(["local", "remote"]).default("local"),
    /** Local mode: where FerretDB keeps its data (runs survive across invocations), relative to the working directory. */
    data_dir: z.string().min(1).default(".valor/local"),
    /** A MongoDB to use instead of the local FerretDB (local mode), or the one the run records go to (remote). */
    mongodb_uri: z.string().regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// URI").optional(),
    database: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/).default("valor"),
    /** Remote mode: host:port of each service (value and replay only for the algorithms that use them). */
    addresses: addressesSchema.optional(),
    /** Environment variable holding the services' bearer token. */
    auth_token_env: z.string().default("VALOR_AUTH_TOKEN"),
    /** Remote mode: TLS to the services (PEM files): the CA that signed them, and a client certificate for mutual TLS. */
    tls: z.object({ ca_file: z.string().min(1), cert_file: z.string().min(1).optional(), key_file: z.string().min(1).optional() }).strict().optional(),
    /** Remote mode: send the token over plaintext to non-loopback addresses (e.g. inside a TLS-terminating mesh). */
    allow_insecure_auth: z.boolean().default(false),
    /** Local mode: onnxruntime intra-op threads of the rollout, learner and value services (0: onnxruntime's choice). */
    onnx_threads: z.number().int().min(0).max(256).default(0),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.mode === "remote" && !s.addresses) ctx.addIssue({ code: "custom", path: ["addresses"], message: "is required in remote mode" });
    if (s.mode === "remote" && !s.mongodb_uri) ctx.addIssue({ code: "custom", path: ["mongodb_uri"], message: "is required in remote mode" });
  });

export type RunConfig = z.infer<typeof runSchema> & { run_id: string; label: string };
export type ServicesConfig = z.infer<typeof servicesSchema>;

export interface TrainFile {
  services: ServicesConfig;
  runs: RunConfig[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `defaults` under a run: objects merge key by key, anything else the run overrides. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

function issuePath(prefix: string, p: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const part of p) out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  return out || "(root)";
}

function defaultLabel(run: z.infer<typeof runSchema>): string {
  const names: Record<string, string> = { grpo: "GRPO", dr_grpo: "Dr.GRPO", rloo: "RLOO", dapo: "DAPO", pvpo: "PVPO", v05: "V0.5", reval: "ReVal" };
  const k = run.algorithm === "v05" ? `k_init=${run.rollouts_per_prompt}` : `k=${run.rollouts_per_prompt}`;
  return `${names[run.algorithm] ?? run.algorithm} ${k}`;
}

/** Validates a parsed configuration document; throws ConfigError listing every problem by field path. */
export function parseTrainConfig(doc: unknown): TrainFile {
  const problems: string[] = [];
  if (!isObject(doc)) throw new ConfigError(["(root): must be a mapping"]);
  const { services: rawServices, defaults, runs: rawRuns, ...single } = doc;
  const services = servicesSchema.safeParse(rawServices ?? {});
  if (!services.success) problems.push(...services.error.issues.map((i) => `${issuePath("services", i.path)}: ${i.message}`));
  if (defaults !== undefined && !isObject(defaults)) problems.push("defaults: must be a mapping");
  let entries: Array<[string, unknown]>;
  if (rawRuns === undefined) {
    entries = [["", single]];
  } else if (!Array.isArray(rawRuns) || rawRuns.length === 0) {
    problems.push("runs: must be a non-empty list");
    entries = [];
  } else {
    if (Object.keys(single).length > 0) problems.push(`${Object.keys(single)[0]}: unknown top-level key (with \`runs\`, shared settings go under \`defaults\`)`);
    entries = rawRuns.map((r, i) => [`runs[${i}]`, isObject(r) && isObject(defaults) ? deepMerge(defaults, r) : r]);
  }
  const runs: RunConfig[] = [];
  for (const [prefix, raw] of entries) {
    const parsed = runSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${issuePath(prefix, i.path)}: ${i.message}`));
      continue;
    }
    const run = parsed.data;
    runs.push({ ...run, run_id: run.run_id ?? `${run.algorithm}-k${run.rollouts_per_prompt}-seed${run.seed}`, label: run.label ?? defaultLabel(run) });
  }
  const seen = new Set<string>();
  runs.forEach((r, i) => {
    if (seen.has(r.run_id)) problems.push(`runs[${i}].run_id: ${r.run_id} appears twice`);
    seen.add(r.run_id);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { services: services.data!, runs };
}

/** Reads and validates a config file. */
export function loadTrainConfig(file: string): TrainFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file}: not valid YAML or JSON: ${(err as Error).message}`]);
  }
  const config = parseTrainConfig(doc);
  config.services.data_dir = path.resolve(config.services.data_dir);
  return config;
}

/**
 * What a resumed run must share with the run on record: everything but the
 * step count (a finished run can be extended) and the label.
 */
export function configFingerprint(run: RunConfig): string {
  const { steps: _steps, label: _label, ...rest } = run;
  return createHash("sha256").update(JSON.stringify(rest)).digest("hex").slice(0, 16);
}
