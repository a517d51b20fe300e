/**
 * Where run-time policy changes live so every replica agrees: a Redis hash (one field per data
 * type, JSON), or a map when there is no Redis (one process). A replica reads it at start, when
 * a POLICY_CHANGE event arrives, after Redis reconnects, and periodically as a safety net for a
 * missed event.
 */
import type { RedisClient } from "../redis.js";
import { POLICIES_KEY } from "./keys.js";
import { type CacheDataType, type CachePolicy, isCacheDataType, parseStoredPolicy } from "./policy.js";

export interface StoredPolicy extends CachePolicy {
  updatedAt: string;
  updatedBy: string;
}

export type StoredPolicies = Partial<Record<CacheDataType, StoredPolicy>>;

export interface PolicyStore {
  load(): Promise<StoredPolicies>;
  save(type: CacheDataType, policy: StoredPolicy): Promise<void>;
  /** Writes policies only where none is stored: re-seeds a Redis that restarted empty. */
  restore(policies: StoredPolicies): Promise<void>;
}

function parse(raw: string): StoredPolicy | null {
  try {
    const value = JSON.parse(raw) as Record<string, unknown>;
    const policy = parseStoredPolicy(value);
    if (!policy || typeof value.updatedAt !== "string" || typeof value.updatedBy !== "string") return null;
    return { ...policy, updatedAt: value.updatedAt, updatedBy: value.updatedBy };
  } catch {
    return null;
  }
}

export function createRedisPolicyStore(client: RedisClient): PolicyStore {
  return {
    async load() {
      const fields = await client.hgetall(POLICIES_KEY);
      const policies: StoredPolicies = {};
      for (const [type, raw] of Object.entries(fields)) {
        const policy = isCacheDataType(type) ? parse(raw) : null;
        if (isCacheDataType(type) && policy) policies[type] = policy;
      }
      return policies;
    },
    async save(type, policy) {
      await client.hset(POLICIES_KEY, type, JSON.stringify(policy));
    },
    async restore(policies) {
      const entries = Object.entries(policies);
      if (entries.length === 0) return;
      const pipeline = client.pipeline();
      for (const [type, policy] of entries) pipeline.hsetnx(POLICIES_KEY, type, JSON.stringify(policy));
      await pipeline.exec();
    },
  };
}

export function createInProcessPolicyStore(): PolicyStore {
  const stored: StoredPolicies = {};
  return {
    async load() {
      return { ...stored };
    },
    async save(type, policy) {
      stored[type] = { ...policy };
    },
    async restore(policies) {
      for (const [type, policy] of Object.entries(policies) as [CacheDataType, StoredPolicy][]) {
        stored[type] ??= { ...policy };
      }
    },
  };
}
