/**
 * A client subscription's outgoing events: the async iterator the graphql-ws server consumes.
 *
 * The server awaits each WebSocket send before it asks for the next event, so when a client reads
 * slowly its events wait here. Every connection has one budget, shared by all its subscriptions:
 * at most `limit` events may wait. When one more arrives, the connection is closed with
 * SLOW_CONSUMER_CLOSE_CODE and a reason (see ws-server.ts) instead of letting memory grow: the
 * client learns it missed events, rather than silently receiving a gapped stream.
 */
import type { FormattedExecutionResult, GraphQLFormattedError } from "graphql";
import { SubscriptionFailure } from "./errors.js";

export class ConnectionBudget {
  private waiting = 0;
  private exhausted = false;

  constructor(
    readonly limit: number,
    private readonly onExhausted: () => void,
  ) {}

  /** True once the limit was hit: the connection is closing and takes no more events. */
  get overflowed(): boolean {
    return this.exhausted;
  }

  /** Events waiting on this connection now. */
  get pending(): number {
    return this.waiting;
  }

  /** Reserves room for one waiting event; false (and the connection closing) when there is none. */
  take(): boolean {
    if (this.exhausted) return false;
    if (this.waiting >= this.limit) {
      this.exhausted = true;
      this.onExhausted();
      return false;
    }
    this.waiting++;
    return true;
  }

  give(count = 1): void {
    this.waiting -= count;
  }
}

type Result = FormattedExecutionResult;

export class ClientStream implements AsyncIterableIterator<Result> {
  private readonly queue: Result[] = [];
  private consumer: {
    resolve: (step: IteratorResult<Result>) => void;
    reject: (error: unknown) => void;
  } | null = null;
  /** Set when the source ended: delivered after the queued events. */
  private ending: { failure: SubscriptionFailure | null } | null = null;
  private closed = false;

  constructor(
    private readonly budget: ConnectionBudget,
    /** Called once, when the stream closes for any reason. */
    private readonly onClose: () => void,
  ) {}

  push(result: Result): void {
    if (this.closed || this.ending || this.budget.overflowed) return;
    if (this.consumer) {
      const { resolve } = this.consumer;
      this.consumer = null;
      resolve({ done: false, value: result });
      return;
    }
    if (this.budget.take()) this.queue.push(result);
  }

  /** Ends the stream with errors (sent as a graphql-ws `error` message after queued events). */
  fail(errors: readonly GraphQLFormattedError[]): void {
    this.finish(new SubscriptionFailure(errors));
  }

  /** Ends the stream normally (graphql-ws `complete`) after queued events. */
  end(): void {
    this.finish(null);
  }

  next(): Promise<IteratorResult<Result>> {
    const queued = this.queue.shift();
    if (queued) {
      this.budget.give();
      return Promise.resolve({ done: false, value: queued });
    }
    if (this.ending) {
      const { failure } = this.ending;
      this.close();
      return failure ? Promise.reject(failure) : Promise.resolve({ done: true, value: undefined });
    }
    if (this.closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.consumer = { resolve, reject };
    });
  }

  /** The client completed the subscription or disconnected. */
  return(): Promise<IteratorResult<Result>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error: unknown): Promise<IteratorResult<Result>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(failure: SubscriptionFailure | null): void {
    if (this.closed || this.ending) return;
    this.ending = { failure };
    if (this.consumer) {
      const consumer = this.consumer;
      this.consumer = null;
      this.close();
      if (failure) consumer.reject(failure);
      else consumer.resolve({ done: true, value: undefined });
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.give(this.queue.length);
    this.queue.length = 0;
    if (this.consumer) {
      this.consumer.resolve({ done: true, value: undefined });
      this.consumer = null;
    }
    this.onClose();
  }
}
