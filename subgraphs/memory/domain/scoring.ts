/**
 * How a recall candidate is scored: each signal maps what the retrieval stage found to a number
 * in [0, 1], and the fused score is the weighted mean of those numbers. Signals are a list of
 * small objects, so adding one (a learned feedback prior, a temporal-validity boost) means
 * adding an entry here and a weight in the configuration; nothing else changes.
 *
 * See docs/retrieval.md for the reasoning behind each normalisation.
 */
import type { MemoryRecord, RecallWeights, ScoreComponents, SignalName } from "./model.js";
import { SIGNALS } from "./model.js";

/** What the retrieval stage knows about one candidate, in raw (un-normalised) form. */
export interface CandidateEvidence {
  record: MemoryRecord;
  /** Cosine similarity to the query vector; null when either side has no vector. */
  cosine: number | null;
  /** BM25 score (higher is better); 0 when the full-text search did not return it. */
  bm25: number;
  /** Accumulated graph evidence (see GRAPH_EVIDENCE); 0 when unconnected. */
  graph: number;
}

export interface ScoringContext {
  /** The best BM25 score among all candidates (for max-normalisation). */
  maxBm25: number;
  /** Milliseconds since the epoch at which recency is measured (now, or `asOf`). */
  at: number;
  halfLifeHours: number;
  /** False when the query has no vector: the semantic signal then sits out of the fusion. */
  hasQueryVector: boolean;
}

export interface Signal {
  readonly name: SignalName;
  /** Whether the signal has anything to say for this query (else its weight is left out). */
  active(context: ScoringContext): boolean;
  /** A value in [0, 1]. */
  score(candidate: CandidateEvidence, context: ScoringContext): number;
}

/**
 * How much one piece of graph evidence counts before saturation (graph = 1 - e^-sum).
 * A query naming an entity the memory mentions is the strongest hint; being connected to a
 * strong hit (same entity, same session, derived from it) is weaker and scaled by how strong
 * that hit was.
 */
export const GRAPH_EVIDENCE = {
  queryEntity: 1.5,
  relatedEntity: 0.6,
  sharedEntityWithHit: 0.6,
  sessionNeighbourOfHit: 0.6,
  derivationOfHit: 0.6,
} as const;

const clamp01 = (value: number) => (Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0);

export const SIGNAL_REGISTRY: readonly Signal[] = [
  {
    name: "semantic",
    active: (context) => context.hasQueryVector,
    // Cosine is already absolute and comparable across queries; negative similarity means "unrelated".
    score: (candidate) => clamp01(candidate.cosine ?? 0),
  },
  {
    name: "lexical",
    active: () => true,
    // BM25 has no fixed scale (it grows with query length and rare terms), so it is divided by
    // the best score of this query: the best keyword match gets 1.
    score: (candidate, context) => (context.maxBm25 > 0 ? clamp01(candidate.bm25 / context.maxBm25) : 0),
  },
  {
    name: "graph",
    active: () => true,
    score: (candidate) => clamp01(1 - Math.exp(-candidate.graph)),
  },
  {
    name: "recency",
    active: () => true,
    // Exponential decay: 1 now, 0.5 one half-life ago. Future events count as now.
    score: (candidate, context) => {
      const ageHours = Math.max(0, context.at - Date.parse(candidate.record.occurredAt)) / 3_600_000;
      return clamp01(2 ** (-ageHours / context.halfLifeHours));
    },
  },
  {
    name: "importance",
    active: () => true,
    score: (candidate) => clamp01(candidate.record.importance),
  },
];

export interface ScoredCandidate {
  record: MemoryRecord;
  score: number;
  components: ScoreComponents;
}

/** Scores every candidate: components per signal, and their weighted mean over active signals. */
export function scoreCandidates(
  candidates: readonly CandidateEvidence[],
  weights: RecallWeights,
  context: ScoringContext,
  signals: readonly Signal[] = SIGNAL_REGISTRY,
): ScoredCandidate[] {
  const active = signals.filter((signal) => signal.active(context) && weights[signal.name] > 0);
  const totalWeight = active.reduce((sum, signal) => sum + weights[signal.name], 0);
  return candidates.map((candidate) => {
    const components = Object.fromEntries(SIGNALS.map((name) => [name, 0])) as ScoreComponents;
    let weighted = 0;
    for (const signal of signals) {
      if (!signal.active(context)) continue;
      const value = signal.score(candidate, context);
      components[signal.name] = value;
      if (weights[signal.name] > 0) weighted += weights[signal.name] * value;
    }
    return { record: candidate.record, score: totalWeight > 0 ? weighted / totalWeight : 0, components };
  });
}

/** Best first; ties go to the more recent memory, then the id (so results are deterministic). */
export function rank(scored: ScoredCandidate[]): ScoredCandidate[] {
  return scored.sort(
    (a, b) =>
      b.score - a.score ||
      b.record.occurredAt.localeCompare(a.record.occurredAt) ||
      a.record.id.localeCompare(b.record.id),
  );
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
