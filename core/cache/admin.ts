/**
 * The cache as the cache-admin subgraph sees it: statistics, policies, key listings,
 * invalidation and warming. Nothing here is on a request's read or write path.
 */
import type { EventBus } from "../events.js";
import type { CacheAvailability } from "./availability.js";
import type { CacheBackend, KeyDetails } from "./backend.js";
import type { CacheEventPublisher, PolicyRecord } from "./cache-events.js";
import { agentTagKey, parseCacheKey } from "./keys.js";
import type { NearCache } from "./near-cache.js";
import type { CachePolicies } from "./policies.js";
import { CACHE_DATA_TYPES, type CacheDataType, type CachePolicyPatch } from "./policy.js";
import type { RedisInfo } from "./redis-info.js";
import type { CacheCounters, CounterName, StatsStore, TypeCounters } from "./stats.js";
import { requestWarm, type WarmCoordination } from "./warm.js";

export interface CacheTypeStats extends TypeCounters {
  type: CacheDataType;
  keys: number;
  tombstones: number;
  memoryBytes: number;
}

export interface CacheStatsSnapshot {
  since: string | null;
  /** False when the shared counters could not be read (Redis down): this process only. */
  allReplicas: boolean;
  byType: CacheTypeStats[];
  /** Key and memory numbers extrapolated from a sample (large keyspace). */
  keysEstimated: boolean;
  redis: RedisInfo | null;
  backend: CacheBackend["kind"];
  degraded: boolean;
  pendingInvalidations: number;
}

export interface CacheKeyPage {
  keys: { details: KeyDetails; cursor: string }[];
  /** Where the next page starts; null when the listing is complete. */
  cursor: string | null;
}

export interface CacheAdminOptions {
  backend: CacheBackend;
  availability: CacheAvailability;
  policies: CachePolicies;
  counters: CacheCounters;
  statsStore: StatsStore;
  near: NearCache;
  publisher: CacheEventPublisher;
  events: EventBus;
  warm: WarmCoordination;
  redisInfo?: () => Promise<RedisInfo>;
  /** Sends this process's counters to the shared store first, so a snapshot includes them. */
  flushCounters: () => Promise<void>;
}

export class CacheAdmin {
  constructor(private readonly options: CacheAdminOptions) {}

  policyRecords(): PolicyRecord[] {
    return this.options.policies.records();
  }

  /** See CachePolicies.update: persisted, applied, announced; or the problems with the patch. */
  updatePolicy(
    type: CacheDataType,
    patch: CachePolicyPatch,
    updatedBy: string,
  ): Promise<PolicyRecord | string[]> {
    return this.options.policies.update(type, patch, updatedBy);
  }

  /** Tombstones every cached entry of an agent (its tag set). Returns how many values there were. */
  async invalidateAgent(agentId: string): Promise<number> {
    const { backend, near, publisher } = this.options;
    near.dropAgent(agentId);
    const count = await backend.invalidateTagged(agentTagKey(agentId));
    publisher.publish({ kind: "INVALIDATION", scope: "AGENT", cause: "ADMIN", agentId, count });
    return count;
  }

  /** Tombstones every cached entry of a type (SCAN on every node). */
  async invalidateType(type: CacheDataType): Promise<number> {
    const { backend, near, counters, publisher } = this.options;
    near.dropType(type);
    const count = await backend.invalidateType(type);
    counters.add(type, "invalidations", count);
    publisher.publish({ kind: "INVALIDATION", scope: "TYPE", cause: "ADMIN", type, count });
    return count;
  }

  /** Tombstones one entry. Returns whether it held a value. */
  async invalidateKey(key: string): Promise<boolean> {
    const { backend, near, counters, publisher } = this.options;
    const parsed = parseCacheKey(key);
    if (!parsed) throw new Error(`not a cache entry key: ${key}`);
    near.drop(key);
    const count = await backend.invalidate([key]);
    counters.add(parsed.type, "invalidations", count);
    publisher.publish({
      kind: "INVALIDATION",
      scope: "KEY",
      cause: "ADMIN",
      type: parsed.type,
      agentId: parsed.agentId,
      key,
      count,
    });
    return count > 0;
  }

  /** Loads an agent's working set into the cache, in whichever processes can load each type. */
  warmAgent(agentId: string): Promise<number> {
    return requestWarm(this.options.events, this.options.warm, agentId);
  }

  async listKeys(prefix: string, first: number, after: string | null): Promise<CacheKeyPage> {
    const { backend } = this.options;
    const page = await backend.scan(prefix, after, first);
    const details = await backend.inspect(page.keys);
    return { keys: details.map((d, i) => ({ details: d, cursor: page.cursors[i]! })), cursor: page.cursor };
  }

  /** Counters of every replica since the shared counters started, with key census and Redis INFO. */
  async statsSnapshot(): Promise<CacheStatsSnapshot> {
    const { counters, statsStore, backend, availability, redisInfo } = this.options;
    await this.options.flushCounters();
    let shared: Awaited<ReturnType<StatsStore["read"]>> | null = null;
    try {
      shared = await statsStore.read();
      // Deltas that failed to flush are still this process's: count them too.
      const unflushed = counters.pending();
      for (const type of CACHE_DATA_TYPES) {
        for (const [name, value] of Object.entries(unflushed[type]) as [CounterName, number][]) {
          shared.byType[type][name] += value;
        }
      }
    } catch {
      shared = null;
    }
    const [census, redis] = await Promise.all([
      backend.census().catch(() => null),
      redisInfo ? redisInfo().catch(() => null) : Promise.resolve(null),
    ]);
    return {
      since: shared?.since ?? null,
      allReplicas: shared !== null,
      byType: CACHE_DATA_TYPES.map((type) => ({
        type,
        ...(shared ? shared.byType[type] : counters.local(type)),
        keys: census?.byType[type].keys ?? 0,
        tombstones: census?.byType[type].tombstones ?? 0,
        memoryBytes: census?.byType[type].bytes ?? 0,
      })),
      keysEstimated: census?.estimated ?? false,
      redis,
      backend: backend.kind,
      degraded: !availability.usable,
      pendingInvalidations: availability.pendingInvalidations,
    };
  }
}
