/**
 * Where cache entries physically live: Redis (shared by replicas) or an in-process LRU (one
 * process, no Redis). Both apply the same rule: an entry is only replaced by one whose revision
 * is at least as new, so a slow reader can never put an old value back after a write.
 *
 * Invalidation never deletes a value outright: it turns it into a tombstone that keeps the
 * entry's revision. Deleting would reopen the door to a late write-back of an older revision;
 * a tombstone still refuses it, while the next read loads from the store as on a miss. Only
 * `purge` (the data is gone from the store) deletes, and it raises a revision floor first.
 */
import { CACHE_DATA_TYPES, type CacheDataType } from "./policy.js";

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
  /** Releases this process's fill lock on the key in the same step (fill-lock token). */
  unlockToken?: string;
}

/** Entries, and whether another process is loading each of them right now (its fill lock). */
export interface FillRead {
  entries: (StoredEntry | null)[];
  locked: boolean[];
}

/** One key as the admin API shows it. */
export interface KeyDetails {
  key: string;
  entry: StoredEntry | null;
  /** Remaining time to live; null when the key has none or is gone. */
  ttlMs: number | null;
  /** Memory used by the key (Redis MEMORY USAGE; an estimate in process). */
  bytes: number | null;
}

export interface KeyPage {
  keys: string[];
  /** For each key, a cursor that resumes the listing right after it. */
  cursors: string[];
  /** Where the next page starts; null when the scan is complete. Opaque to callers. */
  cursor: string | null;
}

export interface TypeCensus {
  keys: number;
  tombstones: number;
  bytes: number;
}

export interface Census {
  byType: Record<CacheDataType, TypeCensus>;
  /** True when the numbers are extrapolated from a sample (a large keyspace), not counted. */
  estimated: boolean;
}

export interface CacheBackend {
  readonly kind: "redis" | "in-process";
  /**
   * True when other processes share the entries (Redis): only then do fill locks coordinate
   * anything. In process, concurrent misses already share one load (single-flight).
   */
  readonly shared: boolean;
  /** One round trip (one pipeline per cluster node) for any number of keys. */
  getMany(keys: readonly string[]): Promise<(StoredEntry | null)[]>;
  /** `getMany` plus each key's fill lock, in the same MGET (a lock shares its entry's slot). */
  getManyWithLocks(keys: readonly string[]): Promise<FillRead>;
  /**
   * Stampede protection across processes: takes the short fill lock of each key (`SET NX PX`),
   * returning a token where it was free and null where another process holds it.
   */
  lockFills(keys: readonly string[], ttlMs: number): Promise<(string | null)[]>;
  /** Releases fill locks still held with these tokens (when no write-back released them). */
  releaseFills(keys: readonly string[], tokens: readonly string[]): Promise<void>;
  /** Writes each entry unless the slot holds a newer revision or a higher floor; returns how many were written. */
  putIfNewer(entries: readonly EntryWrite[]): Promise<number>;
  /**
   * Sets the revision floors, then deletes the agent's tagged keys, atomically: a write-back
   * still in flight from before cannot put purged data back. Returns the number of keys removed.
   */
  purge(tagKey: string, floorKeys: readonly string[], floor: number, floorTtlMs: number): Promise<number>;
  /** Turns cached values into tombstones of the same revision; returns how many values there were. */
  invalidate(keys: readonly string[]): Promise<number>;
  /** `invalidate` for every key in an agent's tag set. */
  invalidateTagged(tagKey: string): Promise<number>;
  /** `invalidate` for every entry of one type (SCAN, every node). */
  invalidateType(type: CacheDataType): Promise<number>;
  /** The keys in an agent's tag set (the entries cached for it recently). */
  tagged(tagKey: string): Promise<string[]>;
  /** Keys starting with `prefix`, `count` at most, from `cursor` (SCAN; never KEYS). */
  scan(prefix: string, cursor: string | null, count: number): Promise<KeyPage>;
  inspect(keys: readonly string[]): Promise<KeyDetails[]>;
  /** Keys, tombstones and memory per type. */
  census(): Promise<Census>;
  /** Resolves when the backend answers (used to detect recovery). */
  ping(): Promise<void>;
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

export function emptyCensus(): Census {
  const byType = {} as Record<CacheDataType, TypeCensus>;
  for (const type of CACHE_DATA_TYPES) byType[type] = { keys: 0, tombstones: 0, bytes: 0 };
  return { byType, estimated: false };
}

/** A cursor that this backend did not issue (or that no longer fits the topology). */
export class InvalidCursorError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "InvalidCursorError";
  }
}
