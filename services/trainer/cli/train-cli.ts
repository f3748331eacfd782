// `valor train --config <file>`: trains every run of a configuration file, in
// order, against local service processes (started and stopped here) or remote
// services. Running the same file again resumes unfinished runs.
import fs from "node:fs";
import path from "node:path";
import { MongoClient } from "mongodb";
import pino from "pino";
import { ConfigError } from "../../../shared/config";
import { createLogger } from "../../../shared/telemetry/logger";
import { RolloutServiceClient } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { bearerAuth, unary } from "../../../shared/grpc/client";
import { credentials } from "@grpc/grpc-js";
import { connectServices, type ServiceAddresses } from "../src/clients";
import { loadTrainConfig, type RunConfig, type TrainFile } from "../src/config";
import { InterruptedError, TrainingRun, type ProgressSink } from "../src/controller";
import { LocalStack } from "../src/local-stack";
import { createProgress } from "../src/progress";
import { RunStore, type StoredRun } from "../src/store/run-store";

export interface TrainOptions {
  /** Only these run ids of the file. */
  only?: readonly string[];
  progress?: ProgressSink;
  signal?: AbortSignal;
  /** Called once the local stack is up (fault drills). */
  onStack?: (stack: LocalStack) => void;
  /** Called after the last run, before the local stack stops. */
  afterRuns?: (stack: LocalStack | undefined) => Promise<void>;
  /** Where runs are recorded (default: the configured database). */
  store?: RunStore;
}

/** Trains the runs of a loaded configuration; resolves with the final run documents. */
export async function train(config: TrainFile, options: TrainOptions = {}): Promise<StoredRun[]> {
  const s = config.services;
  fs.mkdirSync(s.data_dir, { recursive: true });
  const logger = createLogger("valor-train", "info", pino.destination({ dest: path.join(s.data_dir, "train.log"), mkdir: true, sync: false }));
  const runs = config.runs.filter((r) => !options.only?.length || options.only.includes(r.run_id));
  if (runs.length === 0) throw new ConfigError([`--run: none of ${options.only?.join(", ")} is in the file`]);
  logger.info({ services: { ...s, mongodb_uri: s.mongodb_uri ? "(set)" : undefined }, runs }, "configuration");
  const token = process.env[s.auth_token_env] ?? "";
  const stack =
    s.mode === "local"
      ? await LocalStack.start({
          dataDir: s.data_dir,
          mongodbUri: s.mongodb_uri,
          database: s.database,
          onnxThreads: s.onnx_threads,
          withValue: runs.some((r) => r.algorithm === "v05"),
          withReplay: runs.some((r) => r.algorithm === "reval"),
          logger,
        })
      : undefined;
  if (stack) options.onStack?.(stack);
  const mongo = new MongoClient(stack?.mongodbUri ?? s.mongodb_uri!, { serverSelectionTimeoutMS: 10_000 });
  const progress = options.progress ?? createProgress();
  const results: StoredRun[] = [];
  try {
    const store = options.store ?? new RunStore(mongo.db(s.database));
    for (const run of runs) {
      if (options.signal?.aborted) throw new InterruptedError();
      const addresses = stack ? await stack.startRun(run.run_id, { every: run.checkpoint_every, keep: run.checkpoint_keep }, pinInitialReference(run, store, token)) : s.addresses!;
      const clients = connectServices(addresses as ServiceAddresses, token, {
        tls: s.tls && { caFile: s.tls.ca_file, certFile: s.tls.cert_file, keyFile: s.tls.key_file },
        allowInsecureAuth: s.allow_insecure_auth,
      });
      try {
        const controller = new TrainingRun(run, {
          clients,
          store,
          logger: logger.child({ runId: run.run_id }),
          progress,
          servicesReady: () => stack?.ready() ?? Promise.resolve(),
          signal: options.signal,
        });
        results.push(await controller.train());
      } finally {
        clients.close();
        await stack?.stopRun();
      }
    }
    await options.afterRuns?.(stack);
    return results;
  } finally {
    await mongo.close();
    await stack?.stop();
    logger.flush();
  }
}

/** ReVal: pin the initial weights as the reference before the learner brings back a resumed policy. */
function pinInitialReference(run: RunConfig, store: RunStore, token: string) {
  return async (rolloutAddress: string) => {
    if (run.algorithm !== "reval") return;
    const stored = await store.getRun(run.run_id);
    if ((stored?.revalReferenceVersion ?? 0) !== 0) return;
    const rollout = new RolloutServiceClient(rolloutAddress, credentials.createInsecure(), bearerAuth(token));
    try {
      await unary(rollout.pinPolicy.bind(rollout), { label: "reval-reference", policyVersion: 0n });
    } finally {
      rollout.close();
    }
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const { Command } = await import("commander");
  const program = new Command()
    .name("valor train")
    .description("Run RLVR training across the Valor services. Running a file again resumes its unfinished runs.")
    .requiredOption("-c, --config <file>", "training configuration (YAML or JSON)")
    .option("-r, --run <ids...>", "only these run ids of the file")
    .option("--steps <n>", "override every run's step count (a finished run is extended)")
    .exitOverride();
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ config: string; run?: string[]; steps?: string }>();
  let config: TrainFile;
  try {
    config = loadTrainConfig(o.config);
    if (o.steps !== undefined) {
      const steps = Number(o.steps);
      if (!Number.isInteger(steps) || steps < 1) throw new ConfigError([`--steps: must be a positive integer, got ${o.steps}`]);
      config.runs.forEach((r) => (r.steps = steps));
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`valor train: ${err.message}\n`);
    return 2;
  }
  const abort = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    process.stderr.write("\nvalor train: stopping after the current step (Ctrl-C again to quit at once)\n");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const runs = await train(config, { only: o.run, signal: abort.signal });
    process.stdout.write(`\n${runs.map((r) => `${r.runId}: ${r.status}, ${r.completedSteps} steps, ${r.wallSeconds.toFixed(1)} s`).join("\n")}\n`);
    process.stdout.write(`report: valor report --data-dir ${config.services.data_dir} ${runs.map((r) => r.runId).join(" ")}\n`);
    return 0;
  } catch (err) {
    if (err instanceof InterruptedError) {
      process.stderr.write("valor train: interrupted; run the same command again to resume\n");
      return 130;
    }
    process.stderr.write(`valor train: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
