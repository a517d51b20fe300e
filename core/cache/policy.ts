/**
 * What is cached, for how long, and how writes keep it right. One policy per data type.
 */
export const CACHE_DATA_TYPES = ["AGENT_STATE", "STATE_VERSION", "MEMORY", "RECALL", "ENTITY"] as const;
export type CacheDataType = (typeof CACHE_DATA_TYPES)[number];

/**
 * WRITE_THROUGH: a write stores the new value in the cache before it returns.
 * INVALIDATE: a write replaces the cached value with a tombstone carrying the new revision; the
 * next read loads from the store. Both reject late write-backs of older revisions.
 */
export type CacheWriteMode = "WRITE_THROUGH" | "INVALIDATE";

export interface CachePolicy {
  enabled: boolean;
  ttlSeconds: number;
  writeMode: CacheWriteMode;
}

export const DEFAULT_CACHE_POLICIES: Readonly<Record<CacheDataType, CachePolicy>> = {
  AGENT_STATE: { enabled: true, ttlSeconds: 300, writeMode: "WRITE_THROUGH" },
  // Versions are immutable once written, so they can live long.
  STATE_VERSION: { enabled: true, ttlSeconds: 3600, writeMode: "WRITE_THROUGH" },
  MEMORY: { enabled: true, ttlSeconds: 300, writeMode: "INVALIDATE" },
  // Any memory write of the agent changes recall results; they are short-lived by design.
  RECALL: { enabled: true, ttlSeconds: 60, writeMode: "INVALIDATE" },
  ENTITY: { enabled: true, ttlSeconds: 300, writeMode: "INVALIDATE" },
};

/** Spread expiries of keys written together so they do not all expire in the same instant. */
export const TTL_JITTER_RATIO = 0.1;

export function ttlWithJitter(ttlSeconds: number, random: () => number = Math.random): number {
  const base = ttlSeconds * 1000;
  return Math.max(1, Math.round(base * (1 - TTL_JITTER_RATIO / 2 + random() * TTL_JITTER_RATIO)));
}
