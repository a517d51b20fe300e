/**
 * `npm run bench:mcp`: what the MCP layer costs on top of the GraphQL API it calls, in one run
 * against one stack with a real Redis, side by side:
 *
 *  (a) one sequential client reading and writing an agent's state: the GraphQL operation a tool
 *      sends (the baseline), the tool over Streamable HTTP (/mcp, which calls /graphql again),
 *      and the tool over stdio (a child process calling /graphql); after a warm-up of every path,
 *      the three take turns call by call, so a loaded machine weighs on all three alike;
 *  (b) from sending a write to a subscriber hearing of it: a graphql-ws `agentStateChanged`
 *      client (the baseline) and an MCP client's `notifications/resources/updated`, on both
 *      transports.
 *
 * Writes in (b) are one at a time, each waiting for every subscriber, so p50 and p99 are per
 * event. Results: a table and bench/results/mcp.json.
 */
import os from "node:os";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { GET_STATE, PUT_STATE } from "../mcp/operations.js";
import { connectMcp, type McpTestClient } from "../test/support/mcp.js";
import { RedisServer } from "../test/support/redis-server.js";
import { agentPrincipal, startTestStack } from "../test/support/stack.js";
import { createGraphQLPoster, printTable, runLoad, summarize, writeResults } from "./support/report.js";

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const WARMUP_MS = 1500;
const AGENT = "bench-mcp";

async function main() {
  const redis = await RedisServer.start();
  const mnemo = await startTestStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MINUTE: "0" } });
  const gateway = mnemo.url("gateway");
  const token = await mnemo.token(agentPrincipal(AGENT));
  const graphql = createGraphQLPoster(gateway, { authorization: `Bearer ${token}` });
  const http = await connectMcp({ transport: "streamable HTTP", gatewayUrl: gateway, token });
  const stdio = await connectMcp({ transport: "stdio", gatewayUrl: gateway, token });
  const data = { goal: "benchmark", steps: Array.from({ length: 20 }, (_, i) => ({ i, done: i % 2 === 0 })) };
  await graphql.post(PUT_STATE, { agentId: AGENT, data });

  // (a) sequential tool calls against their GraphQL baseline
  const viaTool = (client: McpTestClient, name: string, args: Record<string, unknown>) => async () =>
    !(await client.call(name, args)).isError;
  const paths = {
    "GraphQL (baseline)": {
      read: () => graphql.post(GET_STATE, { agentId: AGENT }),
      write: () => graphql.post(PUT_STATE, { agentId: AGENT, data }),
    },
    "MCP Streamable HTTP": {
      read: viaTool(http, "get_state", { agentId: AGENT }),
      write: viaTool(http, "put_state", { agentId: AGENT, data }),
    },
    "MCP stdio": {
      read: viaTool(stdio, "get_state", { agentId: AGENT }),
      write: viaTool(stdio, "put_state", { agentId: AGENT, data }),
    },
  };
  // Every path warmed up before any is measured (the JIT), then the three paths take turns, one
  // call each, so that the machine's load at any moment weighs on all three alike.
  for (const tasks of Object.values(paths)) {
    for (const task of [tasks.read, tasks.write]) {
      await runLoad({ concurrency: 1, durationMs: WARMUP_MS, task });
    }
  }
  const callRows: Record<string, string | number>[] = [];
  const callResults: Record<string, unknown> = {};
  for (const kind of ["read", "write"] as const) {
    const latencies = new Map<string, number[]>(Object.keys(paths).map((path) => [path, []]));
    let errors = 0;
    const deadline = performance.now() + DURATION_MS;
    while (performance.now() < deadline) {
      for (const [path, tasks] of Object.entries(paths)) {
        const started = performance.now();
        if (!(await tasks[kind]())) errors++;
        latencies.get(path)!.push(performance.now() - started);
      }
    }
    for (const [path, measured] of latencies) {
      const summary = summarize(measured);
      callResults[`${path} ${kind}`] = summary;
      callRows.push({
        path,
        operation: kind === "read" ? "get_state" : "put_state",
        calls: summary.count,
        "p50 ms": summary.p50Ms,
        "p99 ms": summary.p99Ms,
      });
    }
    if (errors > 0) throw new Error(`${errors} calls failed`);
  }
  printTable("(a) one sequential client: a tool call vs the GraphQL operation it sends", callRows);

  // (b) write acknowledged → subscriber told
  const uri = `mnemo://agents/${AGENT}/state`;
  const arrivals: Record<string, number[]> = {
    "graphql-ws (baseline)": [],
    "MCP Streamable HTTP": [],
    "MCP stdio": [],
  };
  let sentAt = 0;
  let current = 0;
  let waiting: { pending: Set<string>; done: () => void } | null = null;
  const mark = (name: string) => {
    if (!waiting?.pending.has(name)) return; // a late or repeated notification of an earlier write
    arrivals[name]!.push(performance.now() - sentAt);
    waiting.pending.delete(name);
    if (waiting.pending.size === 0) waiting.done();
  };
  const ws = createClient({
    url: gateway.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  ws.subscribe(
    { query: `subscription { agentStateChanged(agentId: "${AGENT}") { version } }` },
    { next: () => mark("graphql-ws (baseline)"), error: console.error, complete: () => {} },
  );
  for (const [name, client] of [
    ["MCP Streamable HTTP", http],
    ["MCP stdio", stdio],
  ] as const) {
    client.client.setNotificationHandler(
      (await import("@modelcontextprotocol/sdk/types.js")).ResourceUpdatedNotificationSchema,
      () => mark(name),
    );
    await client.client.subscribeResource({ uri });
  }
  // Let all three subscriptions reach the state subgraph before measuring.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (let i = 1; i <= EVENTS; i++) {
    current = i;
    const heard = new Promise<void>((resolve) => {
      waiting = { pending: new Set(Object.keys(arrivals)), done: resolve };
    });
    sentAt = performance.now();
    await graphql.post(PUT_STATE, { agentId: AGENT, data: { i } });
    await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 5000))]);
    waiting = null;
  }
  console.log(`\n${current} writes sent for (b)`);
  const eventRows = Object.entries(arrivals).map(([path, latencies]) => {
    const summary = summarize(latencies);
    return {
      path,
      events: summary.count,
      missed: EVENTS - summary.count,
      "p50 ms": summary.p50Ms,
      "p99 ms": summary.p99Ms,
    };
  });
  printTable("(b) from sending a write to the subscriber hearing of it", eventRows);

  const load = os.loadavg().map((n) => Math.round(n * 100) / 100);
  console.log(`\nload average during the run: ${load.join(", ")} (${os.cpus().length} cores)`);
  writeResults("mcp", {
    durationMs: DURATION_MS,
    events: EVENTS,
    loadAverage: load,
    calls: callResults,
    notifications: eventRows,
  });

  await ws.dispose();
  await http.close();
  await stdio.close();
  await graphql.close();
  await mnemo.close();
  await redis.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
