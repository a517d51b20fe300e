/**
 * A recall: gather candidates from every retriever (vector, full-text, full-text within the
 * time the query names, entities named in the query), expand through the graph from the
 * strongest of them (session neighbours, derivations, shared entities), load the candidates
 * once, then score and rank them (scoring.ts).
 *
 * The store is asked only for ids and raw scores; all ranking happens here, identically for
 * every adapter.
 */

import type { EntityRecord, MemoryConfig, MemoryFilter, MemoryRecord, RecallWeights } from "./model.js";
import {
  type CandidateEvidence,
  GRAPH_EVIDENCE,
  type MemoryUsage,
  normalisers,
  rank,
  type ScoredCandidate,
  type ScoringContext,
  scoreCandidates,
} from "./scoring.js";
import type { MemoryStore } from "./store-port.js";
import { nameCandidates, normalizeText, searchTerms } from "./text.js";
import { type TimeWindow, timeCueMatch, timeCues } from "./time-cues.js";

export interface RecallRequest {
  agentId: string;
  query: string;
  /** The query's vector, or null without an embedder (semantic similarity then sits out). */
  vector: Float32Array | null;
  k: number;
  filter: MemoryFilter;
  weights: RecallWeights;
  config: MemoryConfig;
  /** ISO 8601: validity and recency are judged at this instant. */
  now: string;
  /** Whether the agent has given feedback (its memories' usage then takes part in the score). */
  hasFeedback?: boolean;
}

/**
 * How deep each retriever looks, relative to k: fusion can only promote what some retriever
 * found, so this is deep enough that a memory ranked 100th by one signal and 3rd by another is
 * in the pool, and small enough to stay fast.
 */
export const RETRIEVAL_DEPTH = { factor: 5, minimum: 100 };
/** How many of the best first-stage hits seed the graph expansion. */
export const GRAPH_SEEDS = { count: 10 };
/**
 * An entity mentioned by more than this share of the agent's memories (the agent's user, the
 * other speaker of every turn) is too common to find candidates by; it still counts, weighted
 * by its specificity, for the candidates other retrievers found.
 */
export const COMMON_ENTITY_SHARE = 0.2;

export async function recallMemories(store: MemoryStore, request: RecallRequest): Promise<ScoredCandidate[]> {
  const { candidates, context } = await gatherCandidates(store, request);
  return rank(scoreCandidates(candidates, request.weights, context)).slice(0, request.k);
}

/** Every candidate of a recall with its raw evidence, and the query's scoring context. */
export interface GatheredCandidates {
  candidates: CandidateEvidence[];
  context: ScoringContext;
}

/**
 * Stages 1-3 of a recall, without the final weighting: what `recallMemories` ranks, and what the
 * recall benchmark re-weights when it chooses weights by cross-validation.
 */
export async function gatherCandidates(
  store: MemoryStore,
  request: RecallRequest,
): Promise<GatheredCandidates> {
  const { agentId, filter, now } = request;
  const depth = Math.max(RETRIEVAL_DEPTH.minimum, request.k * RETRIEVAL_DEPTH.factor);
  const reference = new Date(filter.asOf ?? now);
  const windows = timeCues(request.query, reference);
  const terms = searchTerms(request.query);

  // Stage 1: independent retrievers, in parallel.
  const [vectorHits, textHits, windowHits, named] = await Promise.all([
    request.vector ? store.vectorSearch(agentId, request.vector, depth, filter, now) : Promise.resolve([]),
    store.textSearch(agentId, terms, depth, filter, now),
    searchWithinWindows(store, request, terms, windows, depth),
    findByNamedEntities(store, request, depth),
  ]);
  const { queryEntities, entityWeight } = named;

  const evidence = new Map<string, { cosine: number | null; bm25: number; graph: number }>();
  const entry = (id: string) => {
    let found = evidence.get(id);
    if (!found) {
      found = { cosine: null, bm25: 0, graph: 0 };
      evidence.set(id, found);
    }
    return found;
  };
  for (const hit of vectorHits) entry(hit.id).cosine = hit.score;
  // Both full-text searches score against the same index, so their BM25 values are comparable.
  for (const hit of [...textHits, ...windowHits])
    entry(hit.id).bm25 = Math.max(entry(hit.id).bm25, hit.score);
  for (const id of named.memoryIds) entry(id);

  // Stage 2: expand from the strongest first-stage hits (by meaning and words only).
  const firstStage = [...evidence.entries()];
  const normalise = normalisers(firstStage.map(([, e]) => e));
  const { semantic, lexical } = request.weights;
  const seedStrength = (e: { cosine: number | null; bm25: number }) => {
    const semanticWeight = request.vector ? semantic : 0;
    const total = semanticWeight + lexical;
    if (total <= 0) return 0;
    return (semanticWeight * normalise.semantic(e.cosine ?? 0) + lexical * normalise.lexical(e.bm25)) / total;
  };
  const seeds = firstStage
    .map(([id, e]) => ({ id, strength: seedStrength(e) }))
    .filter((seed) => seed.strength > 0)
    .sort((a, b) => b.strength - a.strength)
    .slice(0, GRAPH_SEEDS.count);
  if (seeds.length > 0) await expandFromSeeds(store, request, seeds, entityWeight, entry);

  // Stage 3: load every candidate once (the filter is applied again: graph neighbours were not
  // filtered). Candidates found by words or the graph get their exact similarity too, so every
  // hit is comparable; the store computes it where the vectors are. The records, their mentions,
  // usage and missing similarities are read at once, for the whole pool (on Neo4j each read is a
  // round trip; the few memories the filter then drops cost a little extra work).
  const pooled = [...evidence.keys()];
  const unscored = request.vector ? pooled.filter((id) => evidence.get(id)!.cosine === null) : [];
  const [candidates, mentions, usage, similarities] = await Promise.all([
    store.candidates(agentId, pooled, filter, now, new Set()),
    entityWeight.size > 0 ? store.mentions(pooled) : Promise.resolve(null),
    request.hasFeedback ? store.accessStats(pooled) : Promise.resolve(null),
    unscored.length > 0 && request.vector
      ? store.similarities(agentId, unscored, request.vector)
      : Promise.resolve([] as (number | null)[]),
  ]);
  const positionOf = new Map(pooled.map((id, i) => [id, i]));
  const similarityOf = new Map(unscored.map((id, i) => [id, similarities[i] ?? null]));
  const sessionBm25 = bestWordMatchPerSession(candidates, evidence);
  const scored: CandidateEvidence[] = candidates.map((candidate) => {
    const e = evidence.get(candidate.record.id)!;
    const position = positionOf.get(candidate.record.id)!;
    const cosine = e.cosine ?? similarityOf.get(candidate.record.id) ?? null;
    const entityEvidence =
      (mentions?.[position] ?? []).reduce((sum, id) => sum + (entityWeight.get(id) ?? 0), 0) +
      subjectEvidence(candidate.record, queryEntities);
    const stats = usage?.[position] ?? null;
    return {
      record: candidate.record,
      cosine,
      bm25: e.bm25,
      graph: e.graph + entityEvidence,
      timeMatch: windows.length > 0 ? timeCueMatch(Date.parse(candidate.record.occurredAt), windows) : 0,
      sessionBm25: candidate.record.sessionId ? (sessionBm25.get(candidate.record.sessionId) ?? 0) : 0,
      usage: stats
        ? ({
            useful: stats.usefulCount,
            notUseful: stats.notUsefulCount,
            accessCount: stats.accessCount,
          } satisfies MemoryUsage)
        : undefined,
    };
  });

  return {
    candidates: scored,
    context: {
      at: reference.getTime(),
      halfLifeHours: request.config.recencyHalfLifeHours,
      hasQueryVector: request.vector !== null,
      hasTimeCue: windows.length > 0,
      hasFeedback: request.hasFeedback === true,
      hasSessionWords: sessionBm25.size > 0,
      ...normalisers(scored),
    },
  };
}

/** Per session, the best BM25 among its candidates (sessions without a word match are left out). */
function bestWordMatchPerSession(
  candidates: readonly { record: MemoryRecord }[],
  evidence: ReadonlyMap<string, { bm25: number }>,
): Map<string, number> {
  const best = new Map<string, number>();
  for (const { record } of candidates) {
    const bm25 = evidence.get(record.id)?.bm25 ?? 0;
    if (record.sessionId === null || bm25 <= 0) continue;
    best.set(record.sessionId, Math.max(best.get(record.sessionId) ?? 0, bm25));
  }
  return best;
}

/**
 * The entities the query names and those one RELATED hop from them, each weighted by how specific
 * it is, and the memories that mention the specific ones. A retriever of its own: it runs beside
 * the searches, since nothing here depends on them.
 */
async function findByNamedEntities(
  store: MemoryStore,
  request: RecallRequest,
  depth: number,
): Promise<{ queryEntities: EntityRecord[]; entityWeight: Map<string, number>; memoryIds: string[] }> {
  const { agentId, filter, now } = request;
  const queryEntities = await store.entitiesByName(agentId, nameCandidates(request.query));
  const entityWeight = new Map<string, number>();
  if (queryEntities.length === 0) return { queryEntities, entityWeight, memoryIds: [] };
  const queryIds = queryEntities.map((entity) => entity.id);
  const related = new Set<string>();
  for (const relation of await store.relations(queryIds)) {
    for (const id of [relation.fromId, relation.toId]) if (!queryIds.includes(id)) related.add(id);
  }
  const ids = [...queryIds, ...related];
  const { memories, mentions } = await store.entityMentionCounts(agentId, ids);
  ids.forEach((id, i) => {
    const base = i < queryIds.length ? GRAPH_EVIDENCE.queryEntity : GRAPH_EVIDENCE.relatedEntity;
    entityWeight.set(id, base * entitySpecificity(mentions[i]!, memories));
  });
  // Only specific entities find candidates; common ones would flood the pool.
  const finders = ids.filter((_, i) => mentions[i]! <= Math.max(depth / 2, memories * COMMON_ENTITY_SHARE));
  const memoryIds =
    finders.length > 0
      ? (await store.memoriesMentioning(agentId, finders, depth, filter, now)).map((hit) => hit.id)
      : [];
  return { queryEntities, entityWeight, memoryIds };
}

/**
 * A memory that begins with an entity the query names ("Caroline: I went to…", "Ada prefers…")
 * is about that entity: its speaker or its subject, not just someone it mentions in passing
 * ("Wow, Caroline!"). Questions about someone are mostly answered by what they said or did.
 */
function subjectEvidence(record: MemoryRecord, queryEntities: readonly EntityRecord[]): number {
  if (queryEntities.length === 0) return 0;
  const text = normalizeText(record.content.slice(0, 200));
  return queryEntities.some(
    (entity) => text === entity.normalizedName || text.startsWith(`${entity.normalizedName} `),
  )
    ? GRAPH_EVIDENCE.querySubject
    : 0;
}

/**
 * How much naming an entity says about a memory that mentions it: 1 for an entity only one
 * memory mentions, falling to 0 for one every memory mentions (inverse document frequency,
 * scaled by its largest possible value).
 */
export function entitySpecificity(mentions: number, memories: number): number {
  if (memories <= 1 || mentions <= 0) return 1;
  return Math.max(0, Math.log(memories / mentions) / Math.log(memories));
}

/** Full-text search restricted to each dated window the query names, so a match from that time enters the pool. */
async function searchWithinWindows(
  store: MemoryStore,
  request: RecallRequest,
  terms: readonly string[],
  windows: readonly TimeWindow[],
  depth: number,
) {
  const dated = windows.filter((window) => !window.yearly);
  if (dated.length === 0 || terms.length === 0) return [];
  const results = await Promise.all(
    dated.map((window) => {
      const after = new Date(window.start).toISOString();
      const before = new Date(window.end).toISOString();
      const { occurredAfter, occurredBefore } = request.filter;
      // Intersected with the caller's own time filter; an empty intersection finds nothing.
      const filter: MemoryFilter = {
        ...request.filter,
        occurredAfter: occurredAfter && occurredAfter > after ? occurredAfter : after,
        occurredBefore: occurredBefore && occurredBefore < before ? occurredBefore : before,
      };
      if (filter.occurredBefore! <= filter.occurredAfter!) return [];
      return store.textSearch(request.agentId, terms, depth, filter, request.now);
    }),
  );
  return results.flat();
}

async function expandFromSeeds(
  store: MemoryStore,
  request: RecallRequest,
  seeds: { id: string; strength: number }[],
  queryEntityWeight: ReadonlyMap<string, number>,
  entry: (id: string) => { graph: number },
): Promise<void> {
  const { agentId, filter, now } = request;
  const depth = Math.max(RETRIEVAL_DEPTH.minimum, request.k * RETRIEVAL_DEPTH.factor);
  const seedIds = seeds.map((seed) => seed.id);
  const strengthOf = new Map(seeds.map((seed) => [seed.id, seed.strength]));
  const [mentions, links] = await Promise.all([store.mentions(seedIds), store.links(seedIds)]);

  // Memories sharing a specific entity with a seed (entities the query named already count on their own).
  const entityStrength = new Map<string, { strength: number; seed: string }>();
  mentions.forEach((entityIds, index) => {
    const seed = seeds[index]!;
    for (const entityId of entityIds) {
      if (queryEntityWeight.has(entityId)) continue;
      const previous = entityStrength.get(entityId);
      if (!previous || previous.strength < seed.strength)
        entityStrength.set(entityId, { strength: seed.strength, seed: seed.id });
    }
  });
  if (entityStrength.size > 0) {
    const entityIds = [...entityStrength.keys()];
    const { memories, mentions: counts } = await store.entityMentionCounts(agentId, entityIds);
    const specific = entityIds.filter((_, i) => counts[i]! <= memories * COMMON_ENTITY_SHARE);
    const specificity = new Map(entityIds.map((id, i) => [id, entitySpecificity(counts[i]!, memories)]));
    if (specific.length > 0) {
      for (const hit of await store.memoriesMentioning(agentId, specific, depth, filter, now)) {
        for (const entityId of hit.entityIds) {
          const source = entityStrength.get(entityId)!;
          if (source.seed !== hit.id) {
            entry(hit.id).graph +=
              GRAPH_EVIDENCE.sharedEntityWithHit * source.strength * specificity.get(entityId)!;
          }
        }
      }
    }
  }

  // Session neighbours (FOLLOWS either way) and derivations of a seed.
  for (const link of links) {
    const fromSeed = strengthOf.get(link.fromId);
    const toSeed = strengthOf.get(link.toId);
    const weight =
      link.type === "FOLLOWS" ? GRAPH_EVIDENCE.sessionNeighbourOfHit : GRAPH_EVIDENCE.derivationOfHit;
    if (fromSeed !== undefined && link.toId !== link.fromId) entry(link.toId).graph += weight * fromSeed;
    if (toSeed !== undefined && link.toId !== link.fromId) entry(link.fromId).graph += weight * toSeed;
  }
}
