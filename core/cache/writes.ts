/**
 * Recording committed changes. A subgraph calls `write` after its store transaction commits and
 * before the mutation returns, so the cache never lags a write a client has seen acknowledged:
 * WRITE_THROUGH stores the new value, INVALIDATE (or a disabled type) a tombstone carrying the
 * new revision, which refuses any late write-back of an older value. `purgeAgent` is for data
 * that left the store: it raises a revision floor and deletes the agent's entries.
 * While Redis is unavailable the changes queue as tombstones (availability.ts).
 */
import type { CacheAvailability } from "./availability.js";
import type { CacheEventPublisher } from "./cache-events.js";
import type { EntryCodec } from "./codec.js";
import { agentTagKey, type CacheRef, floorKey } from "./keys.js";
import type { NearCache } from "./near-cache.js";
import type { CachePolicies } from "./policies.js";
import type { CacheDataType } from "./policy.js";
import type { CacheCounters } from "./stats.js";

export interface CacheWritesOptions {
  /** Whether a type is read through the near cache (its store is in this process). */
  readsNear: (type: CacheDataType) => boolean;
  availability: CacheAvailability;
  policies: CachePolicies;
  counters: CacheCounters;
  codec: EntryCodec;
  near: NearCache;
  publisher: CacheEventPublisher;
}

export class CacheWrites {
  constructor(private readonly options: CacheWritesOptions) {}

  /**
   * Records a committed change of one entry. `value` undefined means "changed, value unknown"
   * (always a tombstone).
   */
  async write<T>(type: CacheDataType, ref: CacheRef, revision: number, value?: T | null): Promise<void> {
    const { policies, counters, codec, availability, near, publisher, readsNear } = this.options;
    const policy = policies.get(type);
    const writeThrough = policy.enabled && policy.writeMode === "WRITE_THROUGH" && value !== undefined;
    counters.add(type, writeThrough ? "writes" : "invalidations");
    // Even a disabled type gets tombstones: re-enabling it must not serve what was cached before.
    const write = codec.entry(type, ref, revision, writeThrough ? value : undefined);
    // The writer's own near copy follows at once (others are checked against the store anyway).
    if (writeThrough && readsNear(type)) {
      near.keep(write.key, ref.agentId, revision, value, write.payload!.length, write.ttlMs);
    } else near.drop(write.key);
    await availability.write([write]);
    if (!writeThrough) {
      publisher.publish({
        kind: "INVALIDATION",
        scope: "KEY",
        cause: "WRITE",
        type,
        agentId: ref.agentId,
        key: write.key,
        count: 1,
      });
    }
  }

  /**
   * After the store dropped an agent's data of these types (e.g. deleteAgent): removes every
   * cached entry of the agent and refuses later write-backs below `floor`, so a reader that
   * loaded before the delete cannot put deleted data back.
   */
  async purgeAgent(agentId: string, types: readonly CacheDataType[], floor: number): Promise<void> {
    const { availability, counters, near, publisher } = this.options;
    near.dropAgent(agentId, types);
    const floorKeys = types.map((type) => floorKey(type, agentId));
    const removed = await availability.purge(agentId, agentTagKey(agentId), floorKeys, floor);
    for (const type of types) {
      counters.add(type, "invalidations");
      publisher.publish({
        kind: "INVALIDATION",
        scope: "AGENT",
        cause: "DELETE",
        type,
        agentId,
        key: null,
        count: removed,
      });
    }
  }
}
