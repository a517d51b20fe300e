/**
 * A recall: gather candidates from every retriever (vector, full-text, entities named in the
 * query), expand through the graph from the strongest of them (shared entities, session
 * neighbours, derivations), load the candidates once, then score and rank them (scoring.ts).
 *
 * The store is asked only for ids and raw scores; all ranking happens here, identically for
 * every adapter.
 */
import type { MemoryStore } from "../store/port.js";
import type { MemoryConfig, MemoryFilter, RecallWeights } from "./model.js";
import {
  type CandidateEvidence,
  cosineSimilarity,
  GRAPH_EVIDENCE,
  rank,
  type ScoredCandidate,
  scoreCandidates,
} from "./scoring.js";
import { nameCandidates, searchTerms } from "./text.js";

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
}

/** How deep each retriever looks, relative to k: enough that fusion can reorder, small enough to stay fast. */
export const RETRIEVAL_DEPTH = { factor: 5, minimum: 50 } as const;
/** How many of the best first-stage hits seed the graph expansion. */
export const GRAPH_SEEDS = 5;

export async function recallMemories(store: MemoryStore, request: RecallRequest): Promise<ScoredCandidate[]> {
  const { agentId, filter, now } = request;
  const depth = Math.max(RETRIEVAL_DEPTH.minimum, request.k * RETRIEVAL_DEPTH.factor);

  // Stage 1: independent retrievers, in parallel.
  const [vectorHits, textHits, queryEntities] = await Promise.all([
    request.vector ? store.vectorSearch(agentId, request.vector, depth, filter, now) : Promise.resolve([]),
    store.textSearch(agentId, searchTerms(request.query), depth, filter, now),
    store.entitiesByName(agentId, nameCandidates(request.query)),
  ]);

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
  for (const hit of textHits) entry(hit.id).bm25 = hit.score;
  const maxBm25 = textHits.reduce((max, hit) => Math.max(max, hit.score), 0);

  // Entities named in the query, and entities one RELATED hop from them.
  const queryEntityIds = new Set(queryEntities.map((entity) => entity.id));
  const relatedEntityIds = new Set<string>();
  if (queryEntityIds.size > 0) {
    for (const relation of await store.relations([...queryEntityIds])) {
      for (const id of [relation.fromId, relation.toId])
        if (!queryEntityIds.has(id)) relatedEntityIds.add(id);
    }
    const mentioning = await store.memoriesMentioning(
      agentId,
      [...queryEntityIds, ...relatedEntityIds],
      depth,
      filter,
      now,
    );
    for (const hit of mentioning) {
      for (const entityId of hit.entityIds) {
        entry(hit.id).graph += queryEntityIds.has(entityId)
          ? GRAPH_EVIDENCE.queryEntity
          : GRAPH_EVIDENCE.relatedEntity;
      }
    }
  }

  // Stage 2: expand from the strongest first-stage hits (by meaning and words only).
  const seedStrength = (e: { cosine: number | null; bm25: number }) => {
    const { semantic, lexical } = request.weights;
    const lexicalValue = maxBm25 > 0 ? e.bm25 / maxBm25 : 0;
    const semanticValue = Math.max(0, e.cosine ?? 0);
    const total = (request.vector ? semantic : 0) + lexical;
    return total > 0 ? ((request.vector ? semantic * semanticValue : 0) + lexical * lexicalValue) / total : 0;
  };
  const seeds = [...evidence.entries()]
    .map(([id, e]) => ({ id, strength: seedStrength(e) }))
    .filter((seed) => seed.strength > 0)
    .sort((a, b) => b.strength - a.strength)
    .slice(0, GRAPH_SEEDS);
  if (seeds.length > 0) await expandFromSeeds(store, request, seeds, depth, entry);

  // Stage 3: load every candidate once (the filter is applied again: graph neighbours were not
  // filtered), with vectors only for those the vector search did not score.
  const missingCosine = new Set(
    request.vector ? [...evidence].filter(([, e]) => e.cosine === null).map(([id]) => id) : [],
  );
  const candidates = await store.candidates(agentId, [...evidence.keys()], filter, now, missingCosine);
  const scored: CandidateEvidence[] = candidates.map((candidate) => {
    const e = evidence.get(candidate.record.id)!;
    // Candidates found by words or the graph get their exact similarity too, so every hit is comparable.
    const cosine =
      e.cosine ??
      (request.vector && candidate.embedding ? cosineSimilarity(request.vector, candidate.embedding) : null);
    return { record: candidate.record, cosine, bm25: e.bm25, graph: e.graph };
  });

  const at = Date.parse(filter.asOf ?? now);
  const ranked = rank(
    scoreCandidates(scored, request.weights, {
      maxBm25,
      at,
      halfLifeHours: request.config.recencyHalfLifeHours,
      hasQueryVector: request.vector !== null,
    }),
  );
  return ranked.slice(0, request.k);
}

async function expandFromSeeds(
  store: MemoryStore,
  request: RecallRequest,
  seeds: { id: string; strength: number }[],
  depth: number,
  entry: (id: string) => { graph: number },
): Promise<void> {
  const { agentId, filter, now } = request;
  const seedIds = seeds.map((seed) => seed.id);
  const strengthOf = new Map(seeds.map((seed) => [seed.id, seed.strength]));
  const [mentions, links] = await Promise.all([store.mentions(seedIds), store.links(seedIds)]);

  // Memories sharing an entity with a seed: each shared entity adds evidence scaled by the seed's strength.
  const entityStrength = new Map<string, { strength: number; seed: string }>();
  mentions.forEach((entityIds, index) => {
    const seed = seeds[index]!;
    for (const entityId of entityIds) {
      const previous = entityStrength.get(entityId);
      if (!previous || previous.strength < seed.strength)
        entityStrength.set(entityId, { strength: seed.strength, seed: seed.id });
    }
  });
  if (entityStrength.size > 0) {
    const sharing = await store.memoriesMentioning(agentId, [...entityStrength.keys()], depth, filter, now);
    for (const hit of sharing) {
      for (const entityId of hit.entityIds) {
        const source = entityStrength.get(entityId)!;
        if (source.seed !== hit.id)
          entry(hit.id).graph += GRAPH_EVIDENCE.sharedEntityWithHit * source.strength;
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
