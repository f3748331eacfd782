// The verifier: a fast path on the calling thread (extraction, normalisation,
// string and plain-number equality need no CAS), and a piscina pool of worker
// threads for everything that needs the CAS. Each pooled item has a time
// limit; on expiry the task is aborted, which terminates its worker (piscina
// replaces it), and the item is TIMEOUT. The pool admits at most one task per
// thread, so an item's limit runs from when a worker takes it, not from when
// it was queued behind a large batch.
import os from "node:os";
import path from "node:path";
import { Piscina } from "piscina";
import { NeedsCas } from "../domain/equivalence";
import { verifyItem, type Outcome, type VerifyInput, type VerifySettings } from "../domain/verify";
import type { WorkerTask } from "./verify-worker";

export interface VerifierOptions {
  /** Worker threads (default: available parallelism). */
  threads?: number;
}

export interface Verified extends Outcome {
  elapsedMs: number;
  /** Whether the item went to the worker pool. */
  pooled: boolean;
}

interface Waiter {
  resolve: () => void;
}

export class Verifier {
  private readonly pool: Piscina;
  private readonly threads: number;
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Workers terminated after a time limit (for tests and metrics). */
  timeouts = 0;

  constructor(options: VerifierOptions = {}) {
    this.threads = Math.max(1, options.threads ?? os.availableParallelism());
    this.pool = new Piscina({
      filename: path.join(__dirname, "verify-worker.js"),
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      concurrentTasksPerWorker: 1,
    });
  }

  get threadCount(): number {
    return this.threads;
  }

  /** Starts every worker (loading the CAS) before the first request. */
  async warm(settings: VerifySettings): Promise<void> {
    const probe: VerifyInput = { id: "warm", response: "\\boxed{x+x}", gold: "2x", taskKind: "math" };
    await Promise.all(Array.from({ length: this.threads }, () => this.pool.run({ input: probe, settings } satisfies WorkerTask)));
  }

  private async acquire(signal?: AbortSignal): Promise<void> {
    if (this.active < this.threads) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve };
      this.waiting.push(waiter);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
    // The releasing task handed its slot over (active unchanged).
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.active--;
  }

  /** Verifies one item: fast path first, the pool when the CAS is needed. Never throws for item content. */
  async verify(input: VerifyInput, settings: VerifySettings, timeoutMs: number, signal?: AbortSignal): Promise<Verified> {
    const started = performance.now();
    try {
      const fast = verifyItem(input, settings, undefined);
      return { ...fast, elapsedMs: performance.now() - started, pooled: false };
    } catch (err) {
      if (!(err instanceof NeedsCas)) throw err;
    }
    await this.acquire(signal);
    const taskStarted = performance.now();
    const limit = AbortSignal.timeout(timeoutMs);
    const abort = signal ? AbortSignal.any([limit, signal]) : limit;
    try {
      const out = (await this.pool.run({ input, settings } satisfies WorkerTask, { signal: abort })) as Outcome;
      return { ...out, elapsedMs: performance.now() - started, pooled: true };
    } catch (err) {
      if (limit.aborted) {
        this.timeouts++;
        return {
          status: "TIMEOUT",
          reason: `verification ran past the ${timeoutMs} ms limit (${Math.round(performance.now() - taskStarted)} ms); the worker was replaced`,
          extracted: "",
          normalizedGold: "",
          normalizedPrediction: "",
          rule: "timeout",
          extraction: "",
          elapsedMs: performance.now() - started,
          pooled: true,
        };
      }
      throw err;
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
