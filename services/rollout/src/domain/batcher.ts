// Dynamic batching: generation requests that arrive within a short window of
// each other, or while the engine is busy, are decoded together (up to a size
// limit), on the policy version current when that batch starts.
import type { DecodeSequence, PolicyBackend } from "./generation";
import type { PolicyStore, PolicyVersion } from "./policy-store";

interface Job {
  sequences: DecodeSequence[];
  resolve: (version: PolicyVersion) => void;
  reject: (err: unknown) => void;
}

export interface BatchStats {
  batches: number;
  sequences: number;
  largestBatch: number;
}

export class DynamicBatcher {
  private readonly queue: Job[] = [];
  private running = false;
  readonly stats: BatchStats = { batches: 0, sequences: 0, largestBatch: 0 };

  constructor(
    private readonly backend: PolicyBackend,
    private readonly store: PolicyStore,
    private readonly maxBatchSequences: number,
    /** How long an idle engine waits for more requests before it starts a batch. */
    private readonly windowMs = 0,
  ) {}

  /** Decodes the sequences (filling them in place); resolves with the policy version used. */
  submit(sequences: DecodeSequence[]): Promise<PolicyVersion> {
    return new Promise((resolve, reject) => {
      this.queue.push({ sequences, resolve, reject });
      if (!this.running) {
        this.running = true;
        setTimeout(() => void this.drain(), this.windowMs);
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // A job larger than the limit runs alone; otherwise take jobs while they fit.
        const batch: Job[] = [this.queue.shift()!];
        let size = batch[0]!.sequences.length;
        while (this.queue.length > 0 && size + this.queue[0]!.sequences.length <= this.maxBatchSequences) {
          const job = this.queue.shift()!;
          size += job.sequences.length;
          batch.push(job);
        }
        const policy = this.store.current;
        try {
          await this.backend.generate(policy.params, batch.flatMap((j) => j.sequences));
          this.stats.batches++;
          this.stats.sequences += size;
          this.stats.largestBatch = Math.max(this.stats.largestBatch, size);
          for (const job of batch) job.resolve(policy);
        } catch (err) {
          for (const job of batch) job.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
