/**
 * A push-to-pull queue: a subscription pushes events, an error or its end; the caller pulls
 * them with `for await`. Leaving the loop (break, return, throw) stops the subscription.
 */

/** Where the stream is: still open, ending after its queue (with an error or not), or closed. */
type Phase = { name: "open" } | { name: "failing"; error: unknown } | { name: "ending" } | { name: "closed" };

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

export class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private phase: Phase = { name: "open" };
  private waiter: Waiter<T> | null = null;

  /** `stop` ends the underlying subscription; it is called once, when the stream closes. */
  constructor(private readonly stop: () => void) {}

  get closed(): boolean {
    return this.phase.name === "closed";
  }

  push(value: T): void {
    if (this.phase.name !== "open") return;
    const waiter = this.takeWaiter();
    if (waiter) waiter.resolve({ value, done: false });
    else this.queue.push(value);
  }

  /** Ends the stream with an error, thrown after the events already queued. */
  fail(error: unknown): void {
    if (this.phase.name !== "open") return;
    this.phase = { name: "failing", error };
    const waiter = this.takeWaiter();
    if (waiter) {
      this.close();
      waiter.reject(error);
    }
  }

  /** Ends the stream after the events already queued. */
  end(): void {
    if (this.phase.name !== "open") return;
    this.phase = { name: "ending" };
    const waiter = this.takeWaiter();
    if (waiter) {
      this.close();
      waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    const phase = this.phase;
    switch (phase.name) {
      case "open":
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      case "failing":
        this.close();
        return Promise.reject(phase.error);
      case "ending":
      case "closed":
        this.close();
        return Promise.resolve({ value: undefined, done: true });
    }
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    this.takeWaiter()?.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private takeWaiter(): Waiter<T> | null {
    const waiter = this.waiter;
    this.waiter = null;
    return waiter;
  }

  private close(): void {
    this.queue.length = 0;
    if (this.phase.name === "closed") return;
    this.phase = { name: "closed" };
    this.stop();
  }
}
