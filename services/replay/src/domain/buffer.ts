// A run's FIFO buffer: entries in sequence order, at most `capacity` of them.
// Appending beyond the capacity evicts the oldest exactly. Kept as an array
// with a moving head, so eviction is O(1) amortised and position i (for
// uniform sampling) is O(1).
import type { Entry } from "./types";

export class FifoBuffer {
  private items: Entry[] = [];
  private head = 0;

  constructor(public capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  at(i: number): Entry {
    return this.items[this.head + i]!;
  }

  oldest(): Entry | undefined {
    return this.size > 0 ? this.items[this.head] : undefined;
  }

  newest(): Entry | undefined {
    return this.size > 0 ? this.items[this.items.length - 1] : undefined;
  }

  /** Appends entries (each with a seq above every entry present); returns how many were evicted. */
  push(entries: readonly Entry[]): number {
    const newest = this.newest();
    let last = newest ? newest.seq : -1;
    for (const e of entries) {
      if (e.seq <= last) throw new Error(`buffer: seq ${e.seq} is not above ${last}`);
      last = e.seq;
      this.items.push(e);
    }
    return this.trim();
  }

  /** Sets the capacity; returns how many entries were evicted. */
  resize(capacity: number): number {
    this.capacity = capacity;
    return this.trim();
  }

  clear(): number {
    const n = this.size;
    this.items = [];
    this.head = 0;
    return n;
  }

  private trim(): number {
    const over = Math.max(0, this.size - this.capacity);
    this.head += over;
    // Compact once the dead prefix is as long as the live part.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return over;
  }

  /** The entry with this seq, if it is in the buffer (binary search). */
  findSeq(seq: number): Entry | undefined {
    let lo = this.head;
    let hi = this.items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.items[mid]!.seq;
      if (s === seq) return this.items[mid];
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  *entries(): IterableIterator<Entry> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}

/** Which index ranges of each step were appended: detects retries and overlaps. */
export class StepRanges {
  private byStep = new Map<number, Array<{ start: number; end: number; manifestId: string }>>();

  add(step: number, start: number, count: number, manifestId: string): void {
    const list = this.byStep.get(step) ?? [];
    list.push({ start, end: start + count, manifestId });
    list.sort((a, b) => a.start - b.start);
    this.byStep.set(step, list);
  }

  /** "new", "same" (this exact range was appended) or the range it overlaps. */
  check(step: number, start: number, count: number): { kind: "new" } | { kind: "same"; manifestId: string } | { kind: "overlap"; start: number; end: number } {
    const end = start + count;
    for (const r of this.byStep.get(step) ?? []) {
      if (r.start === start && r.end === end) return { kind: "same", manifestId: r.manifestId };
      if (r.start < end && start < r.end) return { kind: "overlap", start: r.start, end: r.end };
    }
    return { kind: "new" };
  }
}
