// `valor train`'s local mode: a FerretDB and every service as child processes
// on loopback. The shared services (reward, baseline, value, replay) live as
// long as the stack; each run gets its own rollout and learner (they hold that
// run's policy). A service that dies is started again on the same port, so the
// controller's clients reconnect; the learner then resumes from its checkpoint.
// The local FerretDB is supervised the same way: a crashed database comes back
// on the same port and data folder, and the services' drivers reconnect.
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { startFerretDb, type FerretDb } from "../../../shared/local/ferretdb";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import type { ServiceAddresses } from "./clients";

export interface LocalStackOptions {
  dataDir: string;
  /** Use this MongoDB instead of starting FerretDB. */
  mongodbUri?: string;
  database: string;
  onnxThreads: number;
  /** Shared services to start (value and replay only when a run needs them). */
  withValue: boolean;
  withReplay: boolean;
  logger: Logger;
}

type ServiceName = "reward" | "baseline" | "value" | "replay" | "rollout" | "learner";
/** What the stack supervises: the services and its own database. */
type SupervisedName = ServiceName | "mongodb";

/** A service process that is started again on the same port when it dies unexpectedly. */
class SupervisedService {
  private current!: ServiceProcess;
  private stopping = false;
  private restarting: Promise<void> | undefined;

  private constructor(
    readonly name: ServiceName,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly logger: Logger,
    private readonly onRestart: (name: ServiceName) => void,
  ) {}

  static async start(name: ServiceName, env: Record<string, string>, stack: { logDir: string; logger: Logger; onRestart: (name: ServiceName) => void }): Promise<SupervisedService> {
    const s = new SupervisedService(name, env, path.join(stack.logDir, `${name}.log`), stack.logger, stack.onRestart);
    await s.launch(env);
    return s;
  }

  get address(): string {
    return this.current.address;
  }

  /** Resolves when the service is listening (at once unless it is being restarted). */
  ready(): Promise<void> {
    return this.restarting ?? Promise.resolve();
  }

  private async launch(env: Record<string, string>): Promise<void> {
    this.current = await startServiceProcess(this.name, env, { logFile: this.logFile, startTimeoutMs: 60_000, detached: true });
    const child = this.current.child;
    child.once("exit", (code, signal) => {
      if (this.stopping) return;
      this.onRestart(this.name);
      this.logger.warn({ service: this.name, code, signal }, "service exited; starting it again");
      // The same port, so that every client (and the learner's push target) stays valid.
      this.restarting = this.launch({ ...this.env, GRPC_PORT: String(this.current.grpcPort) }).finally(() => {
        this.restarting = undefined;
      });
      this.restarting.catch((err: unknown) => this.logger.error({ service: this.name, err: String(err) }, "restart failed"));
    });
  }

  /** For tests and fault drills: SIGKILL the process (the supervisor restarts it). */
  kill(): void {
    this.current.child.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.restarting?.catch(() => undefined);
    await this.current.stop();
  }
}

export class LocalStack {
  private runServices: { rollout: SupervisedService; learner: SupervisedService } | undefined;
  private databaseRestart: Promise<void> | undefined;
  private stopping = false;

  private constructor(
    private readonly options: LocalStackOptions,
    private readonly ferret: FerretDb | undefined,
    readonly mongodbUri: string,
    private readonly shared: Partial<Record<ServiceName, SupervisedService>>,
    private readonly ctx: { logDir: string; logger: Logger; onRestart: (name: SupervisedName) => void },
    private readonly restartCounts: ReadonlyMap<SupervisedName, number>,
  ) {
    ferret?.onUnexpectedExit((code, signal) => {
      if (this.stopping) return;
      ctx.onRestart("mongodb");
      ctx.logger.warn({ code, signal }, "the local FerretDB exited; starting it again");
      this.databaseRestart = ferret.restart().finally(() => (this.databaseRestart = undefined));
      this.databaseRestart.catch((err: unknown) => ctx.logger.error({ err: String(err) }, "FerretDB restart failed"));
    });
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const logDir = path.join(options.dataDir, "logs");
    fs.mkdirSync(logDir, { recursive: true });
    const ferret = options.mongodbUri ? undefined : await startFerretDb({ dataDir: path.join(options.dataDir, "ferretdb"), detached: true });
    const mongodbUri = options.mongodbUri ?? ferret!.uri;
    const mongoEnv = { MONGODB_URI: mongodbUri, MONGODB_DATABASE: options.database };
    const threads = String(options.onnxThreads);
    const shared: Partial<Record<ServiceName, SupervisedService>> = {};
    const restarts = new Map<SupervisedName, number>();
    const ctx = { logDir, logger: options.logger, onRestart: (name: SupervisedName) => restarts.set(name, (restarts.get(name) ?? 0) + 1) };
    try {
      const starts: Array<Promise<void>> = [
        SupervisedService.start("reward", { REWARD_HTTP_PORT: "-1" }, ctx).then((s) => void (shared.reward = s)),
        SupervisedService.start("baseline", mongoEnv, ctx).then((s) => void (shared.baseline = s)),
      ];
      if (options.withValue) starts.push(SupervisedService.start("value", { ...mongoEnv, VALUE_INTRA_OP_THREADS: threads }, ctx).then((s) => void (shared.value = s)));
      if (options.withReplay) starts.push(SupervisedService.start("replay", mongoEnv, ctx).then((s) => void (shared.replay = s)));
      const results = await Promise.allSettled(starts);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    } catch (err) {
      await Promise.all(Object.values(shared).map((s) => s.stop()));
      await ferret?.stop();
      throw err;
    }
    options.logger.info({ mongodb: ferret ? `FerretDB at ${ferret.uri} (data in ${ferret.dataDir})` : "external", logs: logDir }, "local services started");
    return new LocalStack(options, ferret, mongodbUri, shared, ctx, restarts);
  }

  /**
   * Starts a run's rollout and learner (the learner resumes the run's checkpoint,
   * if any, and pushes it). `beforeLearner` runs while the rollout service still
   * holds the initial weights (e.g. to pin them as a reference policy).
   */
  async startRun(runId: string, checkpoints: { every: number; keep: number }, beforeLearner?: (rolloutAddress: string) => Promise<void>): Promise<ServiceAddresses> {
    await this.stopRun();
    const threads = String(this.options.onnxThreads);
    const rollout = await SupervisedService.start("rollout", { ROLLOUT_INTRA_OP_THREADS: threads }, this.ctx);
    try {
      await beforeLearner?.(rollout.address);
      const learner = await SupervisedService.start(
        "learner",
        {
          MONGODB_URI: this.mongodbUri,
          MONGODB_DATABASE: this.options.database,
          LEARNER_RUN_ID: runId,
          LEARNER_ROLLOUT_ADDRESSES: rollout.address,
          LEARNER_CHECKPOINT_EVERY: String(checkpoints.every),
          LEARNER_CHECKPOINT_KEEP: String(checkpoints.keep),
          LEARNER_INTRA_OP_THREADS: threads,
        },
        this.ctx,
      );
      this.runServices = { rollout, learner };
    } catch (err) {
      await rollout.stop();
      throw err;
    }
    return this.addresses();
  }

  addresses(): ServiceAddresses {
    if (!this.runServices) throw new Error("no run is started");
    return {
      rollout: this.runServices.rollout.address,
      learner: this.runServices.learner.address,
      reward: this.shared.reward!.address,
      baseline: this.shared.baseline!.address,
      value: this.shared.value?.address,
      replay: this.shared.replay?.address,
    };
  }

  /** Address of a shared service (reward, baseline, value, replay). */
  sharedAddress(name: "reward" | "baseline" | "value" | "replay"): string {
    const s = this.shared[name];
    if (!s) throw new Error(`${name} is not running`);
    return s.address;
  }

  private all(): SupervisedService[] {
    return [...Object.values(this.shared), ...(this.runServices ? [this.runServices.rollout, this.runServices.learner] : [])];
  }

  /** Resolves once every service is listening again (after restarts). */
  async ready(): Promise<void> {
    await Promise.all([...this.all().map((s) => s.ready()), this.databaseRestart?.catch(() => undefined)]);
  }

  /** Unexpected exits (each followed by a restart) per service and of the database, over the stack's life. */
  restarts(): Partial<Record<SupervisedName, number>> {
    return Object.fromEntries(this.restartCounts);
  }

  /** Fault drills and tests: SIGKILL one service or the local database; the supervisor starts it again. */
  kill(name: SupervisedName): void {
    if (name === "mongodb") {
      if (!this.ferret) throw new Error("the stack uses an external MongoDB");
      return this.ferret.kill();
    }
    const s = name === "rollout" || name === "learner" ? this.runServices?.[name] : this.shared[name];
    if (!s) throw new Error(`${name} is not running`);
    s.kill();
  }

  /** Stops the run's services; the learner saves a checkpoint on SIGTERM. */
  async stopRun(): Promise<void> {
    if (!this.runServices) return;
    const { rollout, learner } = this.runServices;
    this.runServices = undefined;
    await learner.stop();
    await rollout.stop();
  }

  async stop(): Promise<void> {
    await this.stopRun();
    await Promise.all(Object.values(this.shared).map((s) => s.stop()));
    this.stopping = true;
    await this.databaseRestart?.catch(() => undefined);
    await this.ferret?.stop();
  }
}
