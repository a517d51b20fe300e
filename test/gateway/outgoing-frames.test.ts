/**
 * Subscription events leave the gateway as frames it builds itself and writes to the socket under
 * ws (client-stream.ts). A real ws client must read them as the text they carry, at every length
 * encoding, in order with the messages ws itself sends on the same socket.
 */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { ClientConnection, OutgoingEvent, textFrame } from "../../gateway/subscriptions/client-stream.js";

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A ws server and one connected client; `received` collects the client's text messages. */
async function connectedPair() {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  const serverSide = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on("message", (data, isBinary) => received.push(isBinary ? "<binary>" : String(data)));
  await new Promise((resolve) => client.once("open", resolve));
  return { socket: await serverSide, client, received };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("subscription event frames", () => {
  it("are read by a ws client as the text they carry, at every payload length encoding", async () => {
    const { socket, client, received } = await connectedPair();
    // 7-bit, 16-bit and 64-bit lengths, their edges, and multi-byte UTF-8.
    const texts = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000].map((length) => "x".repeat(length));
    texts.push("é✓😀 ".repeat(40_000));
    const raw = (socket as unknown as { _socket: { write(data: Buffer): void } })._socket;
    for (const text of texts) raw.write(textFrame(text));
    await until(() => received.length === texts.length);
    expect(received.map((text) => text.length)).toEqual(texts.map((text) => text.length));
    expect(received).toEqual(texts);
    client.close();
  });

  it("go out in order with the messages ws sends, one shared buffer per subscription id", async () => {
    const { socket, client, received } = await connectedPair();
    const connection = new ClientConnection(socket, 100, () => {
      throw new Error("not exhausted in this test");
    });
    // The internals the direct write relies on (a ws upgrade that renames them would silently
    // send through the slower fallback instead).
    const internals = socket as unknown as { _socket?: unknown; _sender?: { _state?: number } };
    expect(internals._socket).toBeDefined();
    expect(internals._sender?._state).toBe(0);
    const first = new OutgoingEvent('{"data":{"n":1}}');
    const second = new OutgoingEvent('{"data":{"n":2}}');
    expect(first.frameFor('"a"')).toBe(first.frameFor('"a"'));
    socket.send('{"type":"connection_ack"}');
    connection.sendNext('"a"', first);
    connection.sendNext('"b"', first);
    socket.send('{"id":"b","type":"complete"}');
    connection.sendNext('"a"', second);
    await until(() => received.length === 5);
    expect(received.map((message) => JSON.parse(message))).toEqual([
      { type: "connection_ack" },
      { id: "a", type: "next", payload: { data: { n: 1 } } },
      { id: "b", type: "next", payload: { data: { n: 1 } } },
      { id: "b", type: "complete" },
      { id: "a", type: "next", payload: { data: { n: 2 } } },
    ]);
    client.close();
  });
});
