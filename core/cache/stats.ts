/**
 * Cache counters. Each process counts in memory (no Redis call on the request path) and adds its
 * deltas to a shared Redis hash every few seconds (HINCRBY, one pipeline), so `cacheStats`
 * reports every replica since the hash was created. Deltas that fail to flush are kept and sent
 * with the next flush: an outage delays counts, it does not lose them (unless the process exits
 * while Redis is down).
 */
import type { RedisClient } from "../redis.js";
import { STATS_KEY } from "./keys.js";
import { CACHE_DATA_TYPES, type CacheDataType } from "./policy.js";

export const COUNTER_NAMES = [
  /** Reads answered by the cache. */
  "hits",
  /** Of those, answered by this process's near cache (types whose store is in the process). */
  "nearHits",
  /** Reads the cache was asked for and did not have. */
  "misses",
  /** Reads that did not consult the cache (type disabled, or Redis unavailable). */
  "bypasses",
  /** Batched store queries issued by the cache layer (reads, prefetch, warm). */
  "storeLoads",
  /** Entries those queries returned. */
  "loadedKeys",
  /** Write-through updates (the new value stored by a write). */
  "writes",
  /** Tombstones written by writes, deletes and the admin API. */
  "invalidations",
  /** Entries warmed ahead of a read by co-access prefetch. */
  "prefetched",
  /** Misses that waited for another process's fill instead of querying the store. */
  "fillWaits",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type TypeCounters = Record<CounterName, number>;
export type CountersByType = Record<CacheDataType, TypeCounters>;

export function zeroCounters(): CountersByType {
  const byType = {} as CountersByType;
  for (const type of CACHE_DATA_TYPES) {
    byType[type] = Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as TypeCounters;
  }
  return byType;
}

/** This process's counters: totals since start, and what has not been flushed yet. */
export class CacheCounters {
  private readonly totals = zeroCounters();
  private unflushed = zeroCounters();
  private dirty = false;

  add(type: CacheDataType, name: CounterName, amount = 1): void {
    if (amount === 0) return;
    this.totals[type][name] += amount;
    this.unflushed[type][name] += amount;
    this.dirty = true;
  }

  local(type: CacheDataType): TypeCounters {
    return { ...this.totals[type] };
  }

  /** Hands the unflushed deltas over (null if there are none). */
  take(): CountersByType | null {
    if (!this.dirty) return null;
    const deltas = this.unflushed;
    this.unflushed = zeroCounters();
    this.dirty = false;
    return deltas;
  }

  /** Puts deltas back after a failed flush. */
  giveBack(deltas: CountersByType): void {
    for (const type of CACHE_DATA_TYPES) {
      for (const name of COUNTER_NAMES) {
        if (deltas[type][name] !== 0) {
          this.unflushed[type][name] += deltas[type][name];
          this.dirty = true;
        }
      }
    }
  }

  pending(): CountersByType {
    const copy = zeroCounters();
    for (const type of CACHE_DATA_TYPES) copy[type] = { ...this.unflushed[type] };
    return copy;
  }
}

export interface SharedCounters {
  /** When the shared counters started (first flush ever), ISO 8601. */
  since: string | null;
  byType: CountersByType;
}

export interface StatsStore {
  add(deltas: CountersByType): Promise<void>;
  read(): Promise<SharedCounters>;
}

export function createRedisStatsStore(client: RedisClient): StatsStore {
  return {
    async add(deltas) {
      const pipeline = client.pipeline();
      pipeline.hsetnx(STATS_KEY, "since", new Date().toISOString());
      for (const type of CACHE_DATA_TYPES) {
        for (const name of COUNTER_NAMES) {
          const amount = deltas[type][name];
          if (amount !== 0) pipeline.hincrby(STATS_KEY, `${type}:${name}`, amount);
        }
      }
      const replies = (await pipeline.exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
    },
    async read() {
      const fields = await client.hgetall(STATS_KEY);
      const byType = zeroCounters();
      for (const [field, value] of Object.entries(fields)) {
        const [type, name] = field.split(":") as [CacheDataType, CounterName];
        if (byType[type] && name in byType[type]) byType[type][name] = Number(value);
      }
      return { since: fields.since ?? null, byType };
    },
  };
}

export function createInProcessStatsStore(): StatsStore {
  const totals = zeroCounters();
  let since: string | null = null;
  return {
    async add(deltas) {
      since ??= new Date().toISOString();
      for (const type of CACHE_DATA_TYPES) {
        for (const name of COUNTER_NAMES) totals[type][name] += deltas[type][name];
      }
    },
    async read() {
      const byType = zeroCounters();
      for (const type of CACHE_DATA_TYPES) byType[type] = { ...totals[type] };
      return { since, byType };
    },
  };
}
