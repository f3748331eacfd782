// The learner's one mutable thing: the training state. Steps run one at a
// time; each builds a complete new state and swaps it in only on success.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn after everything queued before it, whatever their outcome. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
