/**
 * `npm run bench:cache`: the cache layer under a skewed workload, on vs. off, prefetch on vs. off.
 *
 * Workload: 10,000 agents with 3 state versions each; agents picked by a Zipf law (s = 1); 10%
 * of requests write a new version, 90% are reads grouped in short sessions the way an agent
 * works: read the current state, then (a moment later) the previous version, then the one
 * before. Sixteen clients run concurrently. Every request goes through the state service and the
 * cache layer against a real Redis and the real SQLite store (no GraphQL/HTTP: this measures
 * the cache, not the server).
 *
 * Two store profiles: the embedded SQLite as it is (a read costs tens of microseconds, less than
 * a Redis round trip), and SQLite behind a simulated 2 ms round trip (BENCH_STORE_RTT_MS), about
 * what a query to a store across a network (Neo4j) costs. Entries live 1 s here (short on
 * purpose): sessions of agents that come back less often start cold, which is where prefetch can
 * help; a cache smaller than the working set behaves the same way.
 *
 * Environment: BENCH_REQUESTS (measured requests per run, default 20000), BENCH_WARMUP (5000),
 * BENCH_CONCURRENCY (16), BENCH_TTL_SECONDS (1), BENCH_STORE_RTT_MS (2), BENCH_THINK_MS (5:
 * between the requests of a session, the client's own round trip and work; prefetch can only
 * help if it is not zero).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { createSqliteAgentDirectory } from "../core/agents/sqlite-directory.js";
import { AuditLog, type AuditStore } from "../core/audit/audit-log.js";
import type { Principal } from "../core/auth/principal.js";
import { type CacheLayer, createCacheLayer } from "../core/cache/index.js";
import { CACHE_DATA_TYPES, type CacheDataType } from "../core/cache/policy.js";
import { createInProcessEventBus, createRedisEventBus } from "../core/events.js";
import { createLogger } from "../core/logger.js";
import { closeRedis, createRedisClient, waitForRedis } from "../core/redis.js";
import { StateService } from "../subgraphs/state/domain/state-service.js";
import type { StateStore } from "../subgraphs/state/domain/store-port.js";
import { createSqliteStateStore } from "../subgraphs/state/store/sqlite.js";
import { RedisServer } from "../test/support/redis-server.js";
import { printTable, summarize, writeResults } from "./support/report.js";

const AGENTS = 10_000;
const VERSIONS = 3;
const ZIPF_S = 1.0;
const WRITE_RATIO = 0.1;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TTL_SECONDS = Number(process.env.BENCH_TTL_SECONDS ?? 1);
/** Between the requests of one session: the client's own round trip and work. */
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 5);
/** The simulated round trip of a store across a network (query included). */
const STORE_RTT_MS = Number(process.env.BENCH_STORE_RTT_MS ?? 2);
const WRITER: Principal = { sub: "bench", role: "admin", agents: ["*"] };
const silent = createLogger({ logLevel: "silent" }, "bench");
const noAudit: AuditStore = {
  append: async () => {},
  list: async () => ({ entries: [], hasNextPage: false, totalCount: 0 }),
  close: async () => {},
};

/** mulberry32: a small seeded PRNG, so every configuration sees the same request sequence. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf over ranks 0..n-1: P(k) ∝ 1/(k+1)^s, sampled by binary search on the CDF. */
function zipf(n: number, s: number): (random: number) => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  return (random) => {
    const target = random * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** The real store, counting every query and optionally adding a network round trip to each. */
function measuredStore(inner: StateStore, latencyMs: number) {
  const counter = { queries: 0 };
  const delay = () => (latencyMs > 0 ? new Promise((resolve) => setTimeout(resolve, latencyMs)) : null);
  const timed =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      counter.queries++;
      await delay();
      return run(...args);
    };
  const store: StateStore = {
    currentStates: timed((ids) => inner.currentStates(ids)),
    versions: timed((refs) => inner.versions(refs)),
    append: timed((request) => inner.append(request)),
    history: (...args) => inner.history(...args),
    scanVersions: (...args) => inner.scanVersions(...args),
    deleteAgent: (agentId) => inner.deleteAgent(agentId),
    prune: (agentId, keepLast) => inner.prune(agentId, keepLast),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { store, counter };
}

interface RunConfig {
  profile: string;
  storeLatencyMs: number;
  mode: "cache off" | "cache on" | "cache on + prefetch";
}

async function seed(dataDir: string): Promise<void> {
  // Written through a throwaway in-process cache: the runs start with a cold Redis.
  const events = createInProcessEventBus();
  const cache = createCacheLayer({ redis: null, events, logger: silent });
  const store = createSqliteStateStore(dataDir);
  const agents = createSqliteAgentDirectory(dataDir);
  const state = new StateService({
    store,
    cache,
    events,
    agents,
    audit: new AuditLog(noAudit, () => {}),
    limits: { maxBytes: 1 << 20, historyLimit: 0 },
    logger: silent,
  });
  for (let i = 0; i < AGENTS; i++) {
    for (let v = 1; v <= VERSIONS; v++) {
      await state.putState(WRITER, {
        agentId: `z-${i}`,
        data: { goal: `agent ${i}`, step: v, notes: "x".repeat(200) },
      });
    }
  }
  await cache.close();
  await store.close();
  await agents.close();
}

async function runOnce(redisUrl: string, dataDir: string, config: RunConfig) {
  const admin = new Redis(redisUrl);
  await admin.flushall();
  const redisConfig = { mode: "single" as const, url: redisUrl };
  const command = createRedisClient(redisConfig, "command");
  const events = createRedisEventBus(
    createRedisClient(redisConfig, "publisher"),
    createRedisClient(redisConfig, "subscriber"),
  );
  await waitForRedis(command, 5000);
  const cache: CacheLayer = createCacheLayer({
    redis: command,
    events,
    logger: silent,
    // Co-access learned on one replica is shared through Redis at each flush; runs are short.
    settings: { prefetch: config.mode === "cache on + prefetch", statsFlushMs: 1000 },
  });
  await cache.start();
  for (const type of ["AGENT_STATE", "STATE_VERSION"] as const) {
    cache.policies.setLocal(type, {
      ...cache.policies.get(type),
      enabled: config.mode !== "cache off",
      ttlSeconds: TTL_SECONDS,
    });
  }
  const { store, counter } = measuredStore(createSqliteStateStore(dataDir), config.storeLatencyMs);
  const agents = createSqliteAgentDirectory(dataDir);
  const state = new StateService({
    store,
    cache,
    events,
    agents,
    audit: new AuditLog(noAudit, () => {}),
    limits: { maxBytes: 1 << 20, historyLimit: 0 },
    logger: silent,
  });

  const pickAgent = zipf(AGENTS, ZIPF_S);
  const total = WARMUP + REQUESTS;
  let issued = 0;
  let measuring = false;
  const latencies: number[] = [];
  let queriesAtStart = 0;
  let startedAt = 0;
  const countersAtStart = new Map<CacheDataType, ReturnType<CacheLayer["stats"]>>();
  const beginMeasuring = () => {
    measuring = true;
    queriesAtStart = counter.queries;
    startedAt = performance.now();
    for (const type of CACHE_DATA_TYPES) countersAtStart.set(type, cache.stats(type));
  };
  /** Runs one request if the budget allows; returns false when the run is over. */
  const request = async (run: () => Promise<unknown>): Promise<boolean> => {
    if (issued >= total) return false;
    issued++;
    if (!measuring && issued > WARMUP) beginMeasuring();
    const record = measuring;
    const t0 = performance.now();
    await run();
    if (record) latencies.push(performance.now() - t0);
    return true;
  };

  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      const random = prng(1000 + worker);
      for (;;) {
        const agentId = `z-${pickAgent(random())}`;
        if (random() < WRITE_RATIO) {
          if (!(await request(() => state.putState(WRITER, { agentId, data: { step: issued } })))) return;
          continue;
        }
        // A session: current state, then the previous version, then the one before.
        let version = 0;
        const read = await request(async () => {
          version =
            (await state.createLoaders().current.load(StateService.currentRef(agentId)))?.version ?? 0;
        });
        if (!read) return;
        for (let back = 1; back <= 2 && version - back >= 1; back++) {
          await new Promise((resolve) => setTimeout(resolve, THINK_MS));
          const ok = await request(() =>
            state.createLoaders().version.load(StateService.versionRef(agentId, version - back)),
          );
          if (!ok) return;
        }
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  await cache.settled();
  let hits = 0;
  let misses = 0;
  let prefetched = 0;
  for (const type of CACHE_DATA_TYPES) {
    const now = cache.stats(type);
    const before = countersAtStart.get(type)!;
    hits += now.hits - before.hits;
    misses += now.misses - before.misses + (now.bypasses - before.bypasses);
    prefetched += now.prefetched - before.prefetched;
  }
  const latency = summarize(latencies);
  const result = {
    ...config,
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / seconds),
    latency,
    storeQueriesPerRequest: (counter.queries - queriesAtStart) / latencies.length,
    hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
    hits,
    misses,
    prefetched,
  };

  await cache.close();
  await events.close();
  await closeRedis(command);
  await store.close();
  await agents.close();
  admin.disconnect();
  return result;
}

async function main() {
  const redis = await RedisServer.start();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-cache-"));
  try {
    console.log(`seeding ${AGENTS} agents × ${VERSIONS} versions…`);
    const seedStarted = performance.now();
    await seed(dataDir);
    console.log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const results: Awaited<ReturnType<typeof runOnce>>[] = [];
    for (const [profile, storeLatencyMs] of [
      ["sqlite (embedded)", 0],
      [`sqlite + ${STORE_RTT_MS} ms RTT`, STORE_RTT_MS],
    ] as const) {
      for (const mode of ["cache off", "cache on", "cache on + prefetch"] as const) {
        process.stdout.write(`${profile}, ${mode}… `);
        const result = await runOnce(redis.url, dataDir, { profile, storeLatencyMs, mode });
        console.log(`${result.requestsPerSecond} req/s`);
        results.push(result);
      }
    }

    printTable(
      `Cache: ${AGENTS} agents, Zipf s=${ZIPF_S}, ${WRITE_RATIO * 100}% writes, ${CONCURRENCY} clients, ` +
        `${REQUESTS} measured requests per run (after ${WARMUP}), TTL ${TTL_SECONDS} s`,
      results.map((r) => ({
        store: r.profile,
        mode: r.mode,
        "req/s": r.requestsPerSecond,
        "p50 ms": r.latency.p50Ms,
        "p99 ms": r.latency.p99Ms,
        "store q/req": Math.round(r.storeQueriesPerRequest * 1000) / 1000,
        "hit ratio": Math.round(r.hitRatio * 1000) / 1000,
        prefetched: r.prefetched,
      })),
    );
    const ratios = [];
    for (const profile of new Set(results.map((r) => r.profile))) {
      const of = (mode: RunConfig["mode"]) => results.find((r) => r.profile === profile && r.mode === mode)!;
      const [off, on, prefetch] = [of("cache off"), of("cache on"), of("cache on + prefetch")];
      ratios.push({
        store: profile,
        "store q/req on÷off":
          Math.round((on.storeQueriesPerRequest / off.storeQueriesPerRequest) * 1000) / 1000,
        "p50 on÷off": Math.round((on.latency.p50Ms / off.latency.p50Ms) * 1000) / 1000,
        "req/s on÷off": Math.round((on.requestsPerSecond / off.requestsPerSecond) * 1000) / 1000,
        "hit ratio gain (prefetch)": Math.round((prefetch.hitRatio - on.hitRatio) * 1000) / 1000,
        "store q/req prefetch÷on":
          Math.round((prefetch.storeQueriesPerRequest / on.storeQueriesPerRequest) * 1000) / 1000,
      });
    }
    printTable("Ratios", ratios);
    writeResults("cache", {
      workload: {
        agents: AGENTS,
        versionsPerAgent: VERSIONS,
        zipfS: ZIPF_S,
        writeRatio: WRITE_RATIO,
        concurrency: CONCURRENCY,
        measuredRequests: REQUESTS,
        warmupRequests: WARMUP,
        ttlSeconds: TTL_SECONDS,
        thinkMs: THINK_MS,
        storeRttMs: STORE_RTT_MS,
      },
      runs: results,
      ratios,
    });
  } finally {
    await redis.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
