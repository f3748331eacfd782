// `valor replay ...`: the replay service from a shell, over the same RPCs.
// Tables for people, JSON lines (--json, export) for programs.
//
//   valor replay runs
//   valor replay configure --run r1 --capacity 5120
//   valor replay append-file rollouts.jsonl --run r1 [--step 7] [--batch 1024]
//   valor replay stats --run r1
//   valor replay query --run r1 [--scope all] [--min-version 3] [--prompt p1] [--min-reward 1] [--since 2026-01-01T00:00:00Z] [--limit 20]
//   valor replay sample --run r1 -n 8 [--seed 42] [--replacement]
//   valor replay export --run r1 [--scope all] [--view metadata] [--out file.jsonl]
//   valor replay flush --run r1 --reset-id ref-v2
//
// append-file reads one trajectory per line, as export writes it (a
// StoredTrajectory's "trajectory" object, or a bare Trajectory), camelCase or
// snake_case keys. A line's "step" (or --step) names its training step;
// indexes are the order of the lines within a step, so appending the same file
// again stores nothing twice.
import fs from "node:fs";
import readline from "node:readline";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import {
  ReplayServiceClient,
  Scope,
  StoredTrajectory,
  Trajectory,
  TrajectoryState,
  View,
  type ExportResponse,
  type Filter,
  type RunInfo,
} from "../../../shared/gen/valor/replay/v1/replay.pb";
import { bearerAuth, unary } from "../../../shared/grpc/client";

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Left-aligned text, right-aligned numbers, a rule under the header. */
export function table(headers: string[], rows: Array<Array<string | number | bigint>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] !== "string"));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n") + "\n";
}

const stateName: Record<number, string> = {
  [TrajectoryState.TRAJECTORY_STATE_LIVE]: "live",
  [TrajectoryState.TRAJECTORY_STATE_EVICTED]: "evicted",
  [TrajectoryState.TRAJECTORY_STATE_STALE]: "stale",
};

function trajectoryRows(ts: StoredTrajectory[]) {
  return table(
    ["seq", "step", "index", "state", "reuse", "version", "reward", "prompt", "group", "tokens", "inserted"],
    ts.map((t) => [
      t.seq,
      t.step,
      t.index,
      stateName[t.state] ?? "?",
      t.reuseCount,
      t.trajectory?.policyVersion ?? "",
      t.trajectory ? t.trajectory.reward.toPrecision(4).replace(/\.?0+$/, "") : "",
      t.trajectory?.promptId ?? "",
      t.trajectory?.groupId ?? "",
      t.trajectory ? `${t.trajectory.promptTokenIds.length}+${t.trajectory.responseTokenIds.length}` : "",
      new Date(Number(t.insertedAtUnixMs)).toISOString(),
    ]),
  );
}

function runRows(runs: RunInfo[]) {
  return table(
    ["run", "size", "capacity", "epoch", "reset", "next seq"],
    runs.map((r) => [r.runId, r.size, r.capacity, r.epoch, r.resetId || "-", r.nextSeq]),
  );
}

/** Unix ms from a number or an ISO-8601 time. */
function timeArg(value: string): bigint {
  if (/^\d+$/.test(value)) return BigInt(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${value} (Unix ms or ISO-8601)`);
  return BigInt(ms);
}

interface FilterOptions {
  run: string;
  scope?: string;
  minVersion?: string;
  maxVersion?: string;
  prompt?: string;
  group?: string;
  minReward?: string;
  maxReward?: string;
  since?: string;
  until?: string;
  minStep?: string;
  maxStep?: string;
}

function filterFrom(o: FilterOptions): Filter {
  const scope = o.scope === undefined || o.scope === "buffer" ? Scope.SCOPE_BUFFER : o.scope === "all" ? Scope.SCOPE_ALL : undefined;
  if (scope === undefined) throw new Error(`--scope must be buffer or all, got ${o.scope}`);
  const big = (v: string | undefined) => (v === undefined ? undefined : BigInt(v));
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    runId: o.run,
    scope,
    minPolicyVersion: big(o.minVersion),
    maxPolicyVersion: big(o.maxVersion),
    promptId: o.prompt ?? "",
    groupId: o.group ?? "",
    minReward: num(o.minReward),
    maxReward: num(o.maxReward),
    insertedAfterUnixMs: o.since === undefined ? undefined : timeArg(o.since),
    insertedBeforeUnixMs: o.until === undefined ? undefined : timeArg(o.until),
    minStep: big(o.minStep),
    maxStep: big(o.maxStep),
  };
}

function viewFrom(v: string | undefined, fallback: View): View {
  if (v === undefined) return fallback;
  const views: Record<string, View> = { full: View.VIEW_FULL, metadata: View.VIEW_METADATA, summary: View.VIEW_SUMMARY };
  const view = views[v];
  if (view === undefined) throw new Error(`--view must be full, metadata or summary, got ${v}`);
  return view;
}

export function connect(address: string, token: string): ReplayServiceClient {
  return new ReplayServiceClient(address, credentials.createInsecure(), bearerAuth(token));
}

/** Parses `argv` (the words after `valor replay`), runs the command, resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  // commander is ESM-only: load it with import() from this CommonJS module.
  const { Command, Option } = await import("commander");
  let client: ReplayServiceClient | undefined;
  let deadlineMs = 30_000;
  const program = new Command()
    .name("valor replay")
    .description("The Valor replay store: append, sample, query, export, flush.")
    .option("-a, --address <host:port>", "replay service address", process.env.VALOR_REPLAY_ADDRESS ?? "127.0.0.1:50056")
    .option("--token <token>", "bearer token (default $VALOR_AUTH_TOKEN)", process.env.VALOR_AUTH_TOKEN ?? "")
    .option("--deadline-ms <ms>", "deadline of each call", "30000")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .hook("preAction", () => {
      const o = program.opts<{ address: string; token: string; deadlineMs: string }>();
      deadlineMs = Number(o.deadlineMs);
      client = connect(o.address, o.token);
    });
  const c = () => client!;
  const withFilters = (cmd: InstanceType<typeof Command>) =>
    cmd
      .requiredOption("-r, --run <id>", "run id")
      .addOption(new Option("--scope <scope>", "buffer (live trajectories) or all (history)").choices(["buffer", "all"]))
      .option("--min-version <v>", "policy version >= v")
      .option("--max-version <v>", "policy version <= v")
      .option("--prompt <id>", "prompt id")
      .option("--group <id>", "group id")
      .option("--min-reward <x>", "reward >= x")
      .option("--max-reward <x>", "reward <= x")
      .option("--since <time>", "acknowledged at or after (Unix ms or ISO-8601)")
      .option("--until <time>", "acknowledged at or before (Unix ms or ISO-8601)")
      .option("--min-step <n>", "step >= n")
      .option("--max-step <n>", "step <= n");

  program
    .command("runs")
    .description("list the runs")
    .option("--json", "JSON lines")
    .action(async (o: { json?: boolean }) => {
      const res = await unary(c().listRuns.bind(c()), {}, deadlineMs);
      io.out(o.json ? res.runs.map((r) => JSON.stringify(r)).join("\n") + "\n" : runRows(res.runs));
    });

  program
    .command("configure")
    .description("create a run or change its buffer capacity")
    .requiredOption("-r, --run <id>", "run id")
    .requiredOption("-c, --capacity <n>", "buffer capacity M")
    .action(async (o: { run: string; capacity: string }) => {
      const res = await unary(c().configureRun.bind(c()), { runId: o.run, capacity: BigInt(o.capacity) }, deadlineMs);
      io.out(`${res.created ? "created" : "configured"}; evicted ${res.evicted}\n` + runRows([res.run!]));
    });

  program
    .command("append-file")
    .description("append the trajectories of a JSON-lines file")
    .argument("<file>", "one trajectory per line ('-' = stdin)")
    .requiredOption("-r, --run <id>", "run id")
    .option("-s, --step <n>", "step of lines that carry none")
    .option("-b, --batch <n>", "trajectories per Append", "1024")
    .action(async (file: string, o: { run: string; step?: string; batch: string }) => {
      const input = file === "-" ? process.stdin : fs.createReadStream(file);
      const steps = new Map<bigint, Trajectory[]>();
      let lineNo = 0;
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        lineNo++;
        if (line.trim() === "") continue;
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`${file}:${lineNo}: not JSON`);
        }
        const stepValue = obj.step ?? o.step;
        if (stepValue === undefined) throw new Error(`${file}:${lineNo}: no "step" (give one per line, or --step)`);
        const t = Trajectory.fromJSON(typeof obj.trajectory === "object" && obj.trajectory !== null ? obj.trajectory : obj);
        const step = BigInt(String(stepValue));
        const list = steps.get(step) ?? [];
        list.push(t);
        steps.set(step, list);
      }
      const size = Number(o.batch);
      const rows: Array<Array<string | number | bigint>> = [];
      for (const [step, ts] of steps) {
        for (let start = 0; start < ts.length; start += size) {
          const chunk = ts.slice(start, start + size);
          const res = await unary(
            c().append.bind(c()),
            { runId: o.run, step, startIndex: start, trajectories: chunk, expectedResetId: "" },
            deadlineMs,
          );
          rows.push([step, start, chunk.length, res.duplicate ? "duplicate" : "appended", res.firstSeq, res.evicted, res.run?.size ?? 0]);
        }
      }
      io.out(table(["step", "start", "count", "result", "first seq", "evicted", "buffer"], rows));
    });

  program
    .command("stats")
    .description("summarise a run's buffer")
    .requiredOption("-r, --run <id>", "run id")
    .option("--json", "JSON")
    .action(async (o: { run: string; json?: boolean }) => {
      const s = await unary(c().getStats.bind(c()), { runId: o.run }, deadlineMs);
      if (o.json) return io.out(JSON.stringify(s, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
      const run = s.run!;
      io.out(
        table(
          ["run", "size", "capacity", "epoch", "reset", "appended", "samples", "reward mean", "reward std", "min", "max", "seqs"],
          [[run.runId, run.size, run.capacity, run.epoch, run.resetId || "-", s.appendedTotal, s.samplesDrawn, s.rewardMean.toFixed(4), s.rewardStd.toFixed(4), s.rewardMin, s.rewardMax, `${s.oldestSeq}..${s.newestSeq}`]],
        ) +
          "\n" +
          table(["policy version", "trajectories"], s.versions.map((v) => [v.policyVersion, v.trajectories])) +
          "\n" +
          table(["reuse", "trajectories"], s.reuseHistogram.map((b) => [b.reuseCount, b.trajectories])),
      );
    });

  withFilters(program.command("query").description("list trajectories matching a filter"))
    .option("-l, --limit <n>", "rows", "20")
    .option("--start-seq <n>", "only seq >= n (paging)")
    .option("--json", "JSON lines (full trajectories)")
    .action(async (o: FilterOptions & { limit: string; startSeq?: string; json?: boolean }) => {
      const res = await unary(
        c().query.bind(c()),
        {
          filter: filterFrom(o),
          view: o.json ? View.VIEW_FULL : View.VIEW_METADATA,
          limit: Number(o.limit),
          afterSeq: 0n,
          startSeq: o.startSeq === undefined ? 0n : BigInt(o.startSeq),
        },
        deadlineMs,
      );
      if (o.json) return io.out(res.trajectories.map((t) => JSON.stringify(StoredTrajectory.toJSON(t))).join("\n") + (res.trajectories.length ? "\n" : ""));
      io.out(trajectoryRows(res.trajectories));
      if (res.hasMore) io.out(`more: --start-seq ${res.nextStartSeq}\n`);
    });

  program
    .command("sample")
    .description("draw a uniform batch (increments reuse counters)")
    .requiredOption("-r, --run <id>", "run id")
    .requiredOption("-n, --batch-size <n>", "trajectories")
    .option("--seed <n>", "seed (reproducible draw)")
    .option("--replacement", "with replacement")
    .option("--min-version <v>", "only policy version >= v")
    .option("--json", "JSON lines")
    .action(async (o: { run: string; batchSize: string; seed?: string; replacement?: boolean; minVersion?: string; json?: boolean }) => {
      const res = await unary(
        c().sample.bind(c()),
        {
          runId: o.run,
          batchSize: Number(o.batchSize),
          withReplacement: Boolean(o.replacement),
          seed: o.seed === undefined ? undefined : BigInt(o.seed),
          minPolicyVersion: o.minVersion === undefined ? undefined : BigInt(o.minVersion),
        },
        deadlineMs,
      );
      if (o.json) return io.out(res.trajectories.map((t) => JSON.stringify(StoredTrajectory.toJSON(t))).join("\n") + "\n");
      io.out(trajectoryRows(res.trajectories) + `drawn from ${res.eligible} eligible\n`);
    });

  withFilters(program.command("export").description("stream trajectories as JSON lines"))
    .addOption(new Option("--view <view>", "what to include").choices(["full", "metadata", "summary"]))
    .option("-o, --out <file>", "write to a file instead of stdout")
    .action(async (o: FilterOptions & { view?: string; out?: string }) => {
      const sink = o.out ? fs.createWriteStream(o.out) : undefined;
      const write = (text: string) => (sink ? sink.write(text) : io.out(text));
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        const stream = c().export({ filter: filterFrom(o), view: viewFrom(o.view, View.VIEW_FULL) }, { deadline: new Date(Date.now() + deadlineMs) });
        stream.on("data", (m: ExportResponse) => {
          n++;
          write(JSON.stringify(StoredTrajectory.toJSON(m.trajectory!)) + "\n");
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      if (sink) {
        await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
        io.err(`exported ${n} trajectories to ${o.out}\n`);
      }
    });

  program
    .command("flush")
    .description("mark the buffer stale on a reference-policy reset")
    .requiredOption("-r, --run <id>", "run id")
    .requiredOption("--reset-id <id>", "names the reset (e.g. the new reference policy)")
    .action(async (o: { run: string; resetId: string }) => {
      const res = await unary(c().flush.bind(c()), { runId: o.run, resetId: o.resetId }, deadlineMs);
      io.out(`${res.alreadyApplied ? "already applied" : `flushed ${res.flushed}`}; epoch ${res.epoch}\n` + runRows([res.run!]));
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    const e = err as { code?: string | number; exitCode?: number; message?: string; details?: string };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    if (typeof e.code === "string" && e.code.startsWith("commander.")) return e.exitCode ?? 2;
    if (typeof e.code === "number" && e.details !== undefined) {
      io.err(`valor replay: ${status[e.code]}: ${(err as ServiceError).details}\n`);
      return 1;
    }
    io.err(`valor replay: ${e.message ?? String(err)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
