/**
 * The TTL auto-tuning part of `npm run bench:cache` (also alone: `BENCH_ONLY=autotune`): the
 * auto-tuned TTL against fixed TTLs on a workload whose hot set shifts halfway through.
 *
 * Workload (time-compressed; TTLs in seconds): reads at BENCH_AUTOTUNE_RATE (200) per second,
 * 98% to a hot set and 2% one-off reads of keys never read again. First half: 40 hot keys, each
 * re-read about every 0.2 s. Second half: 300 other hot keys, each re-read about every 1.5 s. What
 * the tuner aims at (docs/operations.md): the target hit ratio (BENCH_AUTOTUNE_TARGET, 0.85;
 * the second half's first reads of 300 new keys and the one-off reads cap it near 0.95) with the
 * shortest TTL, because every second of TTL keeps the one-off reads in Redis that much longer.
 * Reads of one key within one 20 ms tick count once (as a request's DataLoader would). A fixed TTL short enough to
 * be cheap in the first half misses too much in the second; one long enough for the second
 * keeps far more keys than needed in the first.
 *
 * Every configuration gets the same reads at the same moments, each through its own CacheLayer
 * on its own redis-server (one process, the same store loader). Reported per configuration: hit
 * ratio per half and overall, store loads, and the keys held in Redis (sampled every second;
 * the mean is what the TTL costs in memory). The best fixed TTL is the one holding the fewest
 * keys among those that reach the target in both halves (or, if none does, the highest hit ratio).
 */
import { Redis } from "ioredis";
import { CacheAutoTuner, DEFAULT_TTL_BOUNDS } from "../core/cache/auto-tune.js";
import { type CacheLayer, createCacheLayer } from "../core/cache/index.js";
import type { CacheRef } from "../core/cache/keys.js";
import { createInProcessEventBus } from "../core/events.js";
import { closeRedis, createRedisClient, waitForRedis } from "../core/redis.js";
import type { Revisioned } from "../core/store/revisioned.js";
import { RedisServer } from "../test/support/redis-server.js";
import { seededRandom } from "../test/support/seeded-random.js";
import { printTable } from "./support/report.js";

const PHASE_SECONDS = Number(process.env.BENCH_AUTOTUNE_PHASE_SECONDS ?? 60);
const RATE = Number(process.env.BENCH_AUTOTUNE_RATE ?? 200);
const TARGET = Number(process.env.BENCH_AUTOTUNE_TARGET ?? 0.85);
const FIXED_TTLS = [1, 2, 4, 8, 16, 32];
const BOUNDS = { minTtlSeconds: 1, maxTtlSeconds: 32 };
const AUTO_START_TTL = 8;
const TUNE_INTERVAL_MS = 1000;
const TICK_MS = 20;
const HOT_SHARE = 0.98;
const HOT_A = 40;
const HOT_B = 300;
const TYPE = "MEMORY" as const;
const VALUE = { text: "x".repeat(200) };

interface Contender {
  name: string;
  redis: RedisServer;
  client: ReturnType<typeof createRedisClient>;
  probe: Redis;
  cache: CacheLayer;
  tuner: CacheAutoTuner | null;
  loads: number;
  hits: [number, number];
  reads: [number, number];
  keySamples: number[];
  /** The auto-tuned TTL over time: [second, ttl] at each change. */
  ttlChanges: [number, number][];
}

async function contender(name: string, ttl: number | "auto"): Promise<Contender> {
  const redis = await RedisServer.start();
  const client = createRedisClient({ mode: "single", url: redis.url }, "command");
  await waitForRedis(client, 5000);
  const cache = createCacheLayer({
    redis: client,
    events: createInProcessEventBus(),
    settings: { statsFlushMs: TUNE_INTERVAL_MS, fillLockMs: 0 },
  });
  await cache.start();
  const startTtl = ttl === "auto" ? AUTO_START_TTL : ttl;
  cache.policies.setLocal(TYPE, { enabled: true, ttlSeconds: startTtl, writeMode: "INVALIDATE" });
  const tuner =
    ttl === "auto"
      ? new CacheAutoTuner({
          cache: cache.admin,
          settings: {
            enabled: true,
            intervalMs: TUNE_INTERVAL_MS,
            targetHitRatio: TARGET,
            bounds: { ...DEFAULT_TTL_BOUNDS, [TYPE]: BOUNDS },
          },
        })
      : null;
  const result: Contender = {
    name,
    redis,
    client,
    probe: new Redis(redis.url),
    cache,
    tuner,
    loads: 0,
    hits: [0, 0],
    reads: [0, 0],
    keySamples: [],
    ttlChanges: [[0, startTtl]],
  };
  // The same stand-in store for every contender; only the loads it counts are its own.
  cache.registerSource(TYPE, async (refs: readonly CacheRef[]): Promise<Revisioned<unknown>[]> => {
    result.loads += refs.length;
    return refs.map(() => ({ revision: 1, value: VALUE }));
  });
  return result;
}

export async function runAutoTuneComparison(): Promise<Record<string, unknown>> {
  const contenders = [
    ...(await Promise.all(FIXED_TTLS.map((ttl) => contender(`fixed ${ttl} s`, ttl)))),
    await contender(`auto (${BOUNDS.minTtlSeconds}-${BOUNDS.maxTtlSeconds} s)`, "auto"),
  ];
  const random = seededRandom(42);
  let oneOff = 0;
  const nextKey = (phase: number) => {
    if (random() >= HOT_SHARE) return `once-${oneOff++}`;
    return phase === 0 ? `a-${Math.floor(random() * HOT_A)}` : `b-${Math.floor(random() * HOT_B)}`;
  };

  console.log(
    `auto-tune: ${RATE} reads/s, ${PHASE_SECONDS} s per half, hot set ${HOT_A} then ${HOT_B} keys, ` +
      `target hit ratio ${TARGET} (load ${process.env.BENCH_LOAD ?? "see uptime"})`,
  );
  const started = performance.now();
  const total = PHASE_SECONDS * 2 * 1000;
  let issued = 0;
  let lastSample = -1;
  let lastTune = 0;
  while (performance.now() - started < total) {
    const elapsed = performance.now() - started;
    const phase = elapsed < PHASE_SECONDS * 1000 ? 0 : 1;
    const due = Math.floor((elapsed / 1000) * RATE);
    const ids = new Set<string>();
    for (; issued < due; issued++) ids.add(nextKey(phase));
    const refs: CacheRef[] = [...ids].map((id) => ({ agentId: "bench", id }));
    if (refs.length > 0) {
      await Promise.all(
        contenders.map(async (c) => {
          const before = c.cache.stats(TYPE).hits;
          // One DataLoader per tick, as one per request in a subgraph.
          await c.cache.loader(TYPE).loadMany(refs);
          c.hits[phase] += c.cache.stats(TYPE).hits - before;
          c.reads[phase] += refs.length;
        }),
      );
    }
    const second = Math.floor(elapsed / 1000);
    if (second !== lastSample) {
      lastSample = second;
      await Promise.all(contenders.map(async (c) => c.keySamples.push(await c.probe.dbsize())));
    }
    if (elapsed - lastTune >= TUNE_INTERVAL_MS) {
      lastTune = elapsed;
      for (const c of contenders) {
        if (!c.tuner) continue;
        await c.tuner.runOnce();
        const ttl = c.cache.policies.get(TYPE).ttlSeconds;
        if (ttl !== c.ttlChanges.at(-1)![1]) c.ttlChanges.push([second, ttl]);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }

  const ratio = (hits: number, reads: number) => (reads === 0 ? 0 : Math.round((hits / reads) * 1000) / 1000);
  const rows = contenders.map((c) => ({
    ttl: c.name,
    "hit ratio 1st half": ratio(c.hits[0], c.reads[0]),
    "hit ratio 2nd half": ratio(c.hits[1], c.reads[1]),
    "hit ratio": ratio(c.hits[0] + c.hits[1], c.reads[0] + c.reads[1]),
    "store loads": c.loads,
    "keys (mean)": Math.round(c.keySamples.reduce((s, n) => s + n, 0) / Math.max(1, c.keySamples.length)),
    "keys 1st half": Math.round(mean(c.keySamples.slice(0, PHASE_SECONDS))),
    "keys 2nd half": Math.round(mean(c.keySamples.slice(PHASE_SECONDS))),
  }));
  const fixed = rows.slice(0, FIXED_TTLS.length);
  const meeting = fixed.filter((r) => r["hit ratio 1st half"] >= TARGET && r["hit ratio 2nd half"] >= TARGET);
  const best = meeting.length
    ? meeting.reduce((a, b) => (b["keys (mean)"] < a["keys (mean)"] ? b : a))
    : fixed.reduce((a, b) => (b["hit ratio"] > a["hit ratio"] ? b : a));
  const auto = rows.at(-1)!;
  printTable(
    `Cache TTL auto-tuning: hot set shifts halfway (${HOT_A} -> ${HOT_B} keys), ${RATE} reads/s, target ${TARGET}`,
    rows,
  );
  const autoChanges = contenders.at(-1)!.ttlChanges;
  console.log(
    `auto-tuned TTL over time (second: ttl): ${autoChanges.map(([s, t]) => `${s}s:${t}`).join("  ")}`,
  );
  const comparison = {
    bestFixed: best.ttl,
    bestFixedMeetsTarget: meeting.length > 0,
    auto: auto.ttl,
    hitRatio: { bestFixed: best["hit ratio"], auto: auto["hit ratio"] },
    keysMean: { bestFixed: best["keys (mean)"], auto: auto["keys (mean)"] },
    storeLoads: { bestFixed: best["store loads"], auto: auto["store loads"] },
  };
  console.log("auto-tuned vs best fixed TTL:", comparison);

  for (const c of contenders) {
    await c.tuner?.stop();
    await c.cache.close();
    await closeRedis(c.client);
    c.probe.disconnect();
    await c.redis.close();
  }
  return {
    workload: {
      phaseSeconds: PHASE_SECONDS,
      readsPerSecond: RATE,
      hotShare: HOT_SHARE,
      hotKeys: [HOT_A, HOT_B],
      targetHitRatio: TARGET,
      bounds: BOUNDS,
      tuneIntervalMs: TUNE_INTERVAL_MS,
    },
    rows,
    autoTtlChanges: autoChanges,
    comparison,
  };
}

function mean(values: number[]): number {
  return values.reduce((s, n) => s + n, 0) / Math.max(1, values.length);
}
