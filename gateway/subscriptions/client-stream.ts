/**
 * Sending subscription events to clients.
 *
 * graphql-ws runs the protocol (connection_init, subscribe, complete, ping, close codes) but its
 * per-event path serialises the whole payload once per client and takes several promise hops per
 * message; with one result fanned out to thousands of clients that was most of the gateway's
 * work. So events bypass it: a group serialises each result once, and every client's `next`
 * message is that JSON with the client's subscription id around it, written to the socket
 * directly. graphql-ws still owns each subscription's lifecycle through the ClientStream it
 * iterates, which yields nothing and ends when the subscription ends, so its `complete` or
 * `error` message follows the last event on the socket.
 *
 * Backpressure: a ClientConnection counts the messages written to its socket that the operating
 * system has not accepted yet (for all its subscriptions). A client that reads too slowly lets
 * them pile up; at `limit` the connection is closed with SLOW_CONSUMER_CLOSE_CODE and a reason,
 * instead of buffering without bound. Events are not dropped silently: the client learns it
 * missed events and can reconnect and catch up.
 */
import type { GraphQLFormattedError } from "graphql";
import type { WebSocket } from "ws";
import { SubscriptionFailure } from "./errors.js";

/** One client socket's outgoing events. */
export class ClientConnection {
  private unflushed = 0;
  private exhausted = false;
  private readonly flushed = () => {
    this.unflushed--;
  };

  constructor(
    private readonly socket: WebSocket,
    readonly limit: number,
    private readonly onExhausted: () => void,
  ) {}

  /** Messages handed to the socket and not yet accepted by the operating system. */
  get pending(): number {
    return this.unflushed;
  }

  /** Sends `{"id":…,"type":"next","payload":…}` with an already serialised id and payload. */
  sendNext(idJson: string, payloadJson: string): void {
    if (this.exhausted || this.socket.readyState !== this.socket.OPEN) return;
    if (this.unflushed >= this.limit) {
      this.exhausted = true;
      this.onExhausted();
      return;
    }
    this.unflushed++;
    this.socket.send(`{"id":${idJson},"type":"next","payload":${payloadJson}}`, this.flushed);
  }
}

/**
 * One client subscription, as the async iterator graphql-ws consumes. It yields nothing (events
 * are sent directly, see above); its pending `next()` settles when the subscription ends:
 * done (graphql-ws sends `complete`) or rejected with a SubscriptionFailure (graphql-ws sends an
 * `error` message with its errors).
 */
export class ClientStream implements AsyncIterableIterator<never> {
  private readonly idJson: string;
  private closed = false;
  private ending: { failure: SubscriptionFailure | null } | null = null;
  private consumer: {
    resolve: (step: IteratorResult<never>) => void;
    reject: (error: unknown) => void;
  } | null = null;

  constructor(
    private readonly connection: ClientConnection,
    id: string,
    /** Called once, when the stream closes for any reason. */
    private readonly onClose: () => void,
  ) {
    this.idJson = JSON.stringify(id);
  }

  /** Sends one event: a formatted execution result, serialised. */
  push(payloadJson: string): void {
    if (this.closed || this.ending) return;
    this.connection.sendNext(this.idJson, payloadJson);
  }

  /** Ends the subscription with errors (a graphql-ws `error` message). */
  fail(errors: readonly GraphQLFormattedError[]): void {
    this.finish(new SubscriptionFailure(errors));
  }

  /** Ends the subscription normally (a graphql-ws `complete` message). */
  end(): void {
    this.finish(null);
  }

  next(): Promise<IteratorResult<never>> {
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
  return(): Promise<IteratorResult<never>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error: unknown): Promise<IteratorResult<never>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(failure: SubscriptionFailure | null): void {
    if (this.closed || this.ending) return;
    this.ending = { failure };
    const consumer = this.consumer;
    if (!consumer) return;
    this.consumer = null;
    this.close();
    if (failure) consumer.reject(failure);
    else consumer.resolve({ done: true, value: undefined });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.consumer?.resolve({ done: true, value: undefined });
    this.consumer = null;
    this.onClose();
  }
}
