/**
 * `npm run bench:cache`: the cache layer with its store, cache off against cache on, on the
 * embedded SQLite and on a real Neo4j, each request through the state service and the cache
 * layer against a real Redis (no GraphQL or HTTP: this measures the cache, not the server).
 *
 * Per store and mode, three phases with BENCH_CONCURRENCY (16) clients, each pausing
 * BENCH_THINK_MS (5) between its requests:
 *
 *   hits     repeated reads of current states that are cached (1,000 agents read once first):
 *            what a cached read costs. With the cache off these are plain store reads.
 *   misses   reads of an entry invalidated just before (the invalidation is not timed): what
 *            a read the cache cannot answer costs.
 *   mix      10,000 agents picked by a Zipf law (s = 1), 10% writes, reads in sessions the way an
 *            agent works (current state, then the previous version, then the one before,
 *            BENCH_THINK_MS apart), entries living BENCH_TTL_SECONDS (1 s, short on purpose: agents
 *            that come back less often start cold). Throughput, latency, store queries and hit ratio.
 *
 * Store queries are counted at the store: value loads, and on SQLite the revision probes of
 * the near cache (near-cache.ts) separately. BENCH_STORES (sqlite,neo4j), BENCH_REQUESTS (20000
 * measured requests per mix run, after BENCH_WARMUP 5000), BENCH_PHASE_REQUESTS (5000 per hit or
 * miss phase), BENCH_PREFETCH=1 adds a "cache on + prefetch" mode.
 *
 * Then TTL auto-tuning against fixed TTLs on a workload whose hot set shifts halfway
 * (bench/cache-autotune.ts; BENCH_ONLY=autotune runs only that part).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import type { AgentDirectory } from "../core/agents/directory.js";
import { createNeo4jAgentDirectory } from "../core/agents/neo4j-directory.js";
import { createSqliteAgentDirectory } from "../core/agents/sqlite-directory.js";
import { AuditLog, type AuditStore } from "../core/audit/audit-log.js";
import type { Principal } from "../core/auth/principal.js";
import { type CacheLayer, createCacheLayer } from "../core/cache/index.js";
import { CACHE_DATA_TYPES } from "../core/cache/policy.js";
import { createInProcessEventBus, createRedisEventBus } from "../core/events.js";
import { createLogger } from "../core/logger.js";
import { closeRedis, createRedisClient, waitForRedis } from "../core/redis.js";
import { createNeo4jDriver, type Driver } from "../core/store/neo4j.js";
import { StateService } from "../subgraphs/state/domain/state-service.js";
import type { StateStore } from "../subgraphs/state/domain/store-port.js";
import { createNeo4jStateStore } from "../subgraphs/state/store/neo4j.js";
import { createSqliteStateStore } from "../subgraphs/state/store/sqlite.js";
import { RedisServer } from "../test/support/redis-server.js";
import { seededRandom } from "../test/support/seeded-random.js";
import { runAutoTuneComparison } from "./cache-autotune.js";
import { type BenchNeo4j, benchStores, startBenchNeo4j } from "./support/neo4j.js";
import { type LatencySummary, printTable, summarize, writeResults } from "./support/report.js";

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const VERSIONS = 3;
const ZIPF_S = 1.0;
const WRITE_RATIO = 0.1;
const HOT_AGENTS = 1000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const PHASE_REQUESTS = Number(process.env.BENCH_PHASE_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TTL_SECONDS = Number(process.env.BENCH_TTL_SECONDS ?? 1);
/** Between the requests of one session: the client's own round trip and work. */
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 5);
const MODES = [
  "cache off",
  "cache on",
  ...(process.env.BENCH_PREFETCH === "1" ? ["cache on + prefetch"] : []),
] as const;
type Mode = (typeof MODES)[number];
const WRITER: Principal = { sub: "bench", role: "admin", agents: ["*"] };
const silent = createLogger({ logLevel: "silent" }, "bench");
const noAudit: AuditStore = {
  append: async () => {},
  list: async () => ({ entries: [], hasNextPage: false, totalCount: 0 }),
  close: async () => {},
};

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

/** The real store, counting value loads and revision probes (the embedded store's only). */
function countingStore(inner: StateStore) {
  const counter = { loads: 0, probes: 0 };
  const revisions = inner.revisions;
  const store: StateStore = {
    revisions: revisions
      ? (ids) => {
          counter.probes++;
          return revisions(ids);
        }
      : undefined,
    currentStates: (ids) => {
      counter.loads++;
      return inner.currentStates(ids);
    },
    versions: (refs) => {
      counter.loads++;
      return inner.versions(refs);
    },
    append: (request) => inner.append(request),
    history: (...args) => inner.history(...args),
    scanVersions: (...args) => inner.scanVersions(...args),
    deleteAgent: (agentId) => inner.deleteAgent(agentId),
    prune: (agentId, keepLast) => inner.prune(agentId, keepLast),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { store, counter };
}

/** Where a run's state lives: one store profile, opened once per run. */
interface StoreProfile {
  name: "sqlite" | "neo4j";
  open(): Promise<{ store: StateStore; agents: AgentDirectory }>;
}

function sqliteProfile(dataDir: string): StoreProfile {
  return {
    name: "sqlite",
    async open() {
      return { store: createSqliteStateStore(dataDir), agents: createSqliteAgentDirectory(dataDir) };
    },
  };
}

function neo4jProfile(driver: Driver, database: string): StoreProfile {
  return {
    name: "neo4j",
    async open() {
      // Their close() leaves the driver open: it is shared, and closed once at the end.
      return {
        store: await createNeo4jStateStore(driver, database),
        agents: await createNeo4jAgentDirectory(driver, database),
      };
    },
  };
}

async function seed(profile: StoreProfile): Promise<void> {
  // Written without Redis (an in-process cache that is thrown away): the runs start cold.
  const { store, agents } = await profile.open();
  const events = createInProcessEventBus();
  const cache = createCacheLayer({ redis: null, events, logger: silent });
  const state = new StateService({
    store,
    cache,
    events,
    agents,
    audit: new AuditLog(noAudit, () => {}),
    limits: { maxBytes: 1 << 20, historyLimit: 0 },
    logger: silent,
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < AGENTS; i = next++) {
        for (let v = 1; v <= VERSIONS; v++) {
          await state.putState(WRITER, {
            agentId: `z-${i}`,
            data: { goal: `agent ${i}`, step: v, notes: "x".repeat(200) },
          });
        }
      }
    }),
  );
  await cache.close();
  await store.close();
  await agents.close();
}

interface PhaseResult {
  latency: LatencySummary;
  /** Hits ÷ (hits + misses) as the cache counted them during the phase (0 with the cache off). */
  hitRatio: number;
  storeLoadsPerRequest: number;
  probesPerRequest: number;
}

interface MixResult extends PhaseResult {
  requests: number;
  requestsPerSecond: number;
  prefetched: number;
}

async function runMode(redisUrl: string, profile: StoreProfile, mode: Mode) {
  const admin = new Redis(redisUrl);
  await admin.flushall();
  admin.disconnect();
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
    settings: { prefetch: mode === "cache on + prefetch", statsFlushMs: 1000 },
  });
  await cache.start();
  const enabled = mode !== "cache off";
  for (const type of ["AGENT_STATE", "STATE_VERSION"] as const) {
    cache.policies.setLocal(type, { ...cache.policies.get(type), enabled, ttlSeconds: 3600 });
  }
  const opened = await profile.open();
  const { store, counter } = countingStore(opened.store);
  const state = new StateService({
    store,
    cache,
    events,
    agents: opened.agents,
    audit: new AuditLog(noAudit, () => {}),
    limits: { maxBytes: 1 << 20, historyLimit: 0 },
    logger: silent,
  });
  const readCurrent = (agentId: string) =>
    state.createLoaders().current.load(StateService.currentRef(agentId));

  /**
   * `requests` timed calls of `task` from CONCURRENCY clients, each pausing THINK_MS before each
   * call: clients that never pause measure their own queue, not the read. `before` runs untimed,
   * before the pause (run right before the read, the replies to every client's `before` arrive
   * together and the reads would queue behind each other).
   */
  const phase = async (
    requests: number,
    task: (random: () => number) => { before?: () => Promise<unknown>; run: () => Promise<unknown> },
  ): Promise<PhaseResult> => {
    const latencies: number[] = [];
    const counters = () => {
      const s = cache.stats("AGENT_STATE");
      return { hits: s.hits, misses: s.misses, loads: counter.loads, probes: counter.probes };
    };
    let issued = 0;
    const start = counters();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        const random = seededRandom(7 + worker);
        while (issued++ < requests) {
          const { before, run } = task(random);
          await before?.();
          await new Promise((resolve) => setTimeout(resolve, THINK_MS));
          const t0 = performance.now();
          await run();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    await cache.settled();
    const end = counters();
    const hits = end.hits - start.hits;
    const misses = end.misses - start.misses;
    return {
      latency: summarize(latencies),
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      storeLoadsPerRequest: (end.loads - start.loads) / latencies.length,
      probesPerRequest: (end.probes - start.probes) / latencies.length,
    };
  };

  // hits: the hot set read once untimed, then read again and again.
  for (let i = 0; i < HOT_AGENTS; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => readCurrent(`z-${i + j}`)));
  }
  await cache.settled();
  const hot = (random: () => number) => `z-${Math.floor(random() * HOT_AGENTS)}`;
  const hits = await phase(PHASE_REQUESTS, (random) => {
    const agentId = hot(random);
    return { run: () => readCurrent(agentId) };
  });
  // misses: each read's entry is invalidated first (untimed), as a write elsewhere would.
  const misses = await phase(PHASE_REQUESTS, (random) => {
    const agentId = hot(random);
    return {
      before: () => (enabled ? cache.admin.invalidateAgent(agentId) : Promise.resolve()),
      run: () => readCurrent(agentId),
    };
  });

  // mix: Zipf sessions with writes, entries living TTL_SECONDS.
  for (const type of ["AGENT_STATE", "STATE_VERSION"] as const) {
    cache.policies.setLocal(type, { ...cache.policies.get(type), ttlSeconds: TTL_SECONDS });
  }
  await command.flushall();
  const mix = await runMix(cache, state, counter);

  await cache.close();
  await events.close();
  await closeRedis(command);
  await opened.store.close();
  await opened.agents.close();
  return { store: profile.name, mode, hits, misses, mix };
}

async function runMix(
  cache: CacheLayer,
  state: StateService,
  counter: { loads: number; probes: number },
): Promise<MixResult> {
  const pickAgent = zipf(AGENTS, ZIPF_S);
  const total = WARMUP + REQUESTS;
  let issued = 0;
  let measuring = false;
  const latencies: number[] = [];
  let loadsAtStart = 0;
  let probesAtStart = 0;
  let startedAt = 0;
  const countersAtStart = new Map<string, ReturnType<CacheLayer["stats"]>>();
  const beginMeasuring = () => {
    measuring = true;
    loadsAtStart = counter.loads;
    probesAtStart = counter.probes;
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
      const random = seededRandom(1000 + worker);
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
    misses += now.misses - before.misses;
    prefetched += now.prefetched - before.prefetched;
  }
  return {
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / seconds),
    latency: summarize(latencies),
    storeLoadsPerRequest: (counter.loads - loadsAtStart) / latencies.length,
    probesPerRequest: (counter.probes - probesAtStart) / latencies.length,
    hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
    prefetched,
  };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

async function main() {
  if (process.env.BENCH_ONLY === "autotune") {
    writeResults("cache-autotune", await runAutoTuneComparison());
    return;
  }
  const redis = await RedisServer.start();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-cache-"));
  let neo4j: BenchNeo4j | null = null;
  let driver: Driver | null = null;
  const results: Awaited<ReturnType<typeof runMode>>[] = [];
  try {
    const profiles: StoreProfile[] = [];
    for (const name of benchStores()) {
      if (name === "sqlite") profiles.push(sqliteProfile(dataDir));
      else {
        neo4j = await startBenchNeo4j();
        driver = createNeo4jDriver(neo4j.config);
        profiles.push(neo4jProfile(driver, neo4j.config.database));
      }
    }
    for (const profile of profiles) {
      console.log(`${profile.name}: seeding ${AGENTS} agents × ${VERSIONS} versions…`);
      const seedStarted = performance.now();
      await seed(profile);
      console.log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
      for (const mode of MODES) {
        process.stdout.write(`${profile.name}, ${mode}… `);
        const result = await runMode(redis.url, profile, mode);
        console.log(
          `hit p50 ${result.hits.latency.p50Ms} ms, miss p50 ${result.misses.latency.p50Ms} ms, mix ${result.mix.requestsPerSecond} req/s (load ${os.loadavg()[0]!.toFixed(1)})`,
        );
        results.push(result);
      }
    }

    printTable(
      `Latency by outcome (ms): ${CONCURRENCY} clients, ${PHASE_REQUESTS} reads per phase; "hit" reads cached entries, "miss" entries invalidated just before (cache off: the same reads from the store)`,
      results.map((r) => ({
        store: r.store,
        mode: r.mode,
        "hit p50": r.hits.latency.p50Ms,
        "hit p99": r.hits.latency.p99Ms,
        "hit mean": r.hits.latency.meanMs,
        "miss p50": r.misses.latency.p50Ms,
        "miss p99": r.misses.latency.p99Ms,
        "miss mean": r.misses.latency.meanMs,
        "hit ratio (hits, misses)": `${round3(r.hits.hitRatio)}, ${round3(r.misses.hitRatio)}`,
        "store loads/req (hits, misses)": `${round3(r.hits.storeLoadsPerRequest)}, ${round3(r.misses.storeLoadsPerRequest)}`,
      })),
    );
    printTable(
      `Mixed workload: ${AGENTS} agents, Zipf s=${ZIPF_S}, ${WRITE_RATIO * 100}% writes, sessions, ${CONCURRENCY} clients, ${REQUESTS} measured requests (after ${WARMUP}), TTL ${TTL_SECONDS} s`,
      results.map((r) => ({
        store: r.store,
        mode: r.mode,
        "req/s": r.mix.requestsPerSecond,
        "p50 ms": r.mix.latency.p50Ms,
        "p99 ms": r.mix.latency.p99Ms,
        "mean ms": r.mix.latency.meanMs,
        "store loads/req": round3(r.mix.storeLoadsPerRequest),
        "probes/req": round3(r.mix.probesPerRequest),
        "hit ratio": round3(r.mix.hitRatio),
        ...(MODES.length > 2 ? { prefetched: r.mix.prefetched } : {}),
      })),
    );
    const ratios = [...new Set(results.map((r) => r.store))].map((store) => {
      const of = (mode: Mode) => results.find((r) => r.store === store && r.mode === mode)!;
      const [off, on] = [of("cache off"), of("cache on")];
      return {
        store,
        "hit p50 on÷off": round3(on.hits.latency.p50Ms / off.hits.latency.p50Ms),
        "miss p50 on÷off": round3(on.misses.latency.p50Ms / off.misses.latency.p50Ms),
        "mix p50 on÷off": round3(on.mix.latency.p50Ms / off.mix.latency.p50Ms),
        "mix req/s on÷off": round3(on.mix.requestsPerSecond / off.mix.requestsPerSecond),
        "mix store loads on÷off": round3(on.mix.storeLoadsPerRequest / off.mix.storeLoadsPerRequest),
      };
    });
    printTable("Ratios (cache on ÷ cache off)", ratios);
    writeResults("cache", {
      workload: {
        agents: AGENTS,
        versionsPerAgent: VERSIONS,
        hotAgents: HOT_AGENTS,
        zipfS: ZIPF_S,
        writeRatio: WRITE_RATIO,
        concurrency: CONCURRENCY,
        phaseRequests: PHASE_REQUESTS,
        mixRequests: REQUESTS,
        warmupRequests: WARMUP,
        ttlSeconds: TTL_SECONDS,
        thinkMs: THINK_MS,
      },
      runs: results,
      ratios,
    });
    // TTL auto-tuning against fixed TTLs, on its own workload (bench/cache-autotune.ts).
    writeResults("cache-autotune", await runAutoTuneComparison());
  } finally {
    await driver?.close();
    await neo4j?.stop();
    await redis.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
