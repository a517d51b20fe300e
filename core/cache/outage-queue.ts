/**
 * Invalidations that could not reach Redis, kept until it answers again. Only tombstones are
 * kept (a value may be superseded by the time Redis is back), one per key, the newest; purges
 * keep the highest floor per agent. Past MAX_PENDING_INVALIDATIONS keys the queue stops
 * counting and remembers only that everything must be invalidated.
 */
import type { CacheBackend, EntryWrite } from "./backend.js";
import { agentTagKey } from "./keys.js";
import { CACHE_DATA_TYPES } from "./policy.js";

export const MAX_PENDING_INVALIDATIONS = 10_000;
/** Floors must outlive any write-back still in flight when they are set; an hour is generous. */
export const FLOOR_TTL_MS = 3_600_000;

export class OutageQueue {
  private readonly writes = new Map<string, EntryWrite>();
  private readonly purges = new Map<string, { floorKeys: string[]; floor: number }>();
  private overflow = false;

  get empty(): boolean {
    return this.writes.size === 0 && this.purges.size === 0 && !this.overflow;
  }

  /** Entries waiting (an overflow counts as one). */
  get size(): number {
    return this.writes.size + this.purges.size + (this.overflow ? 1 : 0);
  }

  addWrites(writes: readonly EntryWrite[]): void {
    if (this.overflow) return;
    for (const write of writes) {
      const previous = this.writes.get(write.key);
      if (!previous || previous.revision <= write.revision) {
        this.writes.set(write.key, { ...write, payload: null, unlockToken: undefined });
      }
    }
    if (this.writes.size > MAX_PENDING_INVALIDATIONS) {
      this.overflow = true;
      this.writes.clear();
    }
  }

  addPurge(agentId: string, floorKeys: readonly string[], floor: number): void {
    const previous = this.purges.get(agentId);
    this.purges.set(agentId, {
      floorKeys: [...new Set([...(previous?.floorKeys ?? []), ...floorKeys])],
      floor: Math.max(floor, previous?.floor ?? 0),
    });
  }

  /**
   * Sends everything queued; what is queued meanwhile is sent in the same call (a few rounds).
   * Returns how many invalidations were sent; throws (keeping what was not sent) on failure.
   */
  async replay(backend: CacheBackend): Promise<number> {
    let replayed = 0;
    for (let round = 0; round < 5 && !this.empty; round++) {
      for (const [agentId, purge] of [...this.purges]) {
        await backend.purge(agentTagKey(agentId), purge.floorKeys, purge.floor, FLOOR_TTL_MS);
        if (this.purges.get(agentId) === purge) this.purges.delete(agentId);
        replayed++;
      }
      if (this.overflow) {
        // Too many to replay one by one: invalidate everything cached.
        this.overflow = false;
        for (const type of CACHE_DATA_TYPES) replayed += await backend.invalidateType(type);
      }
      const writes = [...this.writes.values()];
      if (writes.length > 0) await backend.putIfNewer(writes);
      for (const write of writes) if (this.writes.get(write.key) === write) this.writes.delete(write.key);
      replayed += writes.length;
    }
    return replayed;
  }
}
