/**
 * Cache key layout: `mnemo:v1:{<agentId>}:<type>:<id>`. The `{agentId}` hash tag puts all of an
 * agent's keys and its tag set in one Redis Cluster slot, so per-agent multi-key operations
 * (invalidate an agent, versioned write + tag update) stay single-slot.
 */
import { KEY_PREFIX } from "../redis.js";
import type { CacheDataType } from "./policy.js";

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

/** Cache keys all start with this; admin key listings must stay inside it. */
export const CACHE_KEY_PREFIX = `${KEY_PREFIX}{`;

export function parseCacheKey(key: string): { agentId: string; type: string; id: string } | null {
  const match = /^mnemo:v1:\{([^}]*)\}:([A-Z_]+):(.*)$/.exec(key);
  if (!match) return null;
  return { agentId: match[1]!, type: match[2]!, id: match[3]! };
}

/** The lowest revision still accepted for an agent's entries of one type (see CacheBackend.purge). */
export function floorKey(type: CacheDataType, agentId: string): string {
  return `${KEY_PREFIX}{${agentId}}:floor:${type}`;
}
