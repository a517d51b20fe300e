/**
 * `npm run bench:state`: agent state through the gateway, against one stack with a real Redis.
 *
 *  (a) current-state reads with the cache on vs. disabled (and the store read alone as the floor)
 *  (b) one query reading 100 agents' states: store queries and Redis round trips, cold and warm
 *  (c) write throughput with 1 and 16 concurrent writers (and the store append alone as the floor)
 */
import { Redis } from "ioredis";
import { hashVersion } from "../subgraphs/state/domain/hash-chain.js";
import { createSqliteStateStore } from "../subgraphs/state/store/sqlite.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ADMIN, startTestStack } from "../test/support/stack.js";
import { createGraphQLPoster, printTable, runLoad, summarize, writeResults } from "./support/report.js";

const AGENTS = 100;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const READ_CONCURRENCY = 8;

async function main() {
  const redis = await RedisServer.start();
  // One principal drives all the load: its rate limit would refuse most of it.
  const mnemo = await startTestStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MINUTE: "0" } });
  const inspector = new Redis(redis.url);
  const { cache } = mnemo.runtime;
  const gateway = mnemo.url("gateway");
  const authorization = `Bearer ${await mnemo.token(ADMIN)}`;

  const client = createGraphQLPoster(gateway, { authorization });
  const post = client.post;

  console.log(`seeding ${AGENTS} agents…`);
  const state = {
    goal: "benchmark",
    steps: Array.from({ length: 20 }, (_, i) => ({ i, done: i % 2 === 0 })),
  };
  for (let i = 0; i < AGENTS; i++) {
    await post(`mutation P($id: ID!, $d: JSON!) { putState(agentId: $id, data: $d) { version } }`, {
      id: `b-${i}`,
      d: state,
    });
  }

  // (a) reads: cache on vs off
  const READ = `query Read($id: ID!) { agent(id: $id) { state { version data } } }`;
  const readTask = (_w: number, i: number) => post(READ, { id: `b-${(i * 7919) % AGENTS}` });
  const readRows: Record<string, string | number>[] = [];
  const readResults: Record<string, unknown> = {};
  for (const mode of ["cache on", "cache disabled"] as const) {
    cache.policies.setLocal("AGENT_STATE", {
      ...cache.policies.get("AGENT_STATE"),
      enabled: mode === "cache on",
    });
    let loadsBefore = 0;
    const result = await runLoad({
      concurrency: READ_CONCURRENCY,
      durationMs: DURATION_MS,
      warmupMs: 500,
      task: readTask,
      onMeasureStart: () => {
        loadsBefore = cache.stats("AGENT_STATE").storeLoads;
      },
    });
    const storeLoads = cache.stats("AGENT_STATE").storeLoads - loadsBefore;
    readResults[mode] = { ...result, storeQueriesPerRequest: storeLoads / result.requests };
    readRows.push({
      mode,
      "req/s": result.requestsPerSecond,
      "p50 ms": result.latency.p50Ms,
      "p99 ms": result.latency.p99Ms,
      "store queries/req": Math.round((storeLoads / result.requests) * 1000) / 1000,
      errors: result.errors,
    });
  }
  cache.policies.setLocal("AGENT_STATE", { ...cache.policies.get("AGENT_STATE"), enabled: true });

  // Floor: the SQLite read alone, same data, no HTTP, no GraphQL.
  const floorStore = createSqliteStateStore(mnemo.dataDir);
  const floorLatencies: number[] = [];
  const floorStarted = performance.now();
  for (let i = 0; performance.now() - floorStarted < 1000; i++) {
    const t0 = performance.now();
    await floorStore.currentStates([`b-${(i * 7919) % AGENTS}`]);
    floorLatencies.push(performance.now() - t0);
  }
  const floor = summarize(floorLatencies);
  readResults["store read (floor)"] = { latency: floor, requestsPerSecond: Math.round(floor.count / 1) };
  readRows.push({
    mode: "store read (floor)",
    "req/s": Math.round(floor.count),
    "p50 ms": floor.p50Ms,
    "p99 ms": floor.p99Ms,
    "store queries/req": 1,
    errors: 0,
  });
  printTable(
    `(a) current-state reads through the gateway, ${READ_CONCURRENCY} concurrent clients, ${AGENTS} agents`,
    readRows,
  );

  // (b) one query for 100 agents' states
  const many = `query Many { ${Array.from({ length: AGENTS }, (_, i) => `a${i}: agent(id: "b-${i}") { state { version } }`).join(" ")} }`;
  const commandCalls = async () => {
    const info = await inspector.info("commandstats");
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { mget: calls("mget"), evalsha: calls("evalsha") + calls("eval"), get: calls("get") };
  };
  await post(many); // plan the query once: planning is not what (b) measures
  const manyRows: Record<string, string | number>[] = [];
  const manyResults: Record<string, unknown> = {};
  for (const phase of ["cold (cache emptied)", "warm"] as const) {
    if (phase.startsWith("cold"))
      for (let i = 0; i < AGENTS; i++) await cache.admin.invalidateAgent(`b-${i}`);
    const before = await commandCalls();
    const loadsBefore = cache.stats("AGENT_STATE").storeLoads;
    const t0 = performance.now();
    const ok = await post(many);
    const ms = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the write-back land
    const after = await commandCalls();
    const row = {
      phase,
      ok: ok ? "yes" : "NO",
      ms: Math.round(ms * 10) / 10,
      "store queries": cache.stats("AGENT_STATE").storeLoads - loadsBefore,
      "Redis MGET": after.mget - before.mget,
      "Lua write-backs (1 pipeline)": after.evalsha - before.evalsha,
    };
    manyResults[phase] = row;
    manyRows.push(row);
  }
  printTable(`(b) one query reading ${AGENTS} agents' states`, manyRows);

  // (c) writes
  const writeRows: Record<string, string | number>[] = [];
  const writeFigures: Record<string, unknown> = {};
  for (const writers of [1, 16]) {
    const result = await runLoad({
      concurrency: writers,
      durationMs: DURATION_MS,
      warmupMs: 300,
      task: (worker, i) =>
        post(`mutation W($id: ID!, $d: JSON!) { putState(agentId: $id, data: $d) { version } }`, {
          id: `w-${writers}-${worker}`,
          d: { i, goal: "benchmark" },
        }),
    });
    writeFigures[`${writers} writers`] = result;
    writeRows.push({
      writers,
      "writes/s": result.requestsPerSecond,
      "p50 ms": result.latency.p50Ms,
      "p99 ms": result.latency.p99Ms,
      errors: result.errors,
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
  writeFigures["store append (floor)"] = { latency: appendFloor, writesPerSecond: appendFloor.count };
  writeRows.push({
    writers: "store append (floor)",
    "writes/s": appendFloor.count,
    "p50 ms": appendFloor.p50Ms,
    "p99 ms": appendFloor.p99Ms,
    errors: 0,
  });
  printTable("(c) putState throughput through the gateway (each writer on its own agent)", writeRows);

  writeResults("state", {
    durationMs: DURATION_MS,
    reads: readResults,
    manyAgents: manyResults,
    writes: writeFigures,
  });

  const failed = [...Object.values(readResults), ...Object.values(writeFigures)].some(
    (r) => ((r as { errors?: number }).errors ?? 0) > 0,
  );
  if (failed || Object.values(manyResults).some((r) => (r as { ok: string }).ok !== "yes")) {
    console.error("\nsome requests failed: these figures are not valid");
    process.exitCode = 1;
  }
  await floorStore.close();
  await client.close();
  inspector.disconnect();
  await mnemo.close();
  await redis.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
