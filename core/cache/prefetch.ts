/**
 * Predictive prefetch: when an agent reads an entry, the entries it usually reads next (its
 * co-access successors, coaccess.ts) are loaded into the cache in the background, so the next
 * request finds them.
 *
 * A miss always looks up successors: it is the start of a cold session, the case prefetch is
 * for, and it costs a store load anyway. A hit looks up at most once per interval per entry and
 * process (its successors were most likely warmed with it), which keeps hot keys from costing a
 * Redis round trip on every read.
 */
import { LRUCache } from "lru-cache";
import type { CoAccessStore, CoAccessTracker } from "./coaccess.js";
import { type CacheRef, parseCacheKey } from "./keys.js";
import type { CacheDataType } from "./policy.js";

/** A successor must have followed the entry at least this often to be prefetched. */
export const PREFETCH_MIN_COUNT = 2;
/** Per entry and process, successors of a hit are looked up at most this often (or half the TTL). */
export const PREFETCH_INTERVAL_MS = 10_000;
/** The types whose entries can be loaded by id, so prefetched (agent listings cannot: their ids are hashes). */
export const PREFETCH_TYPES: ReadonlySet<CacheDataType> = new Set([
  "AGENT_STATE",
  "STATE_VERSION",
  "MEMORY",
  "ENTITY",
]);

export interface PrefetcherOptions {
  tracker: CoAccessTracker;
  store: CoAccessStore;
  /** Successors warmed per read entry. */
  limit: number;
  /** Current look-up interval for hits (follows the TTLs). */
  intervalMs(): number;
  /** Whether this process can load a type from the store (a source is registered). */
  canLoad(type: CacheDataType): boolean;
  /** Loads the refs that are not cached yet and writes them to the cache. */
  warm(type: CacheDataType, refs: CacheRef[]): Promise<number>;
}

export class Prefetcher {
  private readonly looked = new LRUCache<string, true>({ max: 50_000, ttl: PREFETCH_INTERVAL_MS });

  constructor(private readonly options: PrefetcherOptions) {}

  /** Learns from a read and, in the background, warms what usually follows. */
  afterRead(keys: readonly string[], missed: readonly string[]): Promise<void> | null {
    this.options.tracker.observe(keys);
    const missedSet = new Set(missed);
    const due = keys.filter((key) => missedSet.has(key) || !this.looked.has(key));
    if (due.length === 0) return null;
    const ttl = this.options.intervalMs();
    for (const key of due) this.looked.set(key, true, { ttl });
    return this.warmSuccessors(due, new Set(keys));
  }

  /** Sends the co-access counts gathered since the last flush. */
  async flush(): Promise<void> {
    const counts = this.options.tracker.take();
    if (counts.size > 0) await this.options.store.add(counts);
  }

  private async warmSuccessors(keys: string[], alreadyRead: Set<string>): Promise<void> {
    const successors = await this.options.store.successors(keys, this.options.limit, PREFETCH_MIN_COUNT);
    const byType = new Map<CacheDataType, Map<string, CacheRef>>();
    for (const key of new Set([...successors.values()].flat())) {
      const parsed = parseCacheKey(key);
      if (!parsed || alreadyRead.has(key) || !PREFETCH_TYPES.has(parsed.type)) continue;
      if (!this.options.canLoad(parsed.type)) continue;
      let refs = byType.get(parsed.type);
      if (!refs) {
        refs = new Map();
        byType.set(parsed.type, refs);
      }
      refs.set(key, { agentId: parsed.agentId, id: parsed.id });
    }
    await Promise.all([...byType].map(([type, refs]) => this.options.warm(type, [...refs.values()])));
  }
}
