/**
 * The in-process cache used when REDIS_URL is unset (a single `npm start` process).
 */
import { LRUCache } from "lru-cache";
import { type CacheBackend, decodeEntry, type EntryWrite, encodeEntry, type StoredEntry } from "./backend.js";

export function createMemoryCacheBackend(maxEntries = 50_000): CacheBackend {
  const tags = new Map<string, Set<string>>();
  const keyTags = new Map<string, string>();
  const floors = new LRUCache<string, number>({ max: 100_000 });
  const entries = new LRUCache<string, string>({
    max: maxEntries,
    // Keep tag sets in step with evictions and expiries so they do not grow without bound.
    dispose: (_value, key) => {
      const tagKey = keyTags.get(key);
      keyTags.delete(key);
      if (!tagKey) return;
      const tagged = tags.get(tagKey);
      tagged?.delete(key);
      if (tagged?.size === 0) tags.delete(tagKey);
    },
  });

  function deleteTagged(tagKey: string): number {
    const tagged = [...(tags.get(tagKey) ?? [])];
    let removed = 0;
    for (const key of tagged) if (entries.delete(key)) removed++;
    tags.delete(tagKey);
    return removed;
  }

  return {
    kind: "in-process",
    async getMany(keys) {
      return keys.map((key): StoredEntry | null => decodeEntry(entries.get(key)));
    },
    async putIfNewer(writes: readonly EntryWrite[]) {
      let written = 0;
      for (const write of writes) {
        if ((floors.get(write.floorKey) ?? 0) > write.revision) continue;
        const current = decodeEntry(entries.get(write.key));
        if (current && current.revision > write.revision) continue;
        entries.set(write.key, encodeEntry(write.revision, write.payload), { ttl: write.ttlMs });
        const tagged = tags.get(write.tagKey) ?? new Set<string>();
        tags.set(write.tagKey, tagged);
        tagged.add(write.key);
        keyTags.set(write.key, write.tagKey);
        written++;
      }
      return written;
    },
    async deleteTagged(tagKey) {
      return deleteTagged(tagKey);
    },
    async purge(tagKey, floorKeys, floor, floorTtlMs) {
      for (const key of floorKeys) {
        if ((floors.get(key) ?? 0) < floor) floors.set(key, floor, { ttl: floorTtlMs });
      }
      return deleteTagged(tagKey);
    },
    async deleteKeys(keys) {
      let removed = 0;
      for (const key of keys) if (entries.delete(key)) removed++;
      return removed;
    },
  };
}
