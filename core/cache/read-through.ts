/**
 * Reads through the cache. A per-request DataLoader batches the keys a request needs; each batch
 * is answered from the nearest copy that is provably current, and the rest is loaded from the
 * store in one batched query (fill.ts):
 *
 * - a type whose store is in this process (it registered a `probe`): this process's near cache,
 *   checked against the store's revisions in the same synchronous step (near-cache.ts); misses
 *   go straight to the store, which is cheaper than a Redis round trip. Redis is not read for
 *   such a type, so nothing is written back to it; writes still update it (writes.ts);
 * - any other type: one MGET, which also reads each key's fill lock (fill.ts); tombstones and
 *   absent keys are misses.
 *
 * A disabled type, or a cache that is not usable (availability.ts), is read from the store.
 */
import DataLoader from "dataloader";
import type { CacheAvailability } from "./availability.js";
import type { CacheBackend, FillRead } from "./backend.js";
import type { BackgroundWork } from "./background.js";
import type { EntryCodec } from "./codec.js";
import type { FillMode, Miss, StoreFill } from "./fill.js";
import { type CacheRef, cacheKey } from "./keys.js";
import type { NearCache } from "./near-cache.js";
import type { CachePolicies } from "./policies.js";
import type { CacheDataType } from "./policy.js";
import { PREFETCH_TYPES, type Prefetcher } from "./prefetch.js";
import type { CacheSource, CacheSources } from "./sources.js";
import type { CacheCounters } from "./stats.js";

export interface ReadThroughOptions {
  backend: CacheBackend;
  availability: CacheAvailability;
  policies: CachePolicies;
  sources: CacheSources;
  counters: CacheCounters;
  codec: EntryCodec;
  near: NearCache;
  fill: StoreFill;
  prefetcher: Prefetcher | null;
  background: BackgroundWork;
}

export class ReadThrough {
  constructor(private readonly options: ReadThroughOptions) {}

  /**
   * A DataLoader for one request and type (its source must be registered). Create one per
   * request: DataLoader also memoises within the request.
   */
  loader<T>(type: CacheDataType): DataLoader<CacheRef, T | null, string> {
    const source = this.options.sources.require(type);
    return new DataLoader<CacheRef, T | null, string>((refs) => this.loadMany<T>(type, refs, source), {
      cacheKeyFn: (ref) => cacheKey(type, ref),
    });
  }

  /** Reads a batch of one type: cached copies where they are current, one store load for the rest. */
  async loadMany<T>(
    type: CacheDataType,
    refs: readonly CacheRef[],
    source: CacheSource,
  ): Promise<(T | null)[]> {
    const { fill, policies, availability, near } = this.options;
    const ticket = fill.ticket();
    const keys = refs.map((ref) => cacheKey(type, ref));
    const results = new Array<T | null>(refs.length).fill(null);
    const enabled = policies.get(type).enabled;

    let misses: Miss[];
    let mode: FillMode;
    if (enabled && source.probe && near.enabled) {
      misses = this.readNear(type, keys, refs, source.probe, results);
      // Nothing reads this type from Redis (every process has its store at hand): no write-back.
      mode = { lock: false, writeBack: false, keepNear: true };
    } else {
      const read = enabled && availability.usable ? await this.readShared(type, keys) : null;
      misses = this.collectShared(type, keys, refs, read, results);
      mode = { lock: read !== null, writeBack: read !== null, keepNear: false };
    }
    if (misses.length === 0) return results;

    const joined: Promise<void>[] = [];
    const toFill: Miss[] = [];
    for (const miss of misses) {
      const running = fill.join(miss, ticket);
      if (running) {
        joined.push(
          running.then((loaded) => {
            results[miss.index] = loaded.value as T | null;
          }),
        );
      } else toFill.push(miss);
    }
    if (toFill.length > 0) {
      const filled = await fill.fill(type, toFill, source.load, mode);
      for (const miss of toFill) results[miss.index] = filled.get(miss.key)!.value as T | null;
    }
    await Promise.all(joined);
    return results;
  }

  /** Near-cache copies the store confirms; returns the misses. */
  private readNear<T>(
    type: CacheDataType,
    keys: string[],
    refs: readonly CacheRef[],
    probe: NonNullable<CacheSource["probe"]>,
    results: (T | null)[],
  ): Miss[] {
    const copies = this.options.near.current(keys, refs, probe);
    const misses: Miss[] = [];
    copies.forEach((copy, index) => {
      if (copy) results[index] = copy.value as T | null;
      else
        misses.push({ index, key: keys[index]!, ref: refs[index]!, minRevision: 0, lockedElsewhere: false });
    });
    const { counters } = this.options;
    counters.add(type, "hits", keys.length - misses.length);
    counters.add(type, "nearHits", keys.length - misses.length);
    counters.add(type, "misses", misses.length);
    return misses;
  }

  /** One MGET (with the fill locks when they are on); null when the cache failed. */
  private async readShared(type: CacheDataType, keys: string[]): Promise<FillRead | null> {
    const { backend, fill, availability, prefetcher, background } = this.options;
    let read: FillRead;
    try {
      read = fill.locksOn
        ? await backend.getManyWithLocks(keys)
        : { entries: await backend.getMany(keys), locked: [] };
    } catch (error) {
      availability.failed(error);
      return null;
    }
    if (prefetcher && PREFETCH_TYPES.has(type)) {
      const missed = keys.filter((_key, i) => read.entries[i]?.kind !== "value");
      background.track(prefetcher.afterRead(keys, missed));
    }
    return read;
  }

  /** Values from an MGET (or none, when the cache was not read); returns the misses. */
  private collectShared<T>(
    type: CacheDataType,
    keys: string[],
    refs: readonly CacheRef[],
    read: FillRead | null,
    results: (T | null)[],
  ): Miss[] {
    const misses: Miss[] = [];
    refs.forEach((ref, index) => {
      const entry = read?.entries[index];
      const value =
        entry?.kind === "value" ? this.options.codec.decode(keys[index]!, entry.payload) : undefined;
      if (value !== undefined) results[index] = value as T | null;
      else {
        misses.push({
          index,
          key: keys[index]!,
          ref,
          minRevision: entry?.revision ?? 0,
          lockedElsewhere: read?.locked[index] ?? false,
        });
      }
    });
    const { counters } = this.options;
    counters.add(type, "hits", refs.length - misses.length);
    counters.add(type, read ? "misses" : "bypasses", misses.length);
    return misses;
  }
}
