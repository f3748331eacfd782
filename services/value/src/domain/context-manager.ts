// Support buffers of all policies this process serves: loaded from the store
// on first use, written through on Observe, served from memory on Predict. When
// the store is unreachable (its last operation or heartbeat failed), Predict
// uses what is cached and says so.
import { UnavailableError } from "../../../../shared/errors";
import type { ContextStore } from "../store/mongo-context-store";
import { SupportBuffer, type ObservedBatch } from "./support-buffer";

export interface ContextView {
  buffer: SupportBuffer;
  fromCache: boolean;
}

export class ContextManager {
  private readonly buffers = new Map<string, SupportBuffer>();
  private readonly loading = new Map<string, Promise<SupportBuffer>>();
  private reachable = true;

  constructor(
    private readonly store: ContextStore,
    private readonly capacity: number,
  ) {}

  /** Told by the database client's heartbeats; store operations update it too. */
  setStoreReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  private async track<T>(operation: Promise<T>): Promise<T> {
    try {
      const result = await operation;
      this.reachable = true;
      return result;
    } catch (err) {
      if (err instanceof UnavailableError) this.reachable = false;
      throw err;
    }
  }

  private load(policyId: string, timeoutMs?: number): Promise<SupportBuffer> {
    const cached = this.buffers.get(policyId);
    if (cached) return Promise.resolve(cached);
    let pending = this.loading.get(policyId);
    if (!pending) {
      pending = this.track(this.store.load(policyId, timeoutMs))
        .then((batches) => {
          const buffer = new SupportBuffer(this.capacity);
          for (const b of batches) buffer.add(b);
          this.buffers.set(policyId, buffer);
          return buffer;
        })
        .finally(() => this.loading.delete(policyId));
      this.loading.set(policyId, pending);
    }
    return pending;
  }

  /** The context for a prediction; the cached one (possibly empty) when the store is down. */
  async forPrediction(policyId: string, timeoutMs?: number): Promise<ContextView> {
    try {
      const buffer = await this.load(policyId, timeoutMs);
      return { buffer, fromCache: !this.reachable };
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
      return { buffer: this.buffers.get(policyId) ?? new SupportBuffer(this.capacity), fromCache: true };
    }
  }

  /** Writes the batch through, then adds it to memory; false when it was observed before. */
  async observe(policyId: string, batch: ObservedBatch, timeoutMs?: number): Promise<{ applied: boolean; size: number }> {
    const buffer = await this.load(policyId, timeoutMs);
    if (buffer.has(batch.batchId)) return { applied: false, size: buffer.size };
    const inserted = await this.track(this.store.insert(policyId, batch, timeoutMs));
    // Inserted by another process meanwhile: reload rather than guess its place.
    if (!inserted) {
      this.buffers.delete(policyId);
      const reloaded = await this.load(policyId, timeoutMs);
      return { applied: false, size: reloaded.size };
    }
    buffer.add(batch);
    return { applied: true, size: buffer.size };
  }
}
