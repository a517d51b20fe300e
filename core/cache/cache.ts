/**
 * The cache layer every subgraph uses.
 *
 * Reads: a per-request DataLoader batches the keys a request needs, reads them with one MGET,
 * loads all misses from the store in one batched call and writes them back (TTL with jitter,
 * revision-compared). Concurrent misses for one key in this process share one store load.
 *
 * Writes: after the store commits, `write()` stores the new value (WRITE_THROUGH) or a
 * tombstone with the new revision (INVALIDATE) before the mutation returns. If Redis is down,
 * the invalidation is remembered and replayed when Redis is back, and reads bypass the cache
 * meanwhile, so an outage makes reads slower but never wrong.
 */
import DataLoader from "dataloader";
import type { Logger } from "../logger.js";
import type { CacheBackend, EntryWrite } from "./backend.js";
import { agentTagKey, type CacheRef, cacheKey, floorKey } from "./keys.js";
import {
  CACHE_DATA_TYPES,
  type CacheDataType,
  type CachePolicy,
  DEFAULT_CACHE_POLICIES,
  ttlWithJitter,
} from "./policy.js";

/** A value as the store knows it: `revision` grows with every change of that entry (deletes too). */
export interface Revisioned<T> {
  revision: number;
  /** null: the store has nothing for this ref (cached too, so absent data does not hit the store). */
  value: T | null;
}

export type BatchLoad<T> = (refs: readonly CacheRef[]) => Promise<Revisioned<T>[]>;

export interface CacheTypeCounters {
  hits: number;
  misses: number;
  storeLoads: number;
  writes: number;
  invalidations: number;
}

/** Pending invalidations kept while Redis is unreachable; past this, the whole cache is flushed on return. */
const MAX_PENDING_INVALIDATIONS = 10_000;
/** Floors must outlive any write-back still in flight when they are set; an hour is generous. */
const FLOOR_TTL_MS = 3_600_000;

export interface CacheLayerOptions {
  backend: CacheBackend;
  logger?: Logger;
  policies?: Partial<Record<CacheDataType, CachePolicy>>;
}

export class CacheLayer {
  readonly backend: CacheBackend;
  private readonly logger?: Logger;
  private readonly policies: Record<CacheDataType, CachePolicy>;
  private readonly counters = new Map<CacheDataType, CacheTypeCounters>();
  /** Store loads in flight in this process, by cache key: concurrent misses wait for the same one. */
  private readonly inflight = new Map<string, Promise<Revisioned<unknown>>>();
  /** Writes that could not reach the cache; replayed by `recover()`. */
  private readonly pending = new Map<string, EntryWrite>();
  private readonly pendingPurges = new Map<string, { floorKeys: string[]; floor: number }>();
  private pendingOverflow = false;
  private degradedSince: number | null = null;

  constructor(options: CacheLayerOptions) {
    this.backend = options.backend;
    this.logger = options.logger;
    this.policies = { ...DEFAULT_CACHE_POLICIES, ...options.policies };
    for (const type of CACHE_DATA_TYPES) {
      this.counters.set(type, { hits: 0, misses: 0, storeLoads: 0, writes: 0, invalidations: 0 });
    }
  }

  policy(type: CacheDataType): CachePolicy {
    return this.policies[type];
  }

  setPolicy(type: CacheDataType, policy: CachePolicy): void {
    this.policies[type] = { ...policy };
  }

  stats(type: CacheDataType): CacheTypeCounters {
    return { ...this.counters.get(type)! };
  }

  /** True while the last cache operation failed (Redis unreachable). */
  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  /**
   * A DataLoader for one request. Keys are refs; values are the cached or loaded values.
   * Create one per request and type: DataLoader also memoises within the request.
   */
  loader<T>(type: CacheDataType, load: BatchLoad<T>): DataLoader<CacheRef, T | null, string> {
    return new DataLoader<CacheRef, T | null, string>((refs) => this.loadMany(type, refs, load), {
      cacheKeyFn: (ref) => cacheKey(type, ref),
    });
  }

  async loadMany<T>(
    type: CacheDataType,
    refs: readonly CacheRef[],
    load: BatchLoad<T>,
  ): Promise<(T | null)[]> {
    const policy = this.policies[type];
    const counters = this.counters.get(type)!;
    const keys = refs.map((ref) => cacheKey(type, ref));
    const results = new Array<T | null>(refs.length).fill(null);
    let cached: Awaited<ReturnType<CacheBackend["getMany"]>> = [];
    // While invalidations are waiting to be replayed, cached entries may be stale: skip them.
    const useCache = policy.enabled && !this.hasPendingInvalidations();
    if (useCache) {
      try {
        cached = await this.backend.getMany(keys);
        this.markHealthy();
      } catch (error) {
        this.markDegraded(error);
      }
    }

    const missIndexes: number[] = [];
    refs.forEach((_ref, index) => {
      const entry = cached[index];
      if (entry?.kind === "value") {
        results[index] = JSON.parse(entry.payload) as T | null;
        counters.hits++;
      } else {
        missIndexes.push(index);
        counters.misses++;
      }
    });
    if (missIndexes.length === 0) return results;

    // Join loads already in flight for the same keys; load the rest in one batch.
    const toLoad: number[] = [];
    const waits: Promise<void>[] = [];
    for (const index of missIndexes) {
      const running = this.inflight.get(keys[index]!);
      if (running) {
        waits.push(
          running.then((loaded) => {
            results[index] = loaded.value as T | null;
          }),
        );
      } else toLoad.push(index);
    }

    if (toLoad.length > 0) {
      counters.storeLoads++;
      const batch = load(toLoad.map((index) => refs[index]!));
      toLoad.forEach((index, position) => {
        const key = keys[index]!;
        const one = batch.then((loaded) => {
          const entry = loaded[position];
          if (!entry) throw new Error(`cache loader for ${type} returned too few results`);
          return entry;
        });
        this.inflight.set(key, one);
        one.then(
          () => this.inflight.delete(key),
          () => this.inflight.delete(key),
        );
      });
      const loaded = await batch;
      if (loaded.length !== toLoad.length) {
        throw new Error(
          `cache loader for ${type} returned ${loaded.length} results for ${toLoad.length} keys`,
        );
      }
      const writes: EntryWrite[] = [];
      toLoad.forEach((index, position) => {
        const entry = loaded[position]!;
        results[index] = entry.value;
        if (useCache && !this.degraded) {
          writes.push(this.entryWrite(type, refs[index]!, entry.revision, JSON.stringify(entry.value)));
        }
      });
      // Write-back is off the response path; a failure only costs a future miss.
      if (writes.length > 0) {
        this.backend.putIfNewer(writes).catch((error) => this.markDegraded(error));
      }
    }
    await Promise.all(waits);
    return results;
  }

  /**
   * Records a committed change. Call after the store transaction commits and before the
   * mutation returns. `value` undefined means "changed, value unknown" (always a tombstone).
   */
  async write<T>(type: CacheDataType, ref: CacheRef, revision: number, value?: T | null): Promise<void> {
    const policy = this.policies[type];
    const counters = this.counters.get(type)!;
    const payload =
      policy.enabled && policy.writeMode === "WRITE_THROUGH" && value !== undefined
        ? JSON.stringify(value)
        : null;
    if (payload === null) counters.invalidations++;
    else counters.writes++;
    // Even a disabled type gets tombstones: re-enabling it must not serve what was cached before.
    await this.applyWrites([this.entryWrite(type, ref, revision, payload)]);
  }

  /** Drops every cached entry of an agent. Returns how many keys were removed. */
  async invalidateAgent(agentId: string): Promise<number> {
    try {
      const removed = await this.backend.deleteTagged(agentTagKey(agentId));
      this.markHealthy();
      return removed;
    } catch (error) {
      this.markDegraded(error);
      throw error;
    }
  }

  /**
   * After the store dropped an agent's data of these types (e.g. deleteAgent): removes every
   * cached entry of the agent and refuses later write-backs below `floor`, so a reader that
   * loaded before the delete cannot put deleted data back.
   */
  async purgeAgent(agentId: string, types: readonly CacheDataType[], floor: number): Promise<void> {
    const floorKeys = types.map((type) => floorKey(type, agentId));
    const floorTtlMs = FLOOR_TTL_MS;
    try {
      await this.backend.purge(agentTagKey(agentId), floorKeys, floor, floorTtlMs);
      this.markHealthy();
    } catch (error) {
      this.markDegraded(error);
      const previous = this.pendingPurges.get(agentId);
      this.pendingPurges.set(agentId, {
        floorKeys: [...new Set([...(previous?.floorKeys ?? []), ...floorKeys])],
        floor: Math.max(floor, previous?.floor ?? 0),
      });
    }
  }

  /** Replays invalidations that failed while Redis was down. Called when Redis reconnects. */
  async recover(): Promise<void> {
    const writes = [...this.pending.values()];
    const purges = [...this.pendingPurges.entries()];
    try {
      for (const [agentId, purge] of purges) {
        await this.backend.purge(agentTagKey(agentId), purge.floorKeys, purge.floor, FLOOR_TTL_MS);
        if (this.pendingPurges.get(agentId) === purge) this.pendingPurges.delete(agentId);
      }
      if (this.pendingOverflow) {
        // Too many misses to replay one by one: drop every agent we wrote for during the outage.
        for (const tagKey of new Set(writes.map((write) => write.tagKey)))
          await this.backend.deleteTagged(tagKey);
      } else if (writes.length > 0) {
        await this.backend.putIfNewer(writes);
      }
      for (const write of writes) if (this.pending.get(write.key) === write) this.pending.delete(write.key);
      this.pendingOverflow = false;
      if (writes.length + purges.length > 0) {
        this.logger?.info(
          { replayed: writes.length + purges.length },
          "cache invalidations replayed after Redis came back",
        );
      }
      this.markHealthy();
    } catch (error) {
      this.markDegraded(error);
    }
  }

  private async applyWrites(writes: EntryWrite[]): Promise<void> {
    try {
      await this.backend.putIfNewer(writes);
      this.markHealthy();
    } catch (error) {
      this.markDegraded(error);
      for (const write of writes) {
        // Only a tombstone is replayed: the value may be superseded by the time Redis is back.
        const tombstone = { ...write, payload: null };
        const previous = this.pending.get(write.key);
        if (!previous || previous.revision <= write.revision) this.pending.set(write.key, tombstone);
      }
      if (this.pending.size > MAX_PENDING_INVALIDATIONS) this.pendingOverflow = true;
    }
  }

  private entryWrite(
    type: CacheDataType,
    ref: CacheRef,
    revision: number,
    payload: string | null,
  ): EntryWrite {
    return {
      key: cacheKey(type, ref),
      tagKey: agentTagKey(ref.agentId),
      floorKey: floorKey(type, ref.agentId),
      revision,
      payload,
      ttlMs: ttlWithJitter(this.policies[type].ttlSeconds),
    };
  }

  private hasPendingInvalidations(): boolean {
    return this.pending.size > 0 || this.pendingPurges.size > 0 || this.pendingOverflow;
  }

  private markHealthy(): void {
    if (this.degradedSince !== null && !this.hasPendingInvalidations()) {
      this.logger?.info({ downMs: Date.now() - this.degradedSince }, "cache available again");
      this.degradedSince = null;
    }
  }

  private markDegraded(error: unknown): void {
    if (this.degradedSince === null) {
      this.degradedSince = Date.now();
      this.logger?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "cache unavailable; reading from the store",
      );
    }
  }
}
