/**
 * What is cached, for how long, and how writes keep it right. One policy per data type.
 *
 * The defaults below are what a fresh deployment runs with; an admin changes them at run time
 * with `setCachePolicy`, which persists the change in Redis (every replica, and every replica
 * started later, uses it) and broadcasts it (see policy-store.ts and cache.ts).
 */
export const CACHE_DATA_TYPES = [
  "AGENT_STATE",
  "STATE_VERSION",
  "MEMORY",
  "ENTITY",
  "AGENT_DIRECTORY",
] as const;
export type CacheDataType = (typeof CACHE_DATA_TYPES)[number];

/**
 * Recall results were once a cache type; they are not cached, because a stored ranking is not
 * the one a fresh recall returns (it moves with time and with the access counts every recall
 * adds, neither of which changes the agent's revision), and identical recalls are rare (one
 * repeat in 757 LoCoMo questions). The API keeps the name (deprecated) and refuses it clearly.
 */
export const RETIRED_CACHE_TYPE = "RECALL";

export function isCacheDataType(value: unknown): value is CacheDataType {
  return typeof value === "string" && (CACHE_DATA_TYPES as readonly string[]).includes(value);
}

/**
 * WRITE_THROUGH: a write stores the new value in the cache before it returns.
 * INVALIDATE: a write replaces the cached value with a tombstone carrying the new revision; the
 * next read loads from the store. Both reject late write-backs of older revisions.
 */
export const CACHE_WRITE_MODES = ["WRITE_THROUGH", "INVALIDATE"] as const;
export type CacheWriteMode = (typeof CACHE_WRITE_MODES)[number];

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
  ENTITY: { enabled: true, ttlSeconds: 300, writeMode: "INVALIDATE" },
  // Listings are purged (with a floor) whenever the set of agents changes; writes never store one.
  AGENT_DIRECTORY: { enabled: true, ttlSeconds: 300, writeMode: "INVALIDATE" },
};

/**
 * TTL bounds. The TTL is not what keeps the cache correct (revisions and tombstones are); it
 * bounds memory and the few windows documented in docs/cache.md, so a week is the ceiling.
 */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 7 * 24 * 3600;

/** A policy change as an admin sends it: every field optional, the rest is kept. */
export interface CachePolicyPatch {
  enabled?: boolean | null;
  ttlSeconds?: number | null;
  writeMode?: CacheWriteMode | null;
}

/** Applies a patch, or returns one sentence per invalid field. */
export function applyPolicyPatch(current: CachePolicy, patch: CachePolicyPatch): CachePolicy | string[] {
  const problems: string[] = [];
  const next: CachePolicy = { ...current };
  if (patch.enabled !== undefined && patch.enabled !== null) next.enabled = patch.enabled;
  if (patch.ttlSeconds !== undefined && patch.ttlSeconds !== null) {
    if (
      !Number.isInteger(patch.ttlSeconds) ||
      patch.ttlSeconds < MIN_TTL_SECONDS ||
      patch.ttlSeconds > MAX_TTL_SECONDS
    ) {
      problems.push(
        `ttlSeconds must be an integer from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} (got ${patch.ttlSeconds})`,
      );
    } else next.ttlSeconds = patch.ttlSeconds;
  }
  if (patch.writeMode !== undefined && patch.writeMode !== null) {
    if (!(CACHE_WRITE_MODES as readonly string[]).includes(patch.writeMode)) {
      problems.push(`writeMode must be one of ${CACHE_WRITE_MODES.join(", ")} (got ${patch.writeMode})`);
    } else next.writeMode = patch.writeMode;
  }
  return problems.length > 0 ? problems : next;
}

/** Parses a stored policy; anything malformed is ignored (the default applies) rather than trusted. */
export function parseStoredPolicy(raw: unknown): CachePolicy | null {
  if (!raw || typeof raw !== "object") return null;
  const candidate = raw as Record<string, unknown>;
  const checked = applyPolicyPatch(DEFAULT_CACHE_POLICIES.AGENT_STATE, {
    enabled: typeof candidate.enabled === "boolean" ? candidate.enabled : undefined,
    ttlSeconds: typeof candidate.ttlSeconds === "number" ? candidate.ttlSeconds : undefined,
    writeMode: candidate.writeMode as CacheWriteMode,
  });
  if (Array.isArray(checked)) return null;
  if (
    typeof candidate.enabled !== "boolean" ||
    typeof candidate.ttlSeconds !== "number" ||
    typeof candidate.writeMode !== "string"
  ) {
    return null;
  }
  return checked;
}

/** Spread expiries of keys written together so they do not all expire in the same instant. */
export const TTL_JITTER_RATIO = 0.1;

export function ttlWithJitter(ttlSeconds: number, random: () => number = Math.random): number {
  const base = ttlSeconds * 1000;
  return Math.max(1, Math.round(base * (1 - TTL_JITTER_RATIO / 2 + random() * TTL_JITTER_RATIO)));
}
