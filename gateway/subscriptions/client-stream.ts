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

import type { Writable } from "node:stream";
import type { GraphQLFormattedError } from "graphql";
import type { WebSocket } from "ws";
import { SubscriptionFailure } from "./errors.js";

/**
 * One event's `next` messages as WebSocket frames, built once per distinct subscription id.
 * Clients usually number their subscriptions alike ("1", "2"…), so most of a group shares one
 * buffer: the payload is encoded to UTF-8 and framed once, not once per client.
 */
export class OutgoingEvent {
  private readonly frames = new Map<string, Buffer>();

  constructor(readonly payloadJson: string) {}

  frameFor(idJson: string): Buffer {
    let frame = this.frames.get(idJson);
    if (!frame) {
      frame = textFrame(`{"id":${idJson},"type":"next","payload":${this.payloadJson}}`);
      this.frames.set(idJson, frame);
    }
    return frame;
  }
}

/**
 * A final, unmasked WebSocket text frame (RFC 6455 §5.2), as a server sends it: the same bytes
 * for every client, so one buffer serves a whole group. ws would build a header per client and
 * write header and payload with cork/writev: measured side by side on 500 loopback sockets, a
 * shared frame written directly cost 1.8–2.4 µs of user CPU per send against 3.0–3.6 µs through
 * `ws.send` (the kernel's write, about 7 µs, is the same for both). ws has no public API for
 * sending a prepared frame, hence these few lines.
 */
export function textFrame(text: string): Buffer {
  const payloadLength = Buffer.byteLength(text);
  const headerLength = payloadLength < 126 ? 2 : payloadLength < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + payloadLength);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (headerLength === 2) {
    frame[1] = payloadLength;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLength, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  frame.write(text, headerLength, "utf8");
  return frame;
}

/**
 * ws's internals this module relies on to write ready-made frames: the connection's socket, and
 * its sender's state (0 while it writes every frame as it comes; it queues frames only while
 * compressing or reading a Blob, which this server never does).
 */
interface WsInternals {
  _socket?: Writable;
  _sender?: { _state?: number };
}

/** One client socket's outgoing events. */
export class ClientConnection {
  private exhausted = false;
  private readonly internals: WsInternals;

  constructor(
    private readonly socket: WebSocket,
    readonly limit: number,
    private readonly onExhausted: () => void,
  ) {
    this.internals = socket as unknown as WsInternals;
  }

  /**
   * Sends the event's `{"id":…,"type":"next","payload":…}` frame for this subscription id.
   * Backpressure reads the socket's own count of bytes the operating system has not accepted
   * (`bufferedAmount`): past `limit` messages' worth, the client is too slow. Counting with a
   * write callback per message would cost a closure and a queue entry on every delivery.
   *
   * The frame goes straight to the TCP (or TLS) socket, after every frame ws has written before
   * (ws writes synchronously while its sender is idle), so `next`, `complete` and `error`
   * messages keep their order. Should ws ever hold frames back, this falls back to `send`.
   */
  sendNext(idJson: string, event: OutgoingEvent): void {
    if (this.exhausted || this.socket.readyState !== this.socket.OPEN) return;
    const frame = event.frameFor(idJson);
    if (this.socket.bufferedAmount >= this.limit * frame.length) {
      this.exhausted = true;
      this.onExhausted();
      return;
    }
    const { _socket: raw, _sender: sender } = this.internals;
    if (raw && sender?._state === 0) raw.write(frame);
    else this.socket.send(unframed(frame), { binary: false });
  }
}

/** The payload of a frame made by textFrame. */
function unframed(frame: Buffer): Buffer {
  const length = frame[1]!;
  return frame.subarray(length < 126 ? 2 : length === 126 ? 4 : 10);
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
