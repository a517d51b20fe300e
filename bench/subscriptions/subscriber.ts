/**
 * A benchmark subscriber: one WebSocket speaking graphql-transport-ws (connection_init,
 * subscribe, next, ping/pong, complete, error) over a bare TCP socket.
 *
 * Why not the ws or graphql-ws client: thousands of these run in one process on the same two
 * cores as the gateway they measure, so every microsecond they spend per message is taken from
 * the system under test and shows up as its latency. Through ws's client they cost about 15 µs of
 * CPU per message (its receiver is a stream, each message an event and a Buffer); reading with
 * `onread` into one shared buffer and parsing the few frame kinds a server sends cuts that by a
 * third (the kernel's share stays). The tests use the real graphql-ws client; this is a load
 * generator, as a real client on its own machine costs the server nothing.
 *
 * It understands exactly what the gateway sends: unfragmented text frames, ping, close. Anything
 * else is a bug in this client or the server, and ends the subscriber with a close code 1002.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";

export interface SubscriberEvents {
  next(payload: { data?: Record<string, unknown> | null; errors?: unknown[] }): void;
  /** The subscription ended with an `error` message (its first error's code) or the socket closed. */
  ended(reason: { code: string } | { closeCode: number }): void;
}

/** Shared by every subscriber in the process: each read is parsed before the next one lands. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

const OPCODE = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

export class BenchSubscriber {
  private readonly socket: net.Socket;
  private done = false;
  private upgraded = false;
  /** Bytes of an incomplete HTTP response or frame, kept until the rest arrives. */
  private pending: Buffer | null = null;

  constructor(
    url: string,
    private readonly authorization: string,
    private readonly query: string,
    private readonly events: SubscriberEvents,
  ) {
    const { hostname, port, pathname } = new URL(url);
    this.socket = net.connect({
      host: hostname,
      port: Number(port),
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (length, buffer) => {
          this.onRead(buffer as Buffer, length);
          return true;
        },
      },
    });
    this.socket.on("connect", () => {
      this.socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
      );
    });
    this.socket.on("close", () => this.end(1006));
    this.socket.on("error", () => {});
  }

  close(): Promise<void> {
    this.done = true;
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      if (this.upgraded) this.sendFrame(OPCODE.close, Buffer.from([0x03, 0xe8])); // 1000
      this.socket.end();
    });
  }

  private onRead(buffer: Buffer, length: number): void {
    let data = buffer.subarray(0, length);
    if (this.pending) {
      data = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    let offset = 0;
    if (!this.upgraded) {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) {
        this.pending = Buffer.from(data);
        return;
      }
      const status = data.toString("latin1", 0, end).split(" ", 2)[1];
      if (status !== "101") {
        this.end(Number(status) || 1002);
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      offset = end + 4;
      this.sendText(
        JSON.stringify({ type: "connection_init", payload: { authorization: this.authorization } }),
      );
    }
    while (offset < data.length) {
      const consumed = this.onFrame(data, offset);
      if (consumed === 0) {
        // Copied: `readBuffer` is overwritten by the next read.
        this.pending = Buffer.from(data.subarray(offset));
        return;
      }
      offset += consumed;
    }
  }

  /** Handles the frame at `offset`; returns its size, or 0 when it has not fully arrived. */
  private onFrame(data: Buffer, offset: number): number {
    if (data.length - offset < 2) return 0;
    const first = data[offset]!;
    let length = data[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - offset < 4) return 0;
      length = data.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (data.length - offset < 10) return 0;
      length = Number(data.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (data.length - offset < header + length) return 0;
    const start = offset + header;
    const opcode = first & 0x0f;
    if ((first & 0x80) === 0 || (data[offset + 1]! & 0x80) !== 0) {
      // Fragmented or masked: never sent by the gateway.
      this.end(1002);
      this.socket.destroy();
    } else if (opcode === OPCODE.text) {
      this.onMessage(data.toString("utf8", start, start + length));
    } else if (opcode === OPCODE.ping) {
      this.sendFrame(OPCODE.pong, data.subarray(start, start + length));
    } else if (opcode === OPCODE.close) {
      this.end(length >= 2 ? data.readUInt16BE(start) : 1005);
      this.socket.end();
    }
    return header + length;
  }

  private onMessage(text: string): void {
    const message = JSON.parse(text) as { type: string; payload?: unknown };
    switch (message.type) {
      case "connection_ack":
        this.sendText(JSON.stringify({ id: "1", type: "subscribe", payload: { query: this.query } }));
        return;
      case "next":
        this.events.next(message.payload as Parameters<SubscriberEvents["next"]>[0]);
        return;
      case "error": {
        const [first] = message.payload as { extensions?: { code?: string } }[];
        this.done = true;
        this.events.ended({ code: String(first?.extensions?.code) });
        return;
      }
      case "complete":
        this.done = true;
        return;
      case "ping":
        this.sendText('{"type":"pong"}');
        return;
    }
  }

  private end(closeCode: number): void {
    if (!this.done && closeCode !== 1000) this.events.ended({ closeCode });
    this.done = true;
  }

  private sendText(text: string): void {
    this.sendFrame(OPCODE.text, Buffer.from(text));
  }

  /** A client frame (RFC 6455 §5.2): final, masked. Clients send a handful, so no care for speed. */
  private sendFrame(opcode: number, payload: Buffer): void {
    const length = payload.length;
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const frame = Buffer.alloc(header + 4 + length);
    frame[0] = 0x80 | opcode;
    if (header === 2) frame[1] = 0x80 | length;
    else if (header === 4) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = randomBytes(4);
    mask.copy(frame, header);
    for (let i = 0; i < length; i++) frame[header + 4 + i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(frame);
  }
}
