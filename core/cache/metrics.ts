/**
 * The cache layer's counters as Prometheus metrics: reads by type and result (hit ratio per
 * type), store loads, writes and invalidations, and whether the cache is degraded. Read from the
 * CacheLayer's own per-process counters at scrape time, so the read path does no extra work.
 *
 * One CacheLayer serves every service of a process (`npm start` runs four), and each service
 * has its own /metrics: the counters are exported by the first service that registers them in
 * the process, so a Prometheus summing over services does not count them twice.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { CacheLayer } from "./cache-layer.js";
import { CACHE_DATA_TYPES } from "./policy.js";

const exported = new WeakSet<CacheLayer>();

export function exportCacheMetrics(cache: CacheLayer, registry: Registry): boolean {
  if (exported.has(cache)) return false;
  exported.add(cache);
  const registers = [registry];
  new Counter({
    name: "mnemo_cache_reads_total",
    help: "Cache reads by data type and result: hit, miss (loaded from the store) or bypass (type disabled or Redis unavailable)",
    labelNames: ["type", "result"],
    registers,
    collect() {
      this.reset();
      for (const type of CACHE_DATA_TYPES) {
        const stats = cache.stats(type);
        this.inc({ type, result: "hit" }, stats.hits);
        this.inc({ type, result: "miss" }, stats.misses);
        this.inc({ type, result: "bypass" }, stats.bypasses);
      }
    },
  });
  new Counter({
    name: "mnemo_cache_store_loads_total",
    help: "Batched store queries issued by the cache layer (reads, prefetch, warming), by data type",
    labelNames: ["type"],
    registers,
    collect() {
      this.reset();
      for (const type of CACHE_DATA_TYPES) this.inc({ type }, cache.stats(type).storeLoads);
    },
  });
  new Counter({
    name: "mnemo_cache_writes_total",
    help: "Cache updates by writes, by data type and kind: write_through (the new value) or invalidation (a tombstone)",
    labelNames: ["type", "kind"],
    registers,
    collect() {
      this.reset();
      for (const type of CACHE_DATA_TYPES) {
        const stats = cache.stats(type);
        this.inc({ type, kind: "write_through" }, stats.writes);
        this.inc({ type, kind: "invalidation" }, stats.invalidations);
      }
    },
  });
  new Gauge({
    name: "mnemo_cache_degraded",
    help: "1 while Redis is unreachable or an outage's invalidations are not replayed yet (reads bypass the cache)",
    registers,
    collect() {
      this.set(cache.availability.usable ? 0 : 1);
    },
  });
  return true;
}
