/**
 * The near cache: decoded copies of values kept in this process, for types whose store lives in
 * this process too (SQLite, the embedded default). There, a store read costs about 10 µs and a
 * Redis round trip an event-loop turn or more, so reading Redis first made every read slower
 * than no cache at all (bench:cache).
 *
 * Why a copy is safe to serve: it is served only after the store confirms, in the same
 * synchronous step, that the entry's revision is still the one the copy was loaded at (a
 * revision grows with every change and is never reused, core/store/revisioned.ts). A write
 * acknowledged on any replica committed to the store before it was acknowledged, so a read
 * that starts afterwards sees the new revision and drops the copy; no message from the writer
 * has to arrive first. That is what an in-process copy kept current by invalidation messages
 * (pub/sub, or Redis CLIENT TRACKING) cannot promise without a round trip per read to make
 * sure none is still on its way, and why stores across a network (Neo4j), whose probe would
 * itself be a round trip, get no near cache: Redis serves them.
 *
 * Why it is still faster than the store: the probe reads a few bytes from an index, and a hit
 * skips reading, decrypting and parsing the value. It does not depend on Redis, so nothing it
 * serves can be stale after a Redis outage either.
 *
 * Values are shared by every request that reads them: callers must not mutate them (resolvers
 * never do). The size of an entry is estimated from its cached form.
 */
import { LRUCache } from "lru-cache";
import type { CacheRef } from "./keys.js";
import { parseCacheKey } from "./keys.js";
import type { CacheDataType } from "./policy.js";

export interface NearEntry {
  revision: number;
  value: unknown;
}

interface StoredNearEntry extends NearEntry {
  agentId: string;
  size: number;
}

/** Per-entry bookkeeping (key, object headers) counted on top of the value's size. */
const ENTRY_OVERHEAD_BYTES = 96;

export class NearCache {
  private readonly entries: LRUCache<string, StoredNearEntry> | null;
  /** agentId → its keys here, so purging an agent does not scan the whole cache. */
  private readonly byAgent = new Map<string, Set<string>>();

  constructor(maxBytes: number) {
    this.entries =
      maxBytes > 0
        ? new LRUCache<string, StoredNearEntry>({
            maxSize: maxBytes,
            sizeCalculation: (entry) => entry.size,
            dispose: (entry, key, reason) => {
              if (reason !== "set") this.unindex(entry.agentId, key);
            },
          })
        : null;
  }

  get enabled(): boolean {
    return this.entries !== null;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /**
   * For each key, its copy if the store (`probe`) confirms it is current, else undefined. Copies
   * the store contradicts are dropped. One probe call for all keys that have a copy.
   */
  current(
    keys: readonly string[],
    refs: readonly CacheRef[],
    probe: (refs: readonly CacheRef[]) => number[],
  ): (NearEntry | undefined)[] {
    const found = new Array<NearEntry | undefined>(keys.length).fill(undefined);
    if (!this.entries) return found;
    const held: number[] = [];
    keys.forEach((key, i) => {
      const entry = this.entries!.get(key);
      if (entry) {
        found[i] = entry;
        held.push(i);
      }
    });
    if (held.length === 0) return found;
    const revisions = probe(held.map((i) => refs[i]!));
    held.forEach((i, position) => {
      if (found[i]!.revision !== revisions[position]) {
        found[i] = undefined;
        this.entries!.delete(keys[i]!);
      }
    });
    return found;
  }

  /** Keeps a copy unless one of a newer revision is already here. */
  keep(
    key: string,
    agentId: string,
    revision: number,
    value: unknown,
    sizeBytes: number,
    ttlMs: number,
  ): void {
    if (!this.entries) return;
    const existing = this.entries.get(key, { updateAgeOnGet: false });
    if (existing && existing.revision > revision) return;
    const size = sizeBytes + key.length + ENTRY_OVERHEAD_BYTES;
    this.entries.set(key, { revision, value, agentId, size }, { ttl: ttlMs });
    if (!this.entries.has(key)) return; // larger than the whole budget: not kept
    let keys = this.byAgent.get(agentId);
    if (!keys) {
      keys = new Set();
      this.byAgent.set(agentId, keys);
    }
    keys.add(key);
  }

  drop(key: string): void {
    this.entries?.delete(key);
  }

  /** Drops an agent's copies (of these types, or all). */
  dropAgent(agentId: string, types?: readonly CacheDataType[]): void {
    for (const key of [...(this.byAgent.get(agentId) ?? [])]) {
      if (!types || types.includes(parseCacheKey(key)?.type as CacheDataType)) this.entries?.delete(key);
    }
  }

  dropType(type: CacheDataType): void {
    if (!this.entries) return;
    for (const key of [...this.entries.keys()])
      if (parseCacheKey(key)?.type === type) this.entries.delete(key);
  }

  clear(): void {
    this.entries?.clear();
  }

  /** Every copy held now, with its key (for re-seeding Redis after an outage). */
  *copies(): Generator<[string, NearEntry]> {
    if (!this.entries) return;
    for (const [key, entry] of this.entries.entries())
      yield [key, { revision: entry.revision, value: entry.value }];
  }

  private unindex(agentId: string, key: string): void {
    const keys = this.byAgent.get(agentId);
    keys?.delete(key);
    if (keys?.size === 0) this.byAgent.delete(agentId);
  }
}
