// Starts and stops a local FerretDB (MongoDB wire protocol on SQLite) for
// `valor train`'s local mode, tests, the demo and the benchmark. Readiness is a successful `ping` through
// the official driver, not a sleep.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MongoClient } from "mongodb";
import { repoRoot } from "../paths";
import { freePort } from "./ports";
import { processAlive, waitForExit } from "./processes";

export function ferretdbBinary(): string {
  const bin = process.env.FERRETDB_BIN ?? path.join(repoRoot(), ".tools", "bin", "ferretdb");
  if (!fs.existsSync(bin)) throw new Error(`FerretDB not found at ${bin}; run \`make setup\``);
  return bin;
}

export interface FerretDb {
  uri: string;
  port: number;
  dataDir: string;
  /** Stops the server, keeping its data (restart() brings it back on the same port). */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its data. */
  destroy(): Promise<void>;
  /** Calls listener whenever the server exits without stop() (a crash or a kill); supervisors restart it. */
  onUnexpectedExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Fault drills and tests: SIGKILL the server. */
  kill(): void;
}

/** In the data folder: the pids of its FerretDB and of the process that started it. */
const PID_FILE = "ferretdb.pid";

/** The pid file's contents; undefined when it is unreadable (a write cut short). */
function readPidFile(file: string): { ferretdb: number; owner: number } | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    if (Number.isInteger(r.ferretdb) && Number.isInteger(r.owner)) return { ferretdb: r.ferretdb as number, owner: r.owner as number };
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * A FerretDB left running on this folder by a process that died without stopping it
 * (a SIGKILLed `valor train`) is stopped before a new one starts: two servers must not share
 * one SQLite folder. If the process that started it is still alive, the folder is in use.
 */
async function stopLeftover(dataDir: string): Promise<void> {
  const file = path.join(dataDir, PID_FILE);
  if (!fs.existsSync(file)) return;
  const recorded = readPidFile(file);
  if (!recorded) {
    fs.rmSync(file, { force: true });
    return;
  }
  const { ferretdb, owner } = recorded;
  if (owner !== process.pid && processAlive(owner)) {
    throw new Error(`${dataDir} is in use by the FerretDB of process ${owner} (delete ${file} if that is wrong)`);
  }
  // The pid may have been reused since: only a FerretDB serving this folder is ours to stop (Linux /proc).
  let cmdline: string[] = [];
  try {
    cmdline = fs.readFileSync(`/proc/${ferretdb}/cmdline`, "utf8").split("\0");
  } catch {
    // gone, or no /proc
  }
  if (cmdline.includes(`--state-dir=${dataDir}`)) {
    process.kill(ferretdb, "SIGTERM");
    if (!(await waitForExit(ferretdb, 10_000))) {
      process.kill(ferretdb, "SIGKILL");
      await waitForExit(ferretdb, 5_000);
    }
  }
  fs.rmSync(file, { force: true });
}

async function waitForPing(uri: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`FerretDB exited with code ${child.exitCode}`);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 250, connectTimeoutMS: 250 });
    try {
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.close();
    }
  }
  throw new Error(`FerretDB did not answer ping within ${timeoutMs} ms: ${String(lastError)}`);
}

export async function startFerretDb(options: { dataDir?: string; port?: number; startTimeoutMs?: number; /** See startServiceProcess. */ detached?: boolean } = {}): Promise<FerretDb> {
  const dataDir = path.resolve(options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "valor-ferretdb-")));
  fs.mkdirSync(dataDir, { recursive: true });
  await stopLeftover(dataDir);
  const pidFile = path.join(dataDir, PID_FILE);
  const port = options.port ?? (await freePort());
  const debugPort = await freePort();
  const uri = `mongodb://127.0.0.1:${port}/`;
  let child: ChildProcess | undefined;
  let stderr = "";
  let stopping = false;
  const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];

  const launch = async () => {
    stderr = "";
    child = spawn(
      ferretdbBinary(),
      [
        "--handler=sqlite",
        `--sqlite-url=file:${dataDir}/`,
        `--listen-addr=127.0.0.1:${port}`,
        `--debug-addr=127.0.0.1:${debugPort}`,
        `--state-dir=${dataDir}`,
        "--telemetry=disable",
        "--log-level=error",
      ],
      { stdio: ["ignore", "ignore", "pipe"], detached: options.detached ?? false },
    );
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const launched = child;
    launched.once("exit", (code, signal) => {
      if (!stopping && launched === child) for (const listener of exitListeners) listener(code, signal);
    });
    fs.writeFileSync(pidFile, JSON.stringify({ ferretdb: child.pid, owner: process.pid }));
    try {
      await waitForPing(uri, child, options.startTimeoutMs ?? 20_000);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${String(err)}\n${stderr}`);
    }
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    stopping = true;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
    stopping = false;
    fs.rmSync(pidFile, { force: true });
  };

  await launch();
  return {
    uri,
    port,
    dataDir,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    destroy: async () => {
      await stop();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    onUnexpectedExit: (listener) => void exitListeners.push(listener),
    kill: () => void child?.kill("SIGKILL"),
  };
}
