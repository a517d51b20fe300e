/**
 * Memory writes as the memory service makes them, straight through a store and the domain's
 * write algorithm (no GraphQL): an item, a write request, and the write. Used by the MemoryStore
 * contract, the store-level tests and the memory benchmark.
 */
import { newMemoryId } from "../../subgraphs/memory/domain/ids.js";
import type { MemoryRecord } from "../../subgraphs/memory/domain/model.js";
import { DEFAULT_CONTEXT_WEIGHT } from "../../subgraphs/memory/domain/session-context.js";
import { analyzeStatement, frameKeyText } from "../../subgraphs/memory/domain/statements.js";
import type { MemoryStore, NewMemory } from "../../subgraphs/memory/domain/store-port.js";
import { contentHash, normalizeName } from "../../subgraphs/memory/domain/text.js";
import { planWrite, type WriteRequest, writeQuery } from "../../subgraphs/memory/domain/write-plan.js";

export interface ItemOptions extends Partial<Omit<MemoryRecord, "id" | "agentId" | "content">> {
  embedding?: Float32Array | null;
  /** The vector is the model's (mixed with its session's context); default false: stored as given. */
  embeddingFromModel?: boolean;
  entities?: string[];
  relations?: { from: string; to: string; type: string }[];
  derivedFrom?: string[];
  pinned?: boolean;
  supersedes?: string;
}

export function item(agentId: string, content: string, options: ItemOptions = {}): NewMemory {
  const now = options.createdAt ?? new Date().toISOString();
  const statement = analyzeStatement(content, options.entities?.map(normalizeName));
  return {
    record: {
      id: newMemoryId(agentId),
      agentId,
      content,
      kind: options.kind ?? "EPISODIC",
      tags: options.tags ?? [],
      importance: options.importance ?? 0.5,
      createdAt: now,
      occurredAt: options.occurredAt ?? now,
      metadata: options.metadata ?? null,
      modality: options.modality ?? "TEXT",
      mediaUri: options.mediaUri ?? null,
      caption: options.caption ?? null,
      validFrom: options.validFrom ?? null,
      validUntil: options.validUntil ?? null,
      sessionId: options.sessionId ?? null,
      pinned: options.pinned ?? false,
      consolidation: null,
      variants: [],
    },
    contentHash: contentHash(content),
    statementKey: statement.canonical,
    frameKey: frameKeyText(statement),
    searchText: content,
    embedding: options.embedding === undefined ? null : options.embedding,
    embeddingFromModel: options.embeddingFromModel ?? false,
    entities: (options.entities ?? []).map((name) => ({
      name,
      normalizedName: normalizeName(name),
      type: "PERSON",
    })),
    relations: (options.relations ?? []).map((r) => ({
      from: normalizeName(r.from),
      to: normalizeName(r.to),
      type: r.type,
    })),
    derivedFrom: options.derivedFrom ?? [],
    supersedes: options.supersedes ?? null,
  };
}

/** A write as the memory service makes it (exact duplicates only unless `dedupThreshold` < 1). */
export function batch(
  agentId: string,
  items: NewMemory[],
  options: Partial<WriteRequest> = {},
): WriteRequest {
  return {
    agentId,
    items,
    dedupThreshold: 1,
    capacity: null,
    contradictionPolicy: "KEEP_BOTH",
    contextWeight: DEFAULT_CONTEXT_WEIGHT,
    now: new Date().toISOString(),
    ...options,
  };
}

/** Runs the domain's write algorithm on the store: what MemoryService.remember does. */
export async function write(store: MemoryStore, request: WriteRequest) {
  const result = await store.write(writeQuery(request), (snapshot) => planWrite(request, snapshot));
  return {
    ...result,
    results: result.plan.outcomes,
    evicted: result.plan.deletions,
  };
}
