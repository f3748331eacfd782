// Runs a real service process for `valor train`'s local mode, integration tests, the demo and the
// benchmark. Readiness is the service's own "listening" log line (which carries
// the bound port), not a sleep.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { EXIT_WITH_PARENT_ENV } from "../grpc/runtime";
import { repoRoot } from "../paths";

export interface ServiceProcess {
  grpcPort: number;
  metricsPort: number | undefined;
  address: string;
  child: ChildProcess;
  /** Every JSON log line the service printed so far (none kept when they go to a log file). */
  logs: Array<Record<string, unknown>>;
  /** Other stdout lines (e.g. spans from OTEL_TRACES_EXPORTER=console). */
  otherOutput: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `service` is the folder under services/, e.g. "baseline". */
export function startServiceProcess(
  service: string,
  env: Record<string, string>,
  options: {
    startTimeoutMs?: number;
    /** Append the output here instead of keeping it in memory (long runs). */
    logFile?: string;
    /** Own process group: a terminal's Ctrl-C reaches only the parent, which stops the service in order. */
    detached?: boolean;
  } = {},
): Promise<ServiceProcess> {
  const main = path.join(repoRoot(), "dist", "services", service, "src", "main.js");
  const child = spawn(process.execPath, [main], {
    // The service stops when its stdin ends, i.e. when this process exits however it exits.
    env: { ...process.env, GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "info", [EXIT_WITH_PARENT_ENV]: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  const logs: Array<Record<string, unknown>> = [];
  const otherOutput: string[] = [];
  let stderr = "";
  const logFile = options.logFile ? fs.createWriteStream(options.logFile, { flags: "a" }) : undefined;
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
    logFile?.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      logFile?.end();
      resolve(code);
    }),
  );

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${service} did not start within ${options.startTimeoutMs ?? 20_000} ms\n${stderr}`));
    }, options.startTimeoutMs ?? 20_000);
    let listening = false;
    void exited.then((code) => {
      if (listening) return;
      clearTimeout(timer);
      reject(new Error(`${service} exited with code ${code} before listening\n${stderr}`));
    });
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      if (listening && logFile) {
        logFile.write(line + "\n");
        return;
      }
      logFile?.write(line + "\n");
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        otherOutput.push(line);
        return;
      }
      logs.push(entry);
      if (entry.message === "listening") {
        clearTimeout(timer);
        listening = true;
        const grpcPort = entry.grpcPort as number;
        resolve({
          grpcPort,
          metricsPort: entry.metricsPort as number | undefined,
          address: `127.0.0.1:${grpcPort}`,
          child,
          logs,
          otherOutput,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
  });
}
