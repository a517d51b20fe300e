/**
 * The in-process cache used when REDIS_URL is unset (a single `npm start` process). Same rules
 * as Redis: revision-compared writes, floors, tombstones for invalidation.
 */
import { LRUCache } from "lru-cache";
import {
  type CacheBackend,
  decodeEntry,
  type EntryWrite,
  emptyCensus,
  encodeEntry,
  InvalidCursorError,
  type StoredEntry,
} from "./backend.js";
import { parseCacheKey } from "./keys.js";

export function createMemoryCacheBackend(maxEntries = 50_000): CacheBackend {
  const tags = new Map<string, Set<string>>();
  const keyTags = new Map<string, string>();
  const floors = new LRUCache<string, number>({ max: 100_000 });
  const entries = new LRUCache<string, string>({
    max: maxEntries,
    ttlAutopurge: false,
    // Keep tag sets in step with evictions and expiries so they do not grow without bound. A
    // value replaced by a newer one (reason "set") keeps its key, so it stays tagged.
    dispose: (_value, key, reason) => {
      if (reason === "set") return;
      const tagKey = keyTags.get(key);
      keyTags.delete(key);
      if (!tagKey) return;
      const tagged = tags.get(tagKey);
      tagged?.delete(key);
      if (tagged?.size === 0) tags.delete(tagKey);
    },
  });

  function tombstone(key: string): number {
    const current = decodeEntry(entries.get(key));
    if (current?.kind !== "value") return 0;
    // noUpdateTTL keeps the remaining TTL, like Redis SET ... KEEPTTL.
    entries.set(key, encodeEntry(current.revision, null), { noUpdateTTL: true });
    return 1;
  }

  return {
    kind: "in-process",
    shared: false,
    async getManyWithLocks(keys) {
      return {
        entries: keys.map((key): StoredEntry | null => decodeEntry(entries.get(key))),
        locked: keys.map(() => false),
      };
    },
    async lockFills(keys) {
      return keys.map(() => "in-process");
    },
    async releaseFills() {},
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
        let tagged = tags.get(write.tagKey);
        if (!tagged) {
          tagged = new Set<string>();
          tags.set(write.tagKey, tagged);
        }
        tagged.add(write.key);
        keyTags.set(write.key, write.tagKey);
        written++;
      }
      return written;
    },
    async purge(tagKey, floorKeys, floor, floorTtlMs) {
      for (const key of floorKeys) {
        if ((floors.get(key) ?? 0) < floor) floors.set(key, floor, { ttl: floorTtlMs });
      }
      let removed = 0;
      for (const key of [...(tags.get(tagKey) ?? [])]) if (entries.delete(key)) removed++;
      tags.delete(tagKey);
      return removed;
    },
    async invalidate(keys) {
      return keys.reduce((sum, key) => sum + tombstone(key), 0);
    },
    async invalidateTagged(tagKey) {
      return [...(tags.get(tagKey) ?? [])].reduce((sum, key) => sum + tombstone(key), 0);
    },
    async invalidateType(type) {
      let total = 0;
      for (const key of [...entries.keys()]) if (parseCacheKey(key)?.type === type) total += tombstone(key);
      return total;
    },
    async tagged(tagKey) {
      return [...(tags.get(tagKey) ?? [])];
    },
    async scan(prefix, cursor, count) {
      let after: string | null = null;
      if (cursor !== null) {
        after = Buffer.from(cursor, "base64url").toString("utf8");
        if (!after.startsWith("k:")) throw new InvalidCursorError("not a cursor returned by cacheKeys");
        after = after.slice(2);
      }
      const matching = [...entries.keys()]
        .filter((key) => key.startsWith(prefix) && (after === null || key > after))
        .sort();
      const keys = matching.slice(0, count);
      const cursors = keys.map((key) => Buffer.from(`k:${key}`).toString("base64url"));
      const more = matching.length > keys.length;
      const last = keys.at(-1) ?? after;
      return {
        keys,
        cursors,
        cursor: more && last !== null ? Buffer.from(`k:${last}`).toString("base64url") : null,
      };
    },
    async inspect(keys) {
      return keys.map((key) => {
        const raw = entries.get(key);
        const ttl = entries.getRemainingTTL(key);
        return {
          key,
          entry: decodeEntry(raw),
          ttlMs: raw === undefined || !Number.isFinite(ttl) || ttl <= 0 ? null : ttl,
          bytes: raw === undefined ? null : Buffer.byteLength(key) + Buffer.byteLength(raw),
        };
      });
    },
    async census() {
      const census = emptyCensus();
      for (const [key, raw] of entries.entries()) {
        const type = parseCacheKey(key)?.type;
        if (!type) continue;
        const entry = census.byType[type];
        entry.keys++;
        if (decodeEntry(raw)?.kind === "tombstone") entry.tombstones++;
        entry.bytes += Buffer.byteLength(key) + Buffer.byteLength(raw);
      }
      return census;
    },
    async ping() {},
  };
}
