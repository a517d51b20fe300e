/**
 * Where cache entries physically live: Redis (shared by replicas) or an in-process LRU (one
 * process, no Redis). Both apply the same rule: an entry is only replaced by one whose revision
 * is at least as new, so a slow reader can never put an old value back after a write.
 */

/** What one cache slot holds. `tombstone` means "the store is at this revision; value not cached". */
export type StoredEntry =
  | { revision: number; kind: "value"; payload: string }
  | { revision: number; kind: "tombstone" };

export interface EntryWrite {
  key: string;
  tagKey: string;
  /** Entries below the revision stored here are refused (set when an agent's data is purged). */
  floorKey: string;
  revision: number;
  /** JSON text of the value, or null for a tombstone. */
  payload: string | null;
  ttlMs: number;
}

export interface CacheBackend {
  readonly kind: "redis" | "in-process";
  /** One round trip (per cluster slot) for any number of keys. */
  getMany(keys: readonly string[]): Promise<(StoredEntry | null)[]>;
  /** Writes each entry unless the slot holds a newer revision; returns how many were written. */
  putIfNewer(entries: readonly EntryWrite[]): Promise<number>;
  /** Deletes every key in an agent's tag set, and the set. Returns the number of keys removed. */
  deleteTagged(tagKey: string): Promise<number>;
  /**
   * Sets the revision floors, then deletes the agent's tagged keys, atomically: a write-back
   * still in flight from before cannot put purged data back.
   */
  purge(tagKey: string, floorKeys: readonly string[], floor: number, floorTtlMs: number): Promise<number>;
  deleteKeys(keys: readonly string[]): Promise<number>;
}

export function encodeEntry(revision: number, payload: string | null): string {
  return payload === null ? `${revision}|T` : `${revision}|V${payload}`;
}

export function decodeEntry(raw: string | null | undefined): StoredEntry | null {
  if (!raw) return null;
  const separator = raw.indexOf("|");
  if (separator < 0) return null;
  const revision = Number(raw.slice(0, separator));
  if (!Number.isFinite(revision)) return null;
  const marker = raw[separator + 1];
  if (marker === "T") return { revision, kind: "tombstone" };
  if (marker === "V") return { revision, kind: "value", payload: raw.slice(separator + 2) };
  return null;
}
