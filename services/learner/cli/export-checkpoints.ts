// `valor export-checkpoints`: the weights of stored learner checkpoints
// (src/store/checkpoint-store.ts) as plain files, for
// tools outside the services (models/value trains on RL checkpoints):
//
//   <out>/<run>/step-<n>.bin   the params only: float32 little-endian, in the
//                              layout of models/artifacts/weights.bin
//   <out>/<run>/step-<n>.json  run_id, step, n_params, sha256 (of the .bin),
//                              checkpoint_sha256 (of the stored checkpoint), adam_step
//
//   valor export-checkpoints --run r1 r2 --every 10 --out dir [--data-dir .valor/local | --mongodb-uri URI]
//   valor export-checkpoints --config train.yaml --steps 10,20 --out dir   (that file's runs and database)
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { MongoClient } from "mongodb";
import { ConfigError } from "../../../shared/config";
import { startFerretDb, type FerretDb } from "../../../shared/local/ferretdb";
import { loadTrainConfig } from "../../trainer/src/config";
import { CheckpointStore, type CheckpointMeta, type StoredCheckpoint } from "../src/store/checkpoint-store";

export interface ExportOptions {
  runs: readonly string[];
  /** Exactly these steps (each must be stored); otherwise every stored step that `every` divides (1: all). */
  steps?: readonly number[];
  every: number;
  out: string;
  /** A MongoDB to read; otherwise the local FerretDB of `valor train` in dataDir is opened. */
  mongodbUri?: string;
  dataDir: string;
  database: string;
}

export interface ExportedCheckpoint {
  run_id: string;
  step: number;
  n_params: number;
  sha256: string;
  checkpoint_sha256: string;
  adam_step: number;
}

function writeCheckpoint(meta: CheckpointMeta, bytes: Buffer, out: string): ExportedCheckpoint {
  const params = bytes.subarray(0, 4 * meta.numParameters);
  const info: ExportedCheckpoint = {
    run_id: meta.runId,
    step: meta.step,
    n_params: meta.numParameters,
    sha256: createHash("sha256").update(params).digest("hex"),
    checkpoint_sha256: meta.sha256,
    adam_step: meta.adamStep,
  };
  const dir = path.join(out, meta.runId);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `step-${meta.step}.bin`), params);
  fs.writeFileSync(path.join(dir, `step-${meta.step}.json`), `${JSON.stringify(info, null, 1)}\n`);
  return info;
}

/** Writes the chosen checkpoints of every run; resolves with what was written, run by run, step by step. */
export async function exportCheckpoints(o: ExportOptions): Promise<ExportedCheckpoint[]> {
  let ferret: FerretDb | undefined;
  if (!o.mongodbUri) ferret = await startFerretDb({ dataDir: path.join(o.dataDir, "ferretdb") });
  const mongo = new MongoClient(o.mongodbUri ?? ferret!.uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const store = new CheckpointStore(mongo.db(o.database));
    const chosen: StoredCheckpoint[] = [];
    for (const run of o.runs) {
      const stored = new Map((await store.list(run)).map((c) => [c.meta.step, c]));
      if (stored.size === 0) throw new ConfigError([`--run ${run}: no checkpoints stored`]);
      const missing = o.steps?.filter((s) => !stored.has(s)) ?? [];
      if (missing.length > 0) throw new ConfigError([`--steps: run ${run} has no checkpoint of step ${missing.join(", ")} (stored: ${[...stored.keys()].join(", ")})`]);
      const steps = o.steps ? [...o.steps] : [...stored.keys()].filter((s) => s % o.every === 0);
      chosen.push(...steps.map((step) => stored.get(step)!));
    }
    const written: ExportedCheckpoint[] = [];
    for (const c of chosen) written.push(writeCheckpoint(c.meta, await c.bytes(), o.out));
    return written;
  } finally {
    await mongo.close();
    await ferret?.stop();
  }
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`${flag}: must be a positive integer, got ${value}`]);
  return n;
}

export async function main(argv: readonly string[]): Promise<number> {
  const { Command } = await import("commander");
  const program = new Command()
    .name("valor export-checkpoints")
    .description("Write the weights of stored learner checkpoints as raw float32 files (+ a JSON with step and sha256).")
    .option("-r, --run <ids...>", "training runs whose checkpoints to export (default: the config file's runs)")
    .option("-c, --config <file>", "take the database and the run ids from a training configuration")
    .option("--steps <list>", "comma-separated steps (default: every stored step that --every divides)")
    .option("--every <n>", "with no --steps: the stored steps divisible by n", "1")
    .requiredOption("-o, --out <dir>", "output folder (<out>/<run>/step-<n>.bin and .json)")
    .option("--data-dir <dir>", "local data folder of valor train", ".valor/local")
    .option("--mongodb-uri <uri>", "read this MongoDB instead of the local data folder")
    .option("--database <name>", "database name", "valor")
    .exitOverride();
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ run?: string[]; config?: string; steps?: string; every: string; out: string; dataDir: string; mongodbUri?: string; database: string }>();
  try {
    const config = o.config ? loadTrainConfig(o.config) : undefined;
    const runs = o.run ?? config?.runs.map((r) => r.run_id);
    if (!runs) throw new ConfigError(["--run or --config is required"]);
    const written = await exportCheckpoints({
      runs,
      steps: o.steps?.split(",").map((s) => positiveInt("--steps", s.trim())),
      every: positiveInt("--every", o.every),
      out: o.out,
      mongodbUri: config ? config.services.mongodb_uri : o.mongodbUri,
      dataDir: path.resolve(config ? config.services.data_dir : o.dataDir),
      database: config ? config.services.database : o.database,
    });
    for (const c of written) process.stdout.write(`${path.join(o.out, c.run_id, `step-${c.step}.bin`)}  ${c.sha256}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`valor export-checkpoints: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
