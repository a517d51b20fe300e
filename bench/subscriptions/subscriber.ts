/**
 * A benchmark subscriber: one WebSocket speaking graphql-transport-ws directly (connection_init,
 * subscribe, next, ping/pong, complete). Thousands of them share the benchmark's event loop with
 * the gateway's 2 cores, so they keep to the protocol's few messages instead of carrying the
 * graphql-ws client's machinery (message validation, emitter, sinks, retries). The tests use the
 * real graphql-ws client. (UTF-8 validation of incoming frames is skipped too: the gateway is
 * trusted here and the check is per byte of every message.)
 */
import WebSocket from "ws";

export interface SubscriberEvents {
  next(payload: { data?: Record<string, unknown> | null; errors?: unknown[] }): void;
  /** The subscription ended with an `error` message (its first error's code) or the socket closed. */
  ended(reason: { code: string } | { closeCode: number }): void;
}

export class BenchSubscriber {
  private readonly socket: WebSocket;
  private done = false;

  constructor(url: string, authorization: string, query: string, events: SubscriberEvents) {
    this.socket = new WebSocket(url, "graphql-transport-ws", {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    this.socket.on("open", () => {
      this.socket.send(JSON.stringify({ type: "connection_init", payload: { authorization } }));
    });
    this.socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
      switch (message.type) {
        case "connection_ack":
          this.socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query } }));
          return;
        case "next":
          events.next(message.payload as Parameters<SubscriberEvents["next"]>[0]);
          return;
        case "error": {
          const [first] = message.payload as { extensions?: { code?: string } }[];
          this.done = true;
          events.ended({ code: String(first?.extensions?.code) });
          return;
        }
        case "complete":
          this.done = true;
          return;
        case "ping":
          this.socket.send('{"type":"pong"}');
          return;
      }
    });
    this.socket.on("close", (code) => {
      if (!this.done && code !== 1000) events.ended({ closeCode: code });
      this.done = true;
    });
    this.socket.on("error", () => {});
  }

  close(): Promise<void> {
    this.done = true;
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close(1000);
    });
  }
}
