/**
 * `npm run bench:state`: agent state (and memory reads) through the gateway of one process with
 * every service, against a real Redis, on the embedded SQLite and on a real Neo4j.
 *
 *  (a) one current state per request from READ_CONCURRENCY (8) clients: cache off, cache on
 *      with the entry cached (hits), cache on with it invalidated just before (misses, the
 *      invalidation not timed); the store read alone as the floor
 *  (b) one query reading 100 agents' states: cold (every entry invalidated first, not timed)
 *      and warm, BENCH_MANY_QUERIES (20) of each: latency, store queries and Redis commands
 *  (c) write throughput with 1 and 16 concurrent writers (and the store append alone)
 *  (d) memory reads: a memory by id, the same with its entities (whose links, not a cached
 *      type, are read from the store every time), and the agent directory (`agents`), cache on
 *      (hits) and off
 *
 * BENCH_STORES (sqlite,neo4j), BENCH_DURATION_MS (4000 per load run).
 */
import os from "node:os";
import { Redis } from "ioredis";
import type { CacheLayer } from "../core/cache/index.js";
import { createNeo4jDriver } from "../core/store/neo4j.js";
import { hashVersion } from "../subgraphs/state/domain/hash-chain.js";
import type { StateStore } from "../subgraphs/state/domain/store-port.js";
import { createNeo4jStateStore } from "../subgraphs/state/store/neo4j.js";
import { createSqliteStateStore } from "../subgraphs/state/store/sqlite.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ADMIN, startTestStack, type TestStack } from "../test/support/stack.js";
import { type BenchNeo4j, benchStores, startBenchNeo4j } from "./support/neo4j.js";
import {
  createGraphQLPoster,
  type LoadResult,
  printTable,
  runLoad,
  summarize,
  writeResults,
} from "./support/report.js";

const AGENTS = 100;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const READ_CONCURRENCY = 8;
const MANY_QUERIES = Number(process.env.BENCH_MANY_QUERIES ?? 20);
const MEMORIES = 50;

const READ = `query Read($id: ID!) { agent(id: $id) { state { version data } } }`;
const MANY = `query Many { ${Array.from({ length: AGENTS }, (_, i) => `a${i}: agent(id: "b-${i}") { state { version } }`).join(" ")} }`;
const MEMORY = `query M($id: ID!) { memory(id: $id) { content kind tags importance occurredAt } }`;
/** The entity links of a memory are read from the store on every request (not a cached type). */
const MEMORY_WITH_ENTITIES = `query M($id: ID!) { memory(id: $id) { content kind tags entities { name type } } }`;
const DIRECTORY = `query D { agents(first: 20) { totalCount edges { node { id } } } }`;

const round3 = (n: number) => Math.round(n * 1000) / 1000;

type Post = (query: string, variables?: Record<string, unknown>) => Promise<boolean>;

/** A load run whose requests each do `before` (not timed) first; closed loop like runLoad. */
async function runWithBefore(
  concurrency: number,
  before: (worker: number, i: number) => Promise<unknown>,
  task: (worker: number, i: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + DURATION_MS;
  let timed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await before(worker, i);
        const t0 = performance.now();
        const ok = await task(worker, i);
        const ms = performance.now() - t0;
        timed += ms;
        latencies.push(ms);
        if (!ok) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: latencies.length,
    errors,
    seconds: Math.round(seconds * 100) / 100,
    // Of the timed part alone, as if the untimed work had cost nothing (not reported in the table).
    requestsPerSecond: Math.round(latencies.length / (timed / 1000 / concurrency)),
    latency: summarize(latencies),
  };
}

async function benchStore(store: "sqlite" | "neo4j", redis: RedisServer, neo4j: BenchNeo4j | null) {
  const flusher = new Redis(redis.url);
  await flusher.flushall();
  flusher.disconnect();
  // One principal drives all the load: its rate limit would refuse most of it.
  const mnemo: TestStack = await startTestStack({
    redisUrl: redis.url,
    env: {
      RATE_LIMIT_PER_MINUTE: "0",
      EMBEDDINGS_PROVIDER: "none",
      EMBEDDINGS_DIMENSIONS: "4",
      ...neo4j?.env,
    },
  });
  const inspector = new Redis(redis.url);
  const cache: CacheLayer = mnemo.runtime.cache;
  const authorization = `Bearer ${await mnemo.token(ADMIN)}`;
  const client = createGraphQLPoster(mnemo.url("gateway"), { authorization });
  const post: Post = client.post;
  const setEnabled = (
    types: readonly ("AGENT_STATE" | "MEMORY" | "ENTITY" | "AGENT_DIRECTORY")[],
    enabled: boolean,
  ) => {
    for (const type of types) cache.policies.setLocal(type, { ...cache.policies.get(type), enabled });
  };
  const storeLoads = (type: "AGENT_STATE" | "MEMORY" | "ENTITY" | "AGENT_DIRECTORY" = "AGENT_STATE") =>
    cache.stats(type).storeLoads;

  console.log(`${store}: seeding ${AGENTS} agents…`);
  const state = {
    goal: "benchmark",
    steps: Array.from({ length: 20 }, (_, i) => ({ i, done: i % 2 === 0 })),
  };
  for (let i = 0; i < AGENTS; i++) {
    const ok = await post(
      `mutation P($id: ID!, $d: JSON!) { putState(agentId: $id, data: $d) { version } }`,
      {
        id: `b-${i}`,
        d: state,
      },
    );
    if (!ok) throw new Error("seeding failed");
  }

  // (a) one current state per request
  const readTask = (_w: number, i: number) => post(READ, { id: `b-${(i * 7919) % AGENTS}` });
  const reads: Record<string, LoadResult & { storeQueriesPerRequest: number }> = {};
  let loadsAtStart = 0;
  const onMeasureStart = () => {
    loadsAtStart = storeLoads();
  };
  const measureReads = async (name: string, run: () => Promise<LoadResult>) => {
    onMeasureStart();
    const result = await run();
    reads[name] = {
      ...result,
      storeQueriesPerRequest: round3((storeLoads() - loadsAtStart) / result.requests),
    };
    process.stdout.write(
      `  (a) ${name}: ${result.requestsPerSecond} req/s, p50 ${result.latency.p50Ms} ms\n`,
    );
  };
  setEnabled(["AGENT_STATE"], false);
  await measureReads("cache off", () =>
    runLoad({
      concurrency: READ_CONCURRENCY,
      durationMs: DURATION_MS,
      warmupMs: 500,
      task: readTask,
      onMeasureStart,
    }),
  );
  setEnabled(["AGENT_STATE"], true);
  await measureReads("cache on, hits", () =>
    runLoad({
      concurrency: READ_CONCURRENCY,
      durationMs: DURATION_MS,
      warmupMs: 500,
      task: readTask,
      onMeasureStart,
    }),
  );
  await measureReads("cache on, misses", () =>
    runWithBefore(
      READ_CONCURRENCY,
      (_w, i) => cache.admin.invalidateAgent(`b-${(i * 7919) % AGENTS}`),
      readTask,
    ),
  );
  const floorDriver = neo4j ? createNeo4jDriver(neo4j.config) : null;
  const floorStore: StateStore = floorDriver
    ? await createNeo4jStateStore(floorDriver, neo4j!.config.database)
    : createSqliteStateStore(mnemo.dataDir);
  const floorLatencies: number[] = [];
  const floorStarted = performance.now();
  for (let i = 0; performance.now() - floorStarted < 1000; i++) {
    const t0 = performance.now();
    await floorStore.currentStates([`b-${(i * 7919) % AGENTS}`]);
    floorLatencies.push(performance.now() - t0);
  }
  const floor = summarize(floorLatencies);

  // (b) one query for 100 agents' states, cold and warm
  const commandCalls = async () => {
    const info = await inspector.info("commandstats");
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { mget: calls("mget"), evalsha: calls("evalsha") + calls("eval") };
  };
  await post(MANY); // plan the query once: planning is not what (b) measures
  const many: Record<
    string,
    { latency: ReturnType<typeof summarize>; storeQueries: number; redisMget: number; luaWriteBacks: number }
  > = {};
  for (const phase of ["cold", "warm"] as const) {
    const latencies: number[] = [];
    let queries = 0;
    let mget = 0;
    let lua = 0;
    for (let n = 0; n < MANY_QUERIES; n++) {
      if (phase === "cold") {
        for (let i = 0; i < AGENTS; i++) await cache.admin.invalidateAgent(`b-${i}`);
      }
      await cache.settled();
      const before = await commandCalls();
      const loadsBefore = storeLoads();
      const t0 = performance.now();
      if (!(await post(MANY))) throw new Error("100-agent read failed");
      latencies.push(performance.now() - t0);
      await cache.settled(); // the write-back is not timed, but counted
      const after = await commandCalls();
      queries += storeLoads() - loadsBefore;
      mget += after.mget - before.mget;
      lua += after.evalsha - before.evalsha;
    }
    many[phase] = {
      latency: summarize(latencies),
      storeQueries: round3(queries / MANY_QUERIES),
      redisMget: round3(mget / MANY_QUERIES),
      luaWriteBacks: round3(lua / MANY_QUERIES),
    };
    process.stdout.write(`  (b) ${phase}: p50 ${many[phase]!.latency.p50Ms} ms\n`);
  }

  // (c) writes
  const writes: Record<string, LoadResult> = {};
  for (const writers of [1, 16]) {
    writes[`${writers} writers`] = await runLoad({
      concurrency: writers,
      durationMs: DURATION_MS,
      warmupMs: 300,
      task: (worker, i) =>
        post(`mutation W($id: ID!, $d: JSON!) { putState(agentId: $id, data: $d) { version } }`, {
          id: `w-${writers}-${worker}`,
          d: { i, goal: "benchmark" },
        }),
    });
  }
  const appendLatencies: number[] = [];
  const appendStarted = performance.now();
  for (let i = 0; performance.now() - appendStarted < 1000; i++) {
    const t0 = performance.now();
    await floorStore.append({
      agentId: "floor-writer",
      historyLimit: 0,
      build: () => ({ data: { i, goal: "benchmark" }, author: "bench", reason: null }),
      seal: (input, version, previousHash) => {
        const fields = { ...input, version, createdAt: new Date().toISOString() };
        return { ...fields, agentId: "floor-writer", hash: hashVersion(fields, previousHash), previousHash };
      },
    });
    appendLatencies.push(performance.now() - t0);
  }
  const appendFloor = summarize(appendLatencies);
  await floorStore.close();
  await floorDriver?.close();

  // (d) memory reads
  const memoryIds: string[] = [];
  for (let i = 0; i < MEMORIES; i++) {
    const response = await fetch(mnemo.url("gateway"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({
        query: `mutation R($input: MemoryInput!) { remember(agentId: "mem-bench", input: $input) { memory { id } } }`,
        variables: {
          input: {
            content: `Memory ${i}: the agent met person ${i} in city ${i % 7}`,
            embedding: [1, i % 3, i % 5, i % 7],
            entities: [
              { name: `person ${i}`, type: "PERSON" },
              { name: `city ${i % 7}`, type: "PLACE" },
            ],
          },
        },
      }),
    });
    const body = (await response.json()) as { data?: { remember: { memory: { id: string } } } };
    if (!body.data) throw new Error(`remember failed: ${JSON.stringify(body)}`);
    memoryIds.push(body.data.remember.memory.id);
  }
  const memory: Record<string, LoadResult & { storeQueriesPerRequest: number }> = {};
  for (const [read, query] of [
    ["memory by id", MEMORY],
    ["memory by id, with its entities", MEMORY_WITH_ENTITIES],
  ] as const) {
    for (const mode of ["cache off", "cache on, hits"] as const) {
      setEnabled(["MEMORY", "ENTITY"], mode !== "cache off");
      let before = 0;
      const result = await runLoad({
        concurrency: READ_CONCURRENCY,
        durationMs: DURATION_MS,
        warmupMs: 500,
        task: (_w, i) => post(query, { id: memoryIds[(i * 31) % MEMORIES] }),
        onMeasureStart: () => {
          before = storeLoads("MEMORY") + storeLoads("ENTITY");
        },
      });
      memory[`${read}: ${mode}`] = {
        ...result,
        storeQueriesPerRequest: round3(
          (storeLoads("MEMORY") + storeLoads("ENTITY") - before) / result.requests,
        ),
      };
    }
  }
  for (const mode of ["cache off", "cache on, hits"] as const) {
    setEnabled(["AGENT_DIRECTORY"], mode !== "cache off");
    let before = 0;
    const result = await runLoad({
      concurrency: READ_CONCURRENCY,
      durationMs: DURATION_MS,
      warmupMs: 500,
      task: () => post(DIRECTORY),
      onMeasureStart: () => {
        before = storeLoads("AGENT_DIRECTORY");
      },
    });
    memory[`agent directory: ${mode}`] = {
      ...result,
      storeQueriesPerRequest: round3((storeLoads("AGENT_DIRECTORY") - before) / result.requests),
    };
  }

  await client.close();
  inspector.disconnect();
  await mnemo.close();
  return { store, reads, floor, many, writes, appendFloor, memory, loadAverage: os.loadavg() };
}

async function main() {
  const redis = await RedisServer.start();
  let neo4j: BenchNeo4j | null = null;
  const results: Awaited<ReturnType<typeof benchStore>>[] = [];
  try {
    for (const store of benchStores()) {
      if (store === "neo4j") neo4j = await startBenchNeo4j();
      results.push(await benchStore(store, redis, store === "neo4j" ? neo4j : null));
    }
  } finally {
    await neo4j?.stop();
    await redis.close();
  }

  const load = `load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`;
  printTable(
    `(a) one current state per request through the gateway, ${READ_CONCURRENCY} clients, ${AGENTS} agents (${load})`,
    results.flatMap((r) => [
      ...Object.entries(r.reads).map(([mode, result]) => ({
        store: r.store,
        mode,
        // Closed-loop throughput means nothing when each read waits for an invalidation first.
        "req/s": mode.endsWith("misses") ? "–" : result.requestsPerSecond,
        "p50 ms": result.latency.p50Ms,
        "p99 ms": result.latency.p99Ms,
        "mean ms": result.latency.meanMs,
        "store queries/req": result.storeQueriesPerRequest,
      })),
      {
        store: r.store,
        mode: "store read alone (floor)",
        "req/s": r.floor.count,
        "p50 ms": r.floor.p50Ms,
        "p99 ms": r.floor.p99Ms,
        "mean ms": r.floor.meanMs,
        "store queries/req": 1,
      },
    ]),
  );
  printTable(
    `(b) one query reading ${AGENTS} agents' states, ${MANY_QUERIES} of each (cold: every entry invalidated first)`,
    results.flatMap((r) =>
      Object.entries(r.many).map(([phase, m]) => ({
        store: r.store,
        phase,
        "p50 ms": m.latency.p50Ms,
        "p99 ms": m.latency.p99Ms,
        "mean ms": m.latency.meanMs,
        "÷ cold (p50)": round3(m.latency.p50Ms / r.many.cold!.latency.p50Ms),
        "store queries": m.storeQueries,
        "Redis MGET": m.redisMget,
        "Lua write-backs": m.luaWriteBacks,
      })),
    ),
  );
  printTable(
    "(c) putState through the gateway (each writer on its own agent)",
    results.flatMap((r) => [
      ...Object.entries(r.writes).map(([writers, w]) => ({
        store: r.store,
        writers,
        "writes/s": w.requestsPerSecond,
        "p50 ms": w.latency.p50Ms,
        "p99 ms": w.latency.p99Ms,
      })),
      {
        store: r.store,
        writers: "store append alone (floor)",
        "writes/s": r.appendFloor.count,
        "p50 ms": r.appendFloor.p50Ms,
        "p99 ms": r.appendFloor.p99Ms,
      },
    ]),
  );
  printTable(
    `(d) memory reads through the gateway, ${READ_CONCURRENCY} clients (store queries: of the cached types; a memory's entity links are one more, uncached)`,
    results.flatMap((r) =>
      Object.entries(r.memory).map(([read, m]) => ({
        store: r.store,
        read,
        "req/s": m.requestsPerSecond,
        "p50 ms": m.latency.p50Ms,
        "p99 ms": m.latency.p99Ms,
        "store queries/req": m.storeQueriesPerRequest,
      })),
    ),
  );
  const ratios = results.map((r) => ({
    store: r.store,
    "hit p50 ÷ cache off": round3(
      r.reads["cache on, hits"]!.latency.p50Ms / r.reads["cache off"]!.latency.p50Ms,
    ),
    "miss p50 ÷ cache off": round3(
      r.reads["cache on, misses"]!.latency.p50Ms / r.reads["cache off"]!.latency.p50Ms,
    ),
    "100 agents warm ÷ cold (p50)": round3(r.many.warm!.latency.p50Ms / r.many.cold!.latency.p50Ms),
    "memory by id hit ÷ off (p50)": round3(
      r.memory["memory by id: cache on, hits"]!.latency.p50Ms /
        r.memory["memory by id: cache off"]!.latency.p50Ms,
    ),
    "with entities hit ÷ off (p50)": round3(
      r.memory["memory by id, with its entities: cache on, hits"]!.latency.p50Ms /
        r.memory["memory by id, with its entities: cache off"]!.latency.p50Ms,
    ),
    "agent directory hit ÷ off (p50)": round3(
      r.memory["agent directory: cache on, hits"]!.latency.p50Ms /
        r.memory["agent directory: cache off"]!.latency.p50Ms,
    ),
  }));
  printTable("Ratios", ratios);
  writeResults("state", { durationMs: DURATION_MS, results, ratios });

  const failed = results.some((r) =>
    [...Object.values(r.reads), ...Object.values(r.writes), ...Object.values(r.memory)].some(
      (x) => x.errors > 0,
    ),
  );
  if (failed) {
    console.error("\nsome requests failed: these figures are not valid");
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
