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
 * Backpressure: a ClientConnection watches the bytes written to its socket that the operating
 * system has not accepted yet (for all its subscriptions). A client that reads too slowly lets
 * them pile up; past `limit` messages' worth the connection is closed with
 * SLOW_CONSUMER_CLOSE_CODE and a reason, instead of buffering without bound. Events are not dropped silently: the client learns it
 * missed events and can reconnect and catch up.
 */
import type { GraphQLFormattedError } from "graphql";
import type { WebSocket } from "ws";
import { SubscriptionFailure } from "./errors.js";

/**
 * One event's `next` messages, encoded once per distinct subscription id. Clients usually number
 * their subscriptions alike ("1", "2"…), so most of a group shares one buffer and the payload is
 * encoded to UTF-8 once, not once per client; ws writes a shared buffer without copying it.
 */
export class OutgoingEvent {
  private readonly messages = new Map<string, Buffer>();

  constructor(readonly payloadJson: string) {}

  messageFor(idJson: string): Buffer {
    let message = this.messages.get(idJson);
    if (!message) {
      message = Buffer.from(`{"id":${idJson},"type":"next","payload":${this.payloadJson}}`);
      this.messages.set(idJson, message);
    }
    return message;
  }
}

/** One client socket's outgoing events. */
export class ClientConnection {
  private exhausted = false;

  constructor(
    private readonly socket: WebSocket,
    readonly limit: number,
    private readonly onExhausted: () => void,
  ) {}

  /**
   * Sends the event's `{"id":…,"type":"next","payload":…}` message for this subscription id.
   * Backpressure reads the socket's own count of bytes the operating system has not accepted
   * (`bufferedAmount`): past `limit` messages' worth, the client is too slow. Counting with a
   * write callback per message would cost a closure and a queue entry on every delivery.
   */
  sendNext(idJson: string, event: OutgoingEvent): void {
    if (this.exhausted || this.socket.readyState !== this.socket.OPEN) return;
    const message = event.messageFor(idJson);
    if (this.socket.bufferedAmount >= this.limit * message.length) {
      this.exhausted = true;
      this.onExhausted();
      return;
    }
    this.socket.send(message, { binary: false });
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

  /** Sends one event (a formatted execution result, serialised once for the whole group). */
  push(event: OutgoingEvent): void {
    if (this.closed || this.ending) return;
    this.connection.sendNext(this.idJson, event);
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
