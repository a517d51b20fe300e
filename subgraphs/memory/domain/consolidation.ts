/**
 * Consolidation: clusters of duplicate memories (neighbours by cosine at or above a threshold
 * that state the same thing: see dedup.ts) merged into one memory that keeps their evidence —
 * which memories it stands for, how many, the span of time they cover, and every wording
 * (`variants`). The representative is the pinned member if there is one, else the most
 * important, then the most recent; it takes the union of tags, the highest importance, the
 * latest occurrence and everyone's usage counts, mentions and derivations.
 */

import { sameStatement } from "./dedup.js";
import type { MemoryRecord } from "./model.js";
import type { ConsolidationMerge, MemoryStore } from "./store-port.js";
import { combineVariants, wordingsOf } from "./write-plan.js";

/** Most memories one consolidation looks at (each costs one nearest-neighbour query). */
export const CONSOLIDATION_LIMIT = 5000;
/** Nearest neighbours checked per memory. */
const NEIGHBOURS = 8;
const PAGE = 100;

export async function planConsolidation(
  store: MemoryStore,
  agentId: string,
  threshold: number,
  now: string,
): Promise<ConsolidationMerge[]> {
  const records = new Map<string, MemoryRecord>();
  let after: number | undefined;
  for (;;) {
    const page = await store.listMemories(agentId, PAGE, after, {}, now);
    for (const item of page.items) records.set(item.node.id, item.node);
    if (!page.hasNextPage || records.size >= CONSOLIDATION_LIMIT || page.items.length === 0) break;
    after = page.items.at(-1)!.cursor;
  }
  const ids = [...records.keys()];
  const withVectors = await store.candidates(agentId, ids, {}, now, new Set(ids));

  // Union-find over near-duplicate pairs.
  const parent = new Map(ids.map((id) => [id, id]));
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(id, root);
    return root;
  };
  for (const { record, embedding } of withVectors) {
    if (!embedding) continue;
    for (const hit of await store.vectorSearch(agentId, embedding, NEIGHBOURS, {}, now)) {
      if (hit.id === record.id || hit.score < threshold) continue;
      const other = records.get(hit.id);
      // Two pinned memories stay apart: consolidation never removes a pinned one.
      if (!other || (other.pinned && record.pinned) || !sameStatement(record, other)) continue;
      const [a, b] = [find(record.id), find(other.id)];
      if (a !== b && !(records.get(a)!.pinned && records.get(b)!.pinned)) {
        parent.set(records.get(a)!.pinned ? b : a, records.get(a)!.pinned ? a : b);
      }
    }
  }
  const clusters = new Map<string, MemoryRecord[]>();
  for (const id of ids) {
    const root = find(id);
    clusters.set(root, [...(clusters.get(root) ?? []), records.get(id)!]);
  }
  return [...clusters.values()].filter((members) => members.length > 1).map(mergeCluster);
}

function mergeCluster(members: MemoryRecord[]): ConsolidationMerge {
  const [keep, ...rest] = [...members].sort(
    (a, b) =>
      Number(b.pinned) - Number(a.pinned) ||
      b.importance - a.importance ||
      b.occurredAt.localeCompare(a.occurredAt) ||
      a.id.localeCompare(b.id),
  ) as [MemoryRecord, ...MemoryRecord[]];
  const first = (record: MemoryRecord) => record.consolidation?.firstOccurredAt ?? record.occurredAt;
  const last = (record: MemoryRecord) => record.consolidation?.lastOccurredAt ?? record.occurredAt;
  const sorted = (values: string[]) => values.sort();
  // The representative's own metadata wins over its duplicates'.
  const withMetadata = [keep, ...rest].filter((record) => record.metadata);
  const metadata =
    withMetadata.length === 0
      ? null
      : (Object.assign({}, ...withMetadata.map((record) => record.metadata).reverse()) as Record<
          string,
          unknown
        >);
  return {
    keep: {
      ...keep,
      tags: [...new Set(members.flatMap((record) => record.tags))],
      importance: Math.max(...members.map((record) => record.importance)),
      occurredAt: sorted(members.map((record) => record.occurredAt)).at(-1)!,
      metadata,
      variants: combineVariants(members.map(wordingsOf)),
      consolidation: {
        sourceIds: [
          ...new Set([
            ...(keep.consolidation?.sourceIds ?? []),
            ...rest.flatMap((record) => [record.id, ...(record.consolidation?.sourceIds ?? [])]),
          ]),
        ],
        count: members.reduce((sum, record) => sum + (record.consolidation?.count ?? 1), 0),
        firstOccurredAt: sorted(members.map(first))[0]!,
        lastOccurredAt: sorted(members.map(last)).at(-1)!,
      },
    },
    remove: rest.map((record) => record.id),
  };
}
