/**
 * The cache layer's tunables, each set by an environment variable (core/config.ts, README).
 */
export interface CacheSettings {
  /**
   * How long a process may hold the fill lock of an entry it loads, and how long the others
   * wait for it before loading themselves. 0 turns cross-process stampede protection off.
   * CACHE_FILL_LOCK_MS, default 2000.
   */
  fillLockMs: number;
  /** Warm the entries an agent usually reads next (co-access). CACHE_PREFETCH, default off. */
  prefetch: boolean;
  /** Successors warmed per entry read. CACHE_PREFETCH_LIMIT, default 3. */
  prefetchLimit: number;
  /** How often counters and co-access are sent to Redis and policies re-read. CACHE_STATS_FLUSH_MS, default 5000. */
  statsFlushMs: number;
  /**
   * Bytes of values (as cached, an estimate) this process keeps in its near cache, for types
   * whose store is in this process (near-cache.ts). 0 turns it off. CACHE_NEAR_MAX_MB, default 64.
   */
  nearCacheBytes: number;
}

export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  fillLockMs: 2000,
  // Off by default: in bench:cache it raises the hit ratio of cold sessions but costs
  // throughput and does not reduce store queries (docs/cache.md).
  prefetch: false,
  prefetchLimit: 3,
  statsFlushMs: 5000,
  nearCacheBytes: 64 * 2 ** 20,
};
