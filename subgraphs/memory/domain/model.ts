/**
 * The memory model as the domain and the stores see it. GraphQL types mirror these records;
 * access statistics (`lastAccessedAt`, `accessCount`) are kept apart because they change on
 * every recall and are therefore never cached with the rest of a memory.
 */

export const MEMORY_KINDS = ["EPISODIC", "SEMANTIC", "PROCEDURAL"] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

export const MODALITIES = ["TEXT", "IMAGE", "AUDIO", "VIDEO", "SENSOR"] as const;
export type Modality = (typeof MODALITIES)[number];

export type JsonObject = Record<string, unknown>;

export interface MemoryRecord {
  id: string;
  agentId: string;
  content: string;
  kind: MemoryKind;
  tags: string[];
  /** 0..1 */
  importance: number;
  /** ISO 8601 */
  createdAt: string;
  /** When it happened; defaults to createdAt. */
  occurredAt: string;
  metadata: JsonObject | null;
  modality: Modality;
  mediaUri: string | null;
  caption: string | null;
  validFrom: string | null;
  validUntil: string | null;
  sessionId: string | null;
  /** Never removed by forgetting, capacity eviction or consolidation. */
  pinned: boolean;
  /** Set on a memory that consolidation merged near-duplicates into: what it stands for. */
  consolidation: ConsolidationEvidence | null;
  /**
   * Every surface form merged into this memory (a repeat, a paraphrase), oldest first, so that
   * nothing a client wrote disappears in a merge. Empty for a memory nothing was merged into.
   */
  variants: MemoryVariant[];
}

/** One wording of a merged memory, with when and how often it was written. */
export interface MemoryVariant {
  content: string;
  caption: string | null;
  metadata: JsonObject | null;
  /** How many writes (or consolidated memories) had exactly this wording. */
  occurrences: number;
  firstOccurredAt: string;
  lastOccurredAt: string;
}

export interface ConsolidationEvidence {
  /** Ids of the memories merged into this one (they no longer exist). */
  sourceIds: string[];
  /** How many memories this one now stands for, itself included. */
  count: number;
  /** The span of their occurredAt. */
  firstOccurredAt: string;
  lastOccurredAt: string;
}

export interface AccessStats {
  lastAccessedAt: string | null;
  accessCount: number;
  /** `reinforceMemory` votes. */
  usefulCount: number;
  notUsefulCount: number;
}

export interface EntityRecord {
  id: string;
  agentId: string;
  name: string;
  /** Lower-case, accents folded, whitespace collapsed: two names that normalise alike are one entity. */
  normalizedName: string;
  type: string;
  createdAt: string;
}

export interface RelationRecord {
  fromId: string;
  toId: string;
  type: string;
}

/**
 * Links between memories: FOLLOWS (the previous memory of a session), DERIVED_FROM,
 * CONTRADICTS (same subject and relation, another value or polarity; from the newer write to
 * the memory it contradicts) and SUPERSEDES (from the newer fact to the one it replaced).
 */
export const MEMORY_LINK_TYPES = ["FOLLOWS", "DERIVED_FROM", "CONTRADICTS", "SUPERSEDES"] as const;
export type MemoryLinkType = (typeof MEMORY_LINK_TYPES)[number];

/**
 * What a write does when it contradicts a valid memory: keep both (linked), or end the validity
 * of the one that happened first at the moment the other happened (a temporal update).
 */
export const CONTRADICTION_POLICIES = ["KEEP_BOTH", "INVALIDATE_OLDER"] as const;
export type ContradictionPolicy = (typeof CONTRADICTION_POLICIES)[number];

/**
 * Filters shared by `Agent.memories` and `recall`. Time bounds apply to `occurredAt`.
 * `asOf` evaluates validity at that instant (and hides memories created after it) instead of now.
 */
export interface MemoryFilter {
  kinds?: MemoryKind[];
  /** Memories carrying at least one of these tags. */
  tags?: string[];
  modalities?: Modality[];
  occurredAfter?: string;
  occurredBefore?: string;
  sessionId?: string;
  includeInvalid?: boolean;
  asOf?: string;
}

/** The per-agent memory configuration (`configureMemory`). */
export interface MemoryConfig {
  weights: RecallWeights;
  /** Recency halves every this many hours. */
  recencyHalfLifeHours: number;
  /**
   * Below 1: a new memory that states the same thing as a valid one (same canonical statement,
   * domain/statements.ts) is merged into it. 1: only the same normalised text is merged.
   */
  dedupThreshold: number;
  contradictionPolicy: ContradictionPolicy;
  /** Most memories kept for the agent; null for no limit. */
  capacity: number | null;
  forgetting: ForgettingPolicy;
  /** Step size of the online update of the fusion weights from feedback (0 turns learning off). */
  learningRate: number;
  /** Fusion weights learned from feedback; null until the first feedback (or after a reset). */
  learned: LearnedWeights | null;
}

/** When memories are forgotten (pinned ones never are). Each rule is off when null. */
export interface ForgettingPolicy {
  /** Forget memories whose occurredAt is older than this. */
  maxAgeHours: number | null;
  /** Forget memories no recall has returned for this long (counted from creation if never). */
  inactiveHours: number | null;
  /** Forget memories whose importance is below this. */
  minImportance: number | null;
}

export interface LearnedWeights {
  weights: RecallWeights;
  /** The logistic model's intercept. */
  bias: number;
  /** How many feedback events shaped these weights. */
  updates: number;
}

export const SIGNALS = [
  "semantic",
  "lexical",
  "graph",
  "temporal",
  "recency",
  "importance",
  "feedback",
  "session",
] as const;
export type SignalName = (typeof SIGNALS)[number];
export type RecallWeights = Record<SignalName, number>;
export type ScoreComponents = Record<SignalName, number>;

export const NO_FORGETTING: ForgettingPolicy = {
  maxAgeHours: null,
  inactiveHours: null,
  minImportance: null,
};

export const DEFAULT_MEMORY_CONFIG: MemoryConfig = {
  // Connections (entities the query names, the speaker, session neighbours of strong hits) first,
  // then words and meaning, then the session of the best word matches; time cues when the query
  // names a time; recency, importance and feedback break near-ties. Chosen on the LoCoMo development split by leave-one-conversation-out
  // cross-validation with the default ONNX model: these are the weights fitted on all four
  // conversations, and the figures a held-out conversation gets are in docs/retrieval.md.
  weights: {
    semantic: 0.5,
    lexical: 0.5,
    graph: 1,
    temporal: 0.6,
    recency: 0.1,
    importance: 0.05,
    feedback: 0.3,
    session: 0.25,
  },
  recencyHalfLifeHours: 24 * 7,
  dedupThreshold: 0.97,
  contradictionPolicy: "KEEP_BOTH",
  capacity: null,
  forgetting: NO_FORGETTING,
  learningRate: 0.05,
  learned: null,
};

/** A stored configuration may predate newer settings: defaults fill what it lacks. */
export function withConfigDefaults(stored: Partial<MemoryConfig> | null): MemoryConfig {
  if (!stored) return DEFAULT_MEMORY_CONFIG;
  return {
    ...DEFAULT_MEMORY_CONFIG,
    ...stored,
    weights: { ...DEFAULT_MEMORY_CONFIG.weights, ...stored.weights },
    forgetting: { ...NO_FORGETTING, ...stored.forgetting },
    learned: stored.learned
      ? { ...stored.learned, weights: { ...DEFAULT_MEMORY_CONFIG.weights, ...stored.learned.weights } }
      : null,
  };
}
