/**
 * `npm run bench:checkpoints`: what keeping a LangGraph.js graph's checkpoints in Mnemo costs per
 * turn, side by side with LangGraph's in-process MemorySaver as the baseline, in one process
 * against one stack (SQLite, a real Redis, the gateway over HTTP).
 *
 *  (a) one conversation thread at a time: latency of a turn (invoke) with each saver
 *  (b) 8 threads at once: the same, concurrently
 *  (c) MnemoSaver's calls during (a) and (b), each timed: put, putWrites, getTuple, list
 *
 * The graph has three nodes and a growing message list, so state grows with every turn (the
 * channel values of unchanged channels are not sent again). BENCH_TURNS sets turns per thread.
 */
import os from "node:os";
import {
  Annotation,
  type BaseCheckpointSaver,
  END,
  MemorySaver,
  START,
  StateGraph,
} from "@langchain/langgraph";
import { createMnemoClient } from "@mnemo/client";
import { MnemoSaver } from "@mnemo/client/langgraph";
import { RedisServer } from "../test/support/redis-server.js";
import { ADMIN, startTestStack } from "../test/support/stack.js";
import { printTable, summarize, writeResults } from "./support/report.js";

const TURNS = Number(process.env.BENCH_TURNS ?? 40);
const CONCURRENT_THREADS = 8;

const Conversation = Annotation.Root({
  messages: Annotation<string[]>({ reducer: (all, added) => all.concat(added), default: () => [] }),
  topic: Annotation<string>({ reducer: (_, next) => next, default: () => "" }),
  turns: Annotation<number>({ reducer: (_, next) => next, default: () => 0 }),
});

function buildGraph(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(Conversation)
    .addNode("listen", (state) => ({ turns: state.turns + 1 }))
    .addNode("think", (state) => ({ topic: `topic ${state.turns % 5}` }))
    .addNode("reply", (state) => ({ messages: [`reply ${state.turns}: ${"lorem ipsum ".repeat(8)}`] }))
    .addEdge(START, "listen")
    .addEdge("listen", "think")
    .addEdge("think", "reply")
    .addEdge("reply", END)
    .compile({ checkpointer });
}

/** Times every call of the saver's methods (the graph calls them; we only watch). */
function timed(saver: MnemoSaver, calls: Map<string, number[]>): MnemoSaver {
  for (const method of ["put", "putWrites", "getTuple"] as const) {
    const original = saver[method].bind(saver) as (...args: unknown[]) => Promise<unknown>;
    (saver as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await original(...args);
      } finally {
        const list = calls.get(method) ?? [];
        list.push(performance.now() - t0);
        calls.set(method, list);
      }
    };
  }
  return saver;
}

async function turnLatencies(saver: BaseCheckpointSaver, threads: number, label: string): Promise<number[]> {
  const graph = buildGraph(saver);
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: threads }, async (_, thread) => {
      const config = { configurable: { thread_id: `${label}-${thread}` } };
      for (let turn = 0; turn < TURNS; turn++) {
        const t0 = performance.now();
        await graph.invoke({ messages: [`user turn ${turn}`] }, config);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}

async function main() {
  const loadBefore = os.loadavg();
  const redis = await RedisServer.start();
  const mnemo = await startTestStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MINUTE: "0" } });
  const client = createMnemoClient({ url: mnemo.url("gateway"), token: await mnemo.token(ADMIN) });
  const calls = new Map<string, number[]>();
  const mnemoSaver = timed(new MnemoSaver({ client, agentId: "bench-checkpoints" }), calls);

  // Warm-up: JIT, connections, SQLite pages (not measured).
  await turnLatencies(new MemorySaver(), 1, "warm");
  await turnLatencies(new MnemoSaver({ client, agentId: "bench-warmup" }), 1, "warm");

  const rows: Record<string, string | number>[] = [];
  const results: Record<string, unknown> = {};
  for (const threads of [1, CONCURRENT_THREADS]) {
    for (const [name, saver] of [
      ["MemorySaver (baseline, in-process)", new MemorySaver()],
      ["MnemoSaver (gateway, SQLite, Redis)", mnemoSaver],
    ] as const) {
      const started = performance.now();
      const latencies = await turnLatencies(saver, threads, `${threads}-${name.split(" ")[0]}`);
      const seconds = (performance.now() - started) / 1000;
      const summary = summarize(latencies);
      const key = `${name.split(" ")[0]} x${threads}`;
      results[key] = {
        threads,
        turns: latencies.length,
        turnsPerSecond: Math.round(latencies.length / seconds),
        ...summary,
      };
      rows.push({
        saver: name,
        threads,
        turns: latencies.length,
        "turns/s": Math.round(latencies.length / seconds),
        "p50 ms": summary.p50Ms,
        "p99 ms": summary.p99Ms,
      });
    }
  }
  printTable(`(a, b) one turn of a 3-node graph, ${TURNS} turns per thread`, rows);

  // (c) list, as LangGraph's getStateHistory uses it.
  const listLatencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    for await (const _ of mnemoSaver.list({ configurable: { thread_id: `1-MnemoSaver-0` } }, { limit: 10 })) {
      // read the page
    }
    listLatencies.push(performance.now() - t0);
  }
  calls.set("list (10 newest)", listLatencies);
  const callRows = [...calls.entries()].map(([call, latencies]) => {
    const summary = summarize(latencies);
    return { call, count: summary.count, "p50 ms": summary.p50Ms, "p99 ms": summary.p99Ms };
  });
  printTable("(c) MnemoSaver calls", callRows);
  results.calls = Object.fromEntries(
    [...calls.entries()].map(([call, latencies]) => [call, summarize(latencies)]),
  );

  const loadAfter = os.loadavg();
  console.log(
    `\nload average (1 min) before ${loadBefore[0]!.toFixed(2)}, after ${loadAfter[0]!.toFixed(2)} on ${os.cpus().length} cores`,
  );
  results.loadAverage = { before: loadBefore, after: loadAfter };
  writeResults("checkpoints", results);

  await client.close();
  await mnemo.close();
  await redis.close();
}

await main();
