/**
 * The policies this process applies: the defaults, overlaid with the changes stored in the
 * shared PolicyStore. Changing one persists it first (a failure changes nothing), applies it
 * here and announces it, so every replica re-reads the store (see docs/cache.md, "Policies").
 */
import type { Logger } from "../logger.js";
import type { PolicyRecord } from "./cache-events.js";
import {
  applyPolicyPatch,
  CACHE_DATA_TYPES,
  type CacheDataType,
  type CachePolicy,
  type CachePolicyPatch,
  DEFAULT_CACHE_POLICIES,
} from "./policy.js";
import type { PolicyStore, StoredPolicies, StoredPolicy } from "./policy-store.js";

export class CachePolicies {
  private readonly policies = new Map<CacheDataType, { policy: CachePolicy; stored: StoredPolicy | null }>();

  constructor(
    private readonly store: PolicyStore,
    initial: Partial<Record<CacheDataType, CachePolicy>> = {},
    private readonly logger?: Logger,
    /** Tells the other replicas (a POLICY_CHANGE event); they re-read the store. */
    private readonly announce: (record: PolicyRecord) => void = () => {},
  ) {
    for (const type of CACHE_DATA_TYPES) {
      this.policies.set(type, {
        policy: { ...(initial[type] ?? DEFAULT_CACHE_POLICIES[type]) },
        stored: null,
      });
    }
  }

  get(type: CacheDataType): Readonly<CachePolicy> {
    return this.policies.get(type)!.policy;
  }

  /**
   * Changes a policy in this process only (not persisted, not announced): for benchmarks and
   * tests. The admin API uses `update`.
   */
  setLocal(type: CacheDataType, policy: CachePolicy): void {
    const current = this.policies.get(type)!;
    this.policies.set(type, { policy: { ...policy }, stored: current.stored });
  }

  record(type: CacheDataType): PolicyRecord {
    const { policy, stored } = this.policies.get(type)!;
    return {
      type,
      ...policy,
      isDefault: stored === null,
      updatedAt: stored?.updatedAt ?? null,
      updatedBy: stored?.updatedBy ?? null,
    };
  }

  records(): PolicyRecord[] {
    return CACHE_DATA_TYPES.map((type) => this.record(type));
  }

  /**
   * Changes a type's policy for every replica: persisted first (a failure changes nothing and
   * throws), then applied here and announced. Returns the new policy, or the problems with the patch.
   */
  async update(
    type: CacheDataType,
    patch: CachePolicyPatch,
    updatedBy: string,
  ): Promise<PolicyRecord | string[]> {
    const next = applyPolicyPatch(this.get(type), patch);
    if (Array.isArray(next)) return next;
    const stored: StoredPolicy = { ...next, updatedAt: new Date().toISOString(), updatedBy };
    await this.store.save(type, stored);
    this.policies.set(type, { policy: next, stored });
    const record = this.record(type);
    this.announce(record);
    return record;
  }

  /** Re-reads the shared policies; re-seeds the store if it lost them (Redis restarted empty). */
  async reload(): Promise<void> {
    const stored = await this.store.load();
    const lost: StoredPolicies = {};
    for (const type of CACHE_DATA_TYPES) {
      const found = stored[type];
      if (found) {
        const { enabled, ttlSeconds, writeMode } = found;
        this.policies.set(type, { policy: { enabled, ttlSeconds, writeMode }, stored: found });
      } else {
        const known = this.policies.get(type)!.stored;
        if (known) lost[type] = known;
      }
    }
    if (Object.keys(lost).length > 0) {
      // An empty store with changes known here means Redis lost them, not that an admin reset them.
      await this.store.restore(lost);
      this.logger?.info({ types: Object.keys(lost) }, "cache policies restored to Redis");
    }
  }
}
