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
}

export interface AccessStats {
  lastAccessedAt: string | null;
  accessCount: number;
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

/** What the store needs to find a memory's neighbours in the graph. */
export type MemoryLinkType = "FOLLOWS" | "DERIVED_FROM";

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
  /** Cosine similarity at or above which a new memory is merged into an existing one; 1 disables near-duplicate merging. */
  dedupThreshold: number;
  /** Most memories kept for the agent; null for no limit. */
  capacity: number | null;
}

export const SIGNALS = ["semantic", "lexical", "graph", "recency", "importance"] as const;
export type SignalName = (typeof SIGNALS)[number];
export type RecallWeights = Record<SignalName, number>;
export type ScoreComponents = Record<SignalName, number>;

export const DEFAULT_MEMORY_CONFIG: MemoryConfig = {
  // Meaning first, then exact words and connections; recency and importance break near-ties.
  weights: { semantic: 0.45, lexical: 0.25, graph: 0.15, recency: 0.1, importance: 0.05 },
  recencyHalfLifeHours: 24 * 7,
  dedupThreshold: 0.97,
  capacity: null,
};
