/**
 * Cache key layout: `mnemo:v1:{<agentId>}:<TYPE>:<id>`. The `{agentId}` hash tag puts all of an
 * agent's keys in one Redis Cluster slot: the entry, its tag set, its revision floor, its fill
 * lock and its co-access set, so every per-agent multi-key operation (the Lua scripts, MGET of
 * one agent) is single-slot. Operations over many agents are split per slot by the backend.
 *
 * Agent ids cannot contain `{` or `}` (see core/agents/agent-id.ts), so the first `}` always
 * closes the hash tag and the patterns below cannot match another kind of key.
 */
import { KEY_PREFIX } from "../redis.js";
import { type CacheDataType, isCacheDataType } from "./policy.js";

export interface CacheRef {
  agentId: string;
  /** The entry's id within the type; for per-agent singletons (AGENT_STATE) the agent id. */
  id: string;
}

export function cacheKey(type: CacheDataType, ref: CacheRef): string {
  return `${KEY_PREFIX}{${ref.agentId}}:${type}:${ref.id}`;
}

/** The set of every cache key written for one agent. */
export function agentTagKey(agentId: string): string {
  return `${KEY_PREFIX}{${agentId}}:tags`;
}

/** Cache keys all start with this; admin key listings must stay inside KEY_PREFIX. */
export const CACHE_KEY_PREFIX = `${KEY_PREFIX}{`;

export interface ParsedCacheKey {
  agentId: string;
  type: CacheDataType;
  id: string;
}

export function parseCacheKey(key: string): ParsedCacheKey | null {
  const match = /^mnemo:v1:\{([^{}]+)\}:([A-Z_]+):(.+)$/.exec(key);
  if (!match || !isCacheDataType(match[2])) return null;
  return { agentId: match[1]!, type: match[2], id: match[3]! };
}

/** The lowest revision still accepted for an agent's entries of one type (see CacheBackend.purge). */
export function floorKey(type: CacheDataType, agentId: string): string {
  return `${KEY_PREFIX}{${agentId}}:floor:${type}`;
}

/** The short lock one process holds while it loads an entry from the store (see CacheLayer.fill). */
export function fillLockKey(key: string): string {
  const parsed = parseCacheKey(key);
  if (!parsed) throw new Error(`not a cache key: ${key}`);
  return `${KEY_PREFIX}{${parsed.agentId}}:lock:${parsed.type}:${parsed.id}`;
}

/** The entries read after this one by the same agent, scored by how often (coaccess.ts). */
export function coAccessKey(key: string): string {
  const parsed = parseCacheKey(key);
  if (!parsed) throw new Error(`not a cache key: ${key}`);
  return `${KEY_PREFIX}{${parsed.agentId}}:co:${parsed.type}:${parsed.id}`;
}

/** Claimed by the one replica that answers a warm request for (agent, type). */
export function warmClaimKey(agentId: string, type: CacheDataType, requestId: string): string {
  return `${KEY_PREFIX}{${agentId}}:warm:${type}:${requestId}`;
}

/** A SCAN pattern matching exactly the cache entries of one type. */
export function typePattern(type: CacheDataType): string {
  return `${KEY_PREFIX}{*}:${type}:*`;
}

/** Deployment-wide keys (one slot each). */
export const POLICIES_KEY = `${KEY_PREFIX}cache:policies`;
export const STATS_KEY = `${KEY_PREFIX}cache:stats`;
export const SOURCES_KEY = `${KEY_PREFIX}cache:sources`;

/** Escapes Redis glob characters so a user's prefix matches literally in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}
