// Coalesces concurrent predictions into one model call: requests wait up to
// `maxWaitMs` (or until `maxBatch` have arrived) and are run together; each
// caller gets its own rows of the output.

export interface BatchRunner<In, Out> {
  run(inputs: In[]): Promise<Out[]>;
}

interface Pending<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<In, Out> {
  private queue: Array<Pending<In, Out>> = [];
  private timer: NodeJS.Timeout | undefined;
  readonly stats = { calls: 0, batches: 0, largestBatch: 0 };

  constructor(
    private readonly runner: BatchRunner<In, Out>,
    private readonly maxBatch: number,
    private readonly maxWaitMs: number,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.stats.calls++;
      if (this.queue.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.stats.batches++;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      this.runner.run(batch.map((p) => p.input)).then(
        (outs) => batch.forEach((p, i) => p.resolve(outs[i]!)),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      );
    }
  }
}
