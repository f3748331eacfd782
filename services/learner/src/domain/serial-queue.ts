// Runs the learner's steps and checkpoints one at a time: each step builds a
// complete new training state and swaps it in only on success.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn after everything queued before it, whatever their outcome. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
