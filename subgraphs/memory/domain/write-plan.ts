/**
 * The one write algorithm of the memory store, for every adapter: which new memories are
 * duplicates of stored ones (and are merged, keeping every wording), which replace or contradict
 * one (linked, and invalidated when asked), how they link to their session and sources, the
 * vector each new one is stored with (its session's context mixed in, domain/session-context.ts),
 * and which memories capacity evicts.
 *
 * It runs in two pure steps around the store's transaction: `writeQuery` says what to read
 * under the agent's write lock, `planWrite` decides from what was read. The adapter only reads
 * and applies (domain/store-port.ts), so both stores behave the same by construction.
 *
 * The rule that protects facts: two memories merge only when they state the same thing (equal
 * normalised text, or, below a dedupThreshold of 1, the same canonical statement of
 * domain/statements.ts), and never when they differ in kind, modality, media or validity. A
 * memory that `supersedes` another is always stored as itself.
 */

import { searchTextOf } from "./dedup.js";
import type { ContradictionPolicy, MemoryRecord, MemoryVariant } from "./model.js";
import { withSessionContext } from "./session-context.js";
import { analyzeStatement, contradicts, type Statement } from "./statements.js";
import {
  type MemoryLink,
  type NewMemory,
  type StoredStatement,
  UnknownMemoryError,
  type WriteOutcome,
  type WritePlan,
  type WriteQuery,
  type WriteSnapshot,
} from "./store-port.js";

export interface WriteRequest {
  agentId: string;
  /** Prepared items, ids assigned, keys computed (memory-service.ts). */
  items: readonly NewMemory[];
  /** The agent's settings that shape a write. */
  dedupThreshold: number;
  capacity: number | null;
  contradictionPolicy: ContradictionPolicy;
  /** How much of the session's previous memory a model-made vector carries (0: none). */
  contextWeight: number;
  /** The instant validity is judged at (ISO 8601). */
  now: string;
}

export function writeQuery(request: WriteRequest): WriteQuery {
  const { items, capacity } = request;
  const unique = (values: (string | null | undefined)[]) => [
    ...new Set(values.filter((v): v is string => typeof v === "string")),
  ];
  return {
    agentId: request.agentId,
    now: request.now,
    contentHashes: unique(items.map((item) => item.contentHash)),
    statementKeys: request.dedupThreshold < 1 ? unique(items.map((item) => item.statementKey)) : [],
    frameKeys: unique(items.map((item) => item.frameKey)),
    referencedIds: unique(items.flatMap((item) => [...item.derivedFrom, item.supersedes])),
    sessionIds: unique(items.map((item) => item.record.sessionId)),
    // Enough to evict the excess even if every item is new and none of them may be a victim.
    evictionCandidates: capacity === null ? 0 : items.length * 2,
  };
}

/** Every memory the plan knows, with its current record (as merged or invalidated so far). */
interface Known extends StoredStatement {
  isNew: boolean;
}

export function planWrite(request: WriteRequest, snapshot: WriteSnapshot): WritePlan {
  const exactOnly = request.dedupThreshold >= 1;
  const known = new Map<string, Known>(
    snapshot.matches.map((match) => [match.record.id, { ...match, isNew: false }]),
  );
  const referenced = new Map(snapshot.referenced.map((record) => [record.id, record]));
  const sessionHeads = new Map(snapshot.sessionHeads.map((head) => [head.sessionId, head]));
  const embeddings = new Map<string, Float32Array | null>();
  const created: string[] = [];
  const merged = new Set<string>();
  const invalidations = new Map<string, string>();
  const links: MemoryLink[] = [];
  const mentions: WritePlan["mentions"] = [];
  const outcomes: { outcome: WriteOutcome["outcome"]; id: string; contradicts: string[] }[] = [];
  const statements = new Map<string, Statement>();

  const isValid = (entry: Known) => !invalidations.has(entry.record.id);
  const link = (fromId: string, toId: string, type: MemoryLink["type"]) => {
    if (fromId !== toId) links.push({ fromId, toId, type });
  };
  const invalidate = (older: MemoryRecord, at: string) => {
    invalidations.set(older.id, at);
    const entry = known.get(older.id);
    if (entry) entry.record = { ...entry.record, validUntil: at };
    if (referenced.has(older.id)) referenced.set(older.id, { ...referenced.get(older.id)!, validUntil: at });
  };

  for (const item of request.items) {
    const record = item.record;
    const names = item.entities.map((entity) => entity.normalizedName);
    const target = item.supersedes ? undefined : findDuplicate(item, known, exactOnly, isValid);
    let memoryId: string;
    const contradicted: string[] = [];

    if (target) {
      target.record = mergeDuplicate(target.record, record);
      if (!target.isNew) merged.add(target.record.id);
      memoryId = target.record.id;
    } else {
      memoryId = record.id;
      created.push(memoryId);
      const entry: Known = {
        record,
        contentHash: item.contentHash,
        statementKey: item.statementKey,
        frameKey: item.frameKey,
        isNew: true,
      };
      known.set(memoryId, entry);
      referenced.set(memoryId, record);
      let embedding = item.embedding;
      if (record.sessionId !== null) {
        const previous = sessionHeads.get(record.sessionId);
        if (previous) {
          link(memoryId, previous.id, "FOLLOWS");
          if (embedding && item.embeddingFromModel && previous.embedding) {
            embedding = withSessionContext(embedding, previous.embedding, request.contextWeight);
          }
        }
        sessionHeads.set(record.sessionId, { sessionId: record.sessionId, id: memoryId, embedding });
      }
      embeddings.set(memoryId, embedding);
      if (item.frameKey !== null) {
        const mine = statementOf(statements, entry, names);
        const people = new Set(
          item.entities
            .filter((entity) => entity.type === "PERSON")
            .flatMap((entity) => entity.normalizedName.split(" ")),
        );
        for (const other of known.values()) {
          if (other === entry || other.frameKey !== item.frameKey || !isValid(other)) continue;
          if (other.record.id === item.supersedes) continue;
          if (!contradicts(statementOf(statements, other, names), mine, people)) continue;
          contradicted.push(other.record.id);
          link(memoryId, other.record.id, "CONTRADICTS");
          if (request.contradictionPolicy === "INVALIDATE_OLDER") {
            // The fact that happened first held until the other one happened (ties: the stored one).
            const [older, newer] =
              other.record.occurredAt <= record.occurredAt
                ? [other.record, entry.record]
                : [entry.record, other.record];
            invalidate(older, newer.occurredAt);
            link(newer.id, older.id, "SUPERSEDES");
          }
        }
      }
    }

    mentions.push({ memoryId, entities: item.entities, relations: item.relations });
    for (const sourceId of item.derivedFrom) {
      if (!referenced.has(sourceId)) throw new UnknownMemoryError(sourceId);
      link(memoryId, sourceId, "DERIVED_FROM");
    }
    if (item.supersedes) {
      const old = referenced.get(item.supersedes);
      if (!old) throw new UnknownMemoryError(item.supersedes, "supersedes");
      invalidate(old, record.occurredAt);
      link(memoryId, old.id, "SUPERSEDES");
    }
    outcomes.push({
      outcome: target ? "MERGED" : item.supersedes ? "SUPERSEDED" : "CREATED",
      id: memoryId,
      contradicts: contradicted,
    });
  }

  const current = (id: string) => known.get(id)!.record;
  const creates = request.items
    .filter((item) => created.includes(item.record.id))
    .map((item) => ({
      ...item,
      record: current(item.record.id),
      embedding: embeddings.get(item.record.id) ?? null,
    }));
  // A new memory invalidated in its own write is stored with its end already set.
  const storedInvalidations = [...invalidations]
    .filter(([id]) => !created.includes(id))
    .map(([id, validUntil]) => ({ id, validUntil }));

  const deletions: string[] = [];
  if (request.capacity !== null) {
    let excess = snapshot.memoryCount + created.length - request.capacity;
    const protectedIds = new Set([...created, ...merged, ...invalidations.keys()]);
    for (const id of snapshot.evictionOrder) {
      if (excess <= 0) break;
      if (protectedIds.has(id)) continue;
      deletions.push(id);
      excess--;
    }
  }

  return {
    creates,
    merges: [...merged].map(current),
    mentions,
    links,
    invalidations: storedInvalidations,
    deletions,
    outcomes: outcomes.map(({ outcome, id, contradicts }) => ({ outcome, memory: current(id), contradicts })),
  };
}

function statementOf(cache: Map<string, Statement>, entry: Known, names: readonly string[]): Statement {
  const key = `${entry.record.id}\u0000${names.join("\u0000")}`;
  let statement = cache.get(key);
  if (!statement) {
    statement = analyzeStatement(searchTextOf(entry.record), names);
    cache.set(key, statement);
  }
  return statement;
}

/**
 * The valid memory `item` is a duplicate of: the same normalised text (or, unless `exactOnly`,
 * the same canonical statement), and nothing else that would be lost in a merge (kind,
 * modality, media, an explicit validity). The newest such memory when there are several.
 */
function findDuplicate(
  item: NewMemory,
  known: Map<string, Known>,
  exactOnly: boolean,
  isValid: (entry: Known) => boolean,
): Known | undefined {
  const incoming = item.record;
  let best: Known | undefined;
  for (const entry of known.values()) {
    const sameText = entry.contentHash === item.contentHash;
    const sameStatement =
      !exactOnly && entry.statementKey !== null && entry.statementKey === item.statementKey;
    if (!(sameText || sameStatement) || !isValid(entry)) continue;
    const existing = entry.record;
    if (
      existing.kind !== incoming.kind ||
      existing.modality !== incoming.modality ||
      existing.mediaUri !== incoming.mediaUri ||
      (incoming.validFrom !== null && incoming.validFrom !== existing.validFrom) ||
      (incoming.validUntil !== null && incoming.validUntil !== existing.validUntil)
    ) {
      continue;
    }
    if (!best || existing.createdAt > best.record.createdAt) best = entry;
  }
  return best;
}

/** The wording of a record as a variant (one occurrence). */
export function variantOf(record: MemoryRecord): MemoryVariant {
  return {
    content: record.content,
    caption: record.caption,
    metadata: record.metadata,
    occurrences: record.consolidation?.count ?? 1,
    firstOccurredAt: record.consolidation?.firstOccurredAt ?? record.occurredAt,
    lastOccurredAt: record.consolidation?.lastOccurredAt ?? record.occurredAt,
  };
}

const variantKey = (variant: Pick<MemoryVariant, "content" | "caption" | "metadata">) =>
  JSON.stringify([variant.content, variant.caption, variant.metadata]);

/** Variants of several memories as one list: equal wordings counted together, oldest first. */
export function combineVariants(lists: readonly MemoryVariant[][]): MemoryVariant[] {
  const byKey = new Map<string, MemoryVariant>();
  for (const variant of lists.flat()) {
    const key = variantKey(variant);
    const seen = byKey.get(key);
    byKey.set(
      key,
      seen
        ? {
            ...seen,
            occurrences: seen.occurrences + variant.occurrences,
            firstOccurredAt: [seen.firstOccurredAt, variant.firstOccurredAt].sort()[0]!,
            lastOccurredAt: [seen.lastOccurredAt, variant.lastOccurredAt].sort()[1]!,
          }
        : variant,
    );
  }
  return [...byKey.values()].sort((a, b) => a.firstOccurredAt.localeCompare(b.firstOccurredAt));
}

/** A memory's wordings: its variants once something was merged into it, else its own text. */
export const wordingsOf = (record: MemoryRecord): MemoryVariant[] =>
  record.variants.length > 0 ? record.variants : [variantOf(record)];

/**
 * A duplicate merged into the memory already stored: tags are united, the latest occurrence and
 * the higher importance are kept, metadata keys are united (the newer write's value shown), and
 * every wording with its own metadata and times stays in `variants`.
 */
export function mergeDuplicate(existing: MemoryRecord, incoming: MemoryRecord): MemoryRecord {
  return {
    ...existing,
    tags: [...new Set([...existing.tags, ...incoming.tags])],
    importance: Math.max(existing.importance, incoming.importance),
    // ISO 8601 UTC strings sort chronologically.
    occurredAt: [existing.occurredAt, incoming.occurredAt].sort()[1]!,
    metadata:
      existing.metadata || incoming.metadata
        ? { ...(existing.metadata ?? {}), ...(incoming.metadata ?? {}) }
        : null,
    variants: combineVariants([wordingsOf(existing), [variantOf(incoming)]]),
  };
}
