/**
 * A child process of the subscription benchmark: the WebSocket fan-out floor. A bare `ws` server
 * that speaks just enough graphql-transport-ws for the benchmark's subscribers (ack, subscribe)
 * and sends them an event shaped like the gateway's at the same rate, written the same way
 * (one prepared string per client, 256 clients per event-loop turn). No GraphQL, no Redis, no
 * subgraph: what remains is the cost of the sockets themselves on this machine.
 */

import type { WebSocket } from "ws";
import { WebSocketServer } from "ws";

interface FloorJob {
  /** The first event's version: a warm-up run and the measured run follow one another. */
  firstVersion: number;
  events: number;
  perSecond: number;
}

const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
const subscribed = new Set<WebSocket>();
server.on("connection", (socket) => {
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { type: string };
    if (message.type === "connection_init") socket.send('{"type":"connection_ack"}');
    if (message.type === "subscribe") subscribed.add(socket);
  });
  socket.on("close", () => subscribed.delete(socket));
});
server.on("listening", () => {
  const address = server.address() as { port: number };
  process.send?.({ type: "ready", url: `ws://127.0.0.1:${address.port}/`, subscribed: 0 });
});

process.once("disconnect", () => process.exit(1));
process.on("message", async (message: { type: string } & Partial<FloorJob>) => {
  if (message.type === "count") {
    process.send?.({ type: "count", subscribed: subscribed.size });
    return;
  }
  if (message.type !== "run") return;
  const job = message as FloorJob;
  const cpuBefore = process.cpuUsage();
  const startNs = process.hrtime.bigint();
  const start = performance.now();
  let sent = 0;
  for (let i = 0; i < job.events; i++) {
    const wait = start + (i * 1000) / job.perSecond - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Stamped with when the event was due, not when the loop got to it: a server that falls
    // behind its schedule shows it as latency instead of hiding it (coordinated omission).
    const dueNs = startNs + BigInt(Math.round((i * 1e9) / job.perSecond));
    const version = job.firstVersion + i;
    const payload = JSON.stringify({
      data: {
        agentStateChanged: {
          version,
          data: { step: version, note: "benchmark write" },
          createdAt: new Date().toISOString(),
          sentNs: String(dueNs),
        },
      },
    });
    const members = [...subscribed];
    for (let m = 0; m < members.length; m++) {
      if (m > 0 && m % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      members[m]!.send(`{"id":"1","type":"next","payload":${payload}}`);
      sent++;
    }
  }
  const cpu = process.cpuUsage(cpuBefore);
  process.send?.({ type: "done", sent, cpuMicroseconds: cpu.user + cpu.system });
});
