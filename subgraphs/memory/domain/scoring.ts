/**
 * How a recall candidate is scored: each signal maps what the retrieval stage found to a number
 * in [0, 1], and the fused score is the weighted mean of those numbers over the signals that
 * have something to say for this query. Signals are a list of small objects, so adding one
 * means adding an entry here and a weight in the configuration; nothing else changes.
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
  /** How well `occurredAt` fits the time the query names (0..1; 0 without a time cue). */
  timeMatch?: number;
  /** What the agent said about this memory (`reinforceMemory`) and how often recall returned it. */
  usage?: MemoryUsage;
  /**
   * The best BM25 score among the candidates of this memory's session (its own included); 0
   * without a session. How strongly the query's words are matched in the conversation it is from.
   */
  sessionBm25?: number;
}

export interface MemoryUsage {
  useful: number;
  notUseful: number;
  accessCount: number;
}

/** How a raw retriever score becomes 0..1, per query. */
export type Normalisation = "absolute" | "max" | "minmax" | "floor" | "rank";

export interface ScoringContext {
  /** Milliseconds since the epoch at which recency is measured (now, or `asOf`). */
  at: number;
  halfLifeHours: number;
  /** False when the query has no vector: the semantic signal then sits out of the fusion. */
  hasQueryVector: boolean;
  /** True when the query names a time ("in May", "last year"): the temporal signal takes part. */
  hasTimeCue?: boolean;
  /** True once the agent has given feedback: the feedback signal takes part. */
  hasFeedback?: boolean;
  /** True when some candidate's session holds a word match: the session signal takes part. */
  hasSessionWords?: boolean;
  /** Per-query normalisers of the two retriever scores (see `normalisers`). */
  semantic?: (cosine: number) => number;
  lexical?: (bm25: number) => number;
  /** The best BM25 score among all candidates (used when `lexical` is not given). */
  maxBm25?: number;
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
 * A query naming an entity the memory mentions is the strongest hint (scaled by how specific
 * the entity is: see `entitySpecificity`); being connected to a strong hit (same session,
 * same entity, derived from it) is weaker and scaled by how strong that hit was.
 */
export const GRAPH_EVIDENCE = {
  queryEntity: 1.5,
  querySubject: 1,
  relatedEntity: 0.6,
  sharedEntityWithHit: 0.3,
  sessionNeighbourOfHit: 1.2,
  derivationOfHit: 0.6,
};

/**
 * How each retriever's raw score is normalised per query before fusion. Cosine similarity of
 * this embedder's sentence vectors sits in a narrow band whose position varies by query, so it
 * is stretched over the query's candidates (min-max); BM25 has no fixed scale at all, so it is
 * stretched the same way (the best match gets 1, the weakest match just above 0). Rank-based
 * (reciprocal rank) normalisation throws away how far apart the scores are and measured worse.
 */
export const NORMALISATION = {
  semantic: "minmax" as Normalisation,
  lexical: "minmax" as Normalisation,
  /**
   * Below this many scored candidates a range says little (two memories: min-max would make one
   * 1 and the other 0 however close they are), so the absolute forms are used: cosine as is, and
   * BM25 divided by its best.
   */
  minimumForRange: 10,
  /** For "rank": value = c / (c + rank), the reciprocal-rank form (RRF uses c = 60). */
  rankConstant: 60,
};

const clamp01 = (value: number) => (Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0);

/**
 * A normaliser for one query's raw scores. Values that were not retrieved (0 BM25, no vector)
 * map to 0 whatever the method.
 */
export function normaliser(method: Normalisation, values: readonly number[]): (value: number) => number {
  const present = values.filter((value) => Number.isFinite(value));
  switch (method) {
    case "absolute":
      return (value) => clamp01(value);
    case "max": {
      const max = present.reduce((best, value) => Math.max(best, value), 0);
      return (value) => (max > 0 ? clamp01(value / max) : 0);
    }
    case "minmax": {
      const positive = present.filter((value) => value > 0);
      if (positive.length === 0) return () => 0;
      const max = Math.max(...positive);
      const min = Math.min(...positive);
      // One candidate, or all equal: nothing to stretch, keep the absolute value.
      if (max - min < 1e-9) return (value) => clamp01(value);
      return (value) => (value > 0 ? clamp01((value - min) / (max - min)) : 0);
    }
    case "floor": {
      // Stretched from the weakest candidate up to a perfect 1 (for scores bounded by 1, like
      // cosine): near-equal scores stay near-equal, unlike min-max, which forces the best to 1.
      const positive = present.filter((value) => value > 0);
      if (positive.length === 0) return () => 0;
      const min = positive.length > 1 ? Math.min(...positive) : 0;
      return (value) => (value > 0 && min < 1 ? clamp01((value - min) / (1 - min)) : clamp01(value));
    }
    case "rank": {
      const sorted = present.filter((value) => value > 0).sort((a, b) => b - a);
      const c = NORMALISATION.rankConstant;
      return (value) => {
        if (!(value > 0)) return 0;
        let low = 0;
        let high = sorted.length;
        while (low < high) {
          const mid = (low + high) >>> 1;
          if (sorted[mid]! > value) low = mid + 1;
          else high = mid;
        }
        return c / (c + low);
      };
    }
  }
}

/** The two per-query normalisers, from the candidates' raw scores. */
export function normalisers(
  candidates: readonly Pick<CandidateEvidence, "cosine" | "bm25">[],
  methods: { semantic: Normalisation; lexical: Normalisation } = NORMALISATION,
): { semantic: (cosine: number) => number; lexical: (bm25: number) => number } {
  const cosines = candidates.map((candidate) => candidate.cosine ?? 0);
  const bm25s = candidates.map((candidate) => candidate.bm25);
  const enough = (values: number[]) =>
    values.filter((value) => value > 0).length >= NORMALISATION.minimumForRange;
  return {
    semantic: normaliser(enough(cosines) ? methods.semantic : "absolute", cosines),
    lexical: normaliser(enough(bm25s) ? methods.lexical : "max", bm25s),
  };
}

/**
 * The feedback prior: 0.5 for a memory nobody judged; each "useful" pushes it towards 1 and
 * each "not useful" towards 0 (a logistic of their difference), and being recalled often
 * adds a little (log of the access count), like the base-level activation of a memory that is
 * used. Saturating, so no single memory can run away with the ranking.
 */
export const FEEDBACK_PRIOR = { perVote: 1, perLogAccess: 0.15 };

export function feedbackValue(usage: MemoryUsage | undefined): number {
  if (!usage) return 0.5;
  const evidence =
    FEEDBACK_PRIOR.perVote * (usage.useful - usage.notUseful) +
    FEEDBACK_PRIOR.perLogAccess * Math.log1p(usage.accessCount);
  return 1 / (1 + Math.exp(-evidence));
}

export const SIGNAL_REGISTRY: readonly Signal[] = [
  {
    name: "semantic",
    active: (context) => context.hasQueryVector,
    // Negative similarity means "unrelated": it never counts for a memory.
    score: (candidate, context) =>
      candidate.cosine === null ? 0 : clamp01((context.semantic ?? clamp01)(candidate.cosine)),
  },
  {
    name: "lexical",
    active: () => true,
    score: (candidate, context) => {
      if (context.lexical) return clamp01(context.lexical(candidate.bm25));
      return context.maxBm25 && context.maxBm25 > 0 ? clamp01(candidate.bm25 / context.maxBm25) : 0;
    },
  },
  {
    name: "graph",
    active: () => true,
    score: (candidate) => clamp01(1 - Math.exp(-candidate.graph)),
  },
  {
    name: "temporal",
    active: (context) => context.hasTimeCue === true,
    score: (candidate) => clamp01(candidate.timeMatch ?? 0),
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
  {
    name: "feedback",
    active: (context) => context.hasFeedback === true,
    score: (candidate) => clamp01(feedbackValue(candidate.usage)),
  },
  {
    // A question's answer is often a turn near its words rather than the turn that repeats them
    // ("When did she go?" / "Yesterday!"): the session's best word match, on the lexical scale.
    name: "session",
    active: (context) => context.hasSessionWords === true,
    score: (candidate, context) => {
      const bm25 = candidate.sessionBm25 ?? 0;
      if (context.lexical) return clamp01(context.lexical(bm25));
      return context.maxBm25 && context.maxBm25 > 0 ? clamp01(bm25 / context.maxBm25) : 0;
    },
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
  const weightOf = (name: SignalName) => weights[name] ?? 0;
  const active = signals.filter((signal) => signal.active(context) && weightOf(signal.name) > 0);
  const totalWeight = active.reduce((sum, signal) => sum + weightOf(signal.name), 0);
  return candidates.map((candidate) => {
    const components = Object.fromEntries(SIGNALS.map((name) => [name, 0])) as ScoreComponents;
    let weighted = 0;
    for (const signal of signals) {
      if (!signal.active(context)) continue;
      const value = signal.score(candidate, context);
      components[signal.name] = value;
      if (weightOf(signal.name) > 0) weighted += weightOf(signal.name) * value;
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
