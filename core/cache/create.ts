/**
 * Builds the CacheLayer for a process: every shared part in Redis when Redis is configured, or
 * in memory for a single process without Redis.
 */
import type { RedisConfig } from "../config.js";
import type { Encryptor } from "../crypto/encryption.js";
import type { EventBus } from "../events.js";
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis.js";
import { CacheLayer, type CacheSettings } from "./cache.js";
import { createRedisCoAccessStore } from "./coaccess.js";
import { createMemoryCacheBackend } from "./memory-backend.js";
import { createRedisPolicyStore } from "./policy-store.js";
import { createRedisCacheBackend, type RedisCacheBackendHooks } from "./redis-backend.js";
import { readRedisInfo } from "./redis-info.js";
import { createRedisStatsStore } from "./stats.js";
import { createRedisWarmCoordination } from "./warm.js";

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
