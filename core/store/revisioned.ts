/**
 * What a store returns with every value it loads, so that copies of the value elsewhere (Redis,
 * a process's near cache) can be ordered against each other and against the store itself.
 *
 * A revision grows with every change of the entry it belongs to (writes, deletes, prunes) and
 * is never reused. Two loads that return the same revision returned the same value; that is
 * what lets a cache refuse a late write-back of an older value, and lets a process check a copy
 * it holds against the store without loading the value again.
 */

/** A value as the store knows it. */
export interface Revisioned<T> {
  revision: number;
  /** null: the store has nothing for this ref (cached too, so absent data does not hit the store). */
  value: T | null;
}

/**
 * The current revisions of entries, answered synchronously by a store that lives in this
 * process (SQLite) — one small indexed read, cheaper than any network round trip. Returns, for
 * each id, the revision a load would return now (0 when there is nothing). Stores across a
 * network (Neo4j) do not offer it: asking them costs as much as loading the value.
 */
export type RevisionProbe = (ids: readonly string[]) => number[];
