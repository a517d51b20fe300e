/**
 * The cache: Redis (or an in-process backend for one process without Redis) in front of the
 * stores, and, for stores in this process, a near cache in front of that. docs/cache.md has the
 * consistency argument in full. One role per file:
 *
 * - cache-layer.ts   the roles wired together; what subgraphs and the runtime use
 * - read-through.ts  per-request reads: DataLoader batching, near cache or MGET, joining loads
 * - fill.ts          misses from the store: single flight, fill locks across processes, write-back
 * - near-cache.ts    copies in this process, checked against the store's revision on every read
 * - writes.ts        committed changes: write-through or tombstone before the mutation returns; purges
 * - availability.ts  healthy / degraded / recovering as one state; the outage queue and its replay
 * - admin.ts         the cache-admin surface: stats, policies, key listings, invalidation, warming
 * - policies.ts      the policies in force, persisted and announced to every replica
 * - sources.ts       how this process loads each type from its store
 * - codec.ts         values to cached entries and back (JSON, encryption, TTL with jitter)
 * - background.ts    tracked fire-and-forget work
 *
 * Underneath: backend.ts (the entry store interface) with redis-backend.ts and
 * memory-backend.ts; keys.ts (key layout); policy.ts (types and defaults); stats.ts,
 * coaccess.ts + prefetch.ts, warm.ts, outage-queue.ts, cache-events.ts, settings.ts.
 */
import type { RedisConfig } from "../config.js";
import type { Encryptor } from "../crypto/encryption.js";
import type { EventBus } from "../events.js";
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis.js";
import { CacheLayer } from "./cache-layer.js";
import { createRedisCoAccessStore } from "./coaccess.js";
import { createMemoryCacheBackend } from "./memory-backend.js";
import { createRedisPolicyStore } from "./policy-store.js";
import { createRedisCacheBackend, type RedisCacheBackendHooks } from "./redis-backend.js";
import { readRedisInfo } from "./redis-info.js";
import type { CacheSettings } from "./settings.js";
import { createRedisStatsStore } from "./stats.js";
import { createRedisWarmCoordination } from "./warm.js";

export type { CacheAdmin, CacheStatsSnapshot } from "./admin.js";
export type { CacheLayer } from "./cache-layer.js";
export type { CacheSettings } from "./settings.js";
export type { BatchLoad, CacheSource } from "./sources.js";

export interface CreateCacheOptions {
  /** The command connection, or null for the in-process cache. */
  redis: RedisClient | null;
  redisMode?: RedisConfig["mode"];
  events: EventBus;
  logger?: Logger;
  /** Encrypts cached values (ENCRYPTION_KEYS); plaintext when absent. */
  encryption?: Encryptor;
  settings?: Partial<CacheSettings>;
  hooks?: RedisCacheBackendHooks;
}

/** The cache layer of a process: every shared part in Redis when Redis is configured, else in memory. */
export function createCacheLayer(options: CreateCacheOptions): CacheLayer {
  const { redis, events, logger, settings, encryption } = options;
  if (!redis) {
    return new CacheLayer({ backend: createMemoryCacheBackend(), events, logger, settings, encryption });
  }
  const mode = options.redisMode ?? "single";
  return new CacheLayer({
    backend: createRedisCacheBackend(redis, options.hooks),
    policyStore: createRedisPolicyStore(redis),
    statsStore: createRedisStatsStore(redis),
    coAccess: createRedisCoAccessStore(redis),
    warm: createRedisWarmCoordination(redis),
    redisInfo: () => readRedisInfo(redis, mode),
    events,
    logger,
    settings,
    encryption,
  });
}
