// A policy's support buffer: its most recent (prompt, pass rate) observations,
// at most `capacity`, oldest first.

export interface ContextRow {
  promptId: string;
  text: string;
  passRate: number;
  policyVersion: bigint;
}

export interface ObservedBatch {
  batchId: string;
  policyVersion: bigint;
  rows: ContextRow[];
}

export class SupportBuffer {
  private rows: ContextRow[] = [];
  private readonly batches = new Set<string>();

  constructor(readonly capacity: number) {}

  /** Adds a batch once; returns false when its id was seen before. */
  add(batch: ObservedBatch): boolean {
    if (this.batches.has(batch.batchId)) return false;
    this.batches.add(batch.batchId);
    this.rows.push(...batch.rows);
    if (this.rows.length > this.capacity) this.rows = this.rows.slice(this.rows.length - this.capacity);
    return true;
  }

  has(batchId: string): boolean {
    return this.batches.has(batchId);
  }

  get size(): number {
    return this.rows.length;
  }

  snapshot(): readonly ContextRow[] {
    return this.rows;
  }
}

/** The documented fallback when a context is too small: the smoothed mean of the rows there are (0.5 with none). */
export function fallbackPassRate(rows: readonly ContextRow[]): number {
  let sum = 0;
  for (const r of rows) sum += r.passRate;
  return (sum + 0.5) / (rows.length + 1);
}
