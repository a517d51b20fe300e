/**
 * The MemoryStore port: everything the memory subgraph needs from its store of record. Two
 * adapters implement it (SQLite with sqlite-vec and FTS5; Neo4j with its vector and full-text
 * indexes) and one contract suite (test/contract/memory-store.contract.ts) tests both.
 *
 * It lives in the domain, next to the code that uses it: the adapters depend on the domain,
 * never the other way. The rules of a write (dedup, merge, supersede, contradictions, links,
 * eviction) are the domain's (domain/write-plan.ts); an adapter reads what a write asks for and
 * applies what it decided.
 *
 * The store finds and returns candidates; it does not rank. Scoring lives in the domain
 * (domain/scoring.ts), so both adapters rank identically and a new signal needs no Cypher or SQL.
 */
import type { Revisioned, RevisionProbe } from "../../../core/store/revisioned.js";
import type {
  AccessStats,
  EntityRecord,
  MemoryConfig,
  MemoryFilter,
  MemoryLinkType,
  MemoryRecord,
  RelationRecord,
  ScoreComponents,
} from "../domain/model.js";

export interface NewEntity {
  name: string;
  normalizedName: string;
  type: string;
}

export interface NewRelation {
  /** Normalised entity names; both are among the item's entities. */
  from: string;
  to: string;
  type: string;
}

export interface NewMemory {
  record: MemoryRecord;
  /** Fingerprint of the normalised text: equal hashes are exact duplicates. */
  contentHash: string;
  /** Fingerprint of the canonical statement (domain/statements.ts): equal keys say the same thing. */
  statementKey: string;
  /** Fingerprint of the frame and subject: memories that may contradict this one share it; null when it has none. */
  frameKey: string | null;
  /** What the full-text index sees (the caption for non-text memories). */
  searchText: string;
  /** Unit-length; null when no embedder is configured and the client sent none. */
  embedding: Float32Array | null;
  /**
   * Whether `embedding` was made by the model from this memory's text (not sent by the client):
   * such a vector is stored mixed with its session's context (domain/session-context.ts).
   */
  embeddingFromModel: boolean;
  entities: NewEntity[];
  relations: NewRelation[];
  /** Ids of this agent's memories this one was derived from. */
  derivedFrom: string[];
  /** An older memory of the agent this one replaces: it is invalidated at this one's occurredAt. */
  supersedes?: string | null;
}

/**
 * What a write must read before it can decide, inside its own transaction once it holds the
 * agent's write lock (domain/write-plan.ts builds it; both adapters answer it the same way).
 */
export interface WriteQuery {
  agentId: string;
  /** The instant validity is judged at (ISO 8601). */
  now: string;
  /** Valid memories with any of these content hashes, statement keys or frame keys. */
  contentHashes: string[];
  statementKeys: string[];
  frameKeys: string[];
  /** Memories of the agent by id, valid or not (derivedFrom and supersedes targets). */
  referencedIds: string[];
  /** The latest memory of each of these sessions (what a new memory FOLLOWS). */
  sessionIds: string[];
  /** How many of the agent's unpinned memories to list in eviction order (0: none). */
  evictionCandidates: number;
}

/** A stored memory as the write algorithm compares it. */
export interface StoredStatement {
  record: MemoryRecord;
  contentHash: string;
  /** Null for memories written before statement keys existed. */
  statementKey: string | null;
  frameKey: string | null;
}

/** The answer to a WriteQuery, read under the agent's write lock. */
export interface WriteSnapshot {
  /** The agent's memory revision after this write; everything it touches carries it. */
  revision: number;
  /** How many memories the agent had before this write. */
  memoryCount: number;
  /** Valid memories matching a content hash, statement key or frame key of the query. */
  matches: StoredStatement[];
  /** The referenced memories that exist for this agent. */
  referenced: MemoryRecord[];
  /** The latest memory of each session of the query, with its stored vector (null: it has none). */
  sessionHeads: { sessionId: string; id: string; embedding: Float32Array | null }[];
  /** Unpinned memories, least valuable first (lowest importance, then least recently used, then oldest). */
  evictionOrder: string[];
}

/** What a write changes, decided by the domain from the snapshot; the adapter applies it as given. */
export interface WritePlan {
  /** New memories, in this order. */
  creates: NewMemory[];
  /** Existing memories as they are after merging (their variants, tags, importance, occurredAt, metadata). */
  merges: MemoryRecord[];
  /** Entities to create or find by normalised name, mentioned by a created or merged memory. */
  mentions: { memoryId: string; entities: NewEntity[]; relations: NewRelation[] }[];
  links: MemoryLink[];
  invalidations: { id: string; validUntil: string }[];
  /** Memories evicted to stay within the capacity. */
  deletions: string[];
  /** One per input item, in input order. */
  outcomes: WriteOutcome[];
}

export type RememberOutcomeKind = "CREATED" | "MERGED" | "SUPERSEDED";

export interface WriteOutcome {
  outcome: RememberOutcomeKind;
  memory: MemoryRecord;
  /** Valid memories this one contradicts (linked CONTRADICTS), as they were before this write. */
  contradicts: string[];
}

export interface WriteResult {
  plan: WritePlan;
  /** The agent's memory revision after this write; every memory and entity it touched carries it. */
  revision: number;
  /** Memories invalidated by this write (supersedes, or the contradiction policy), as they are now. */
  invalidated: MemoryRecord[];
  /** Entities created or linked by this write. */
  entityIds: string[];
  /** True when the agent had no memories before this write. */
  firstMemories: boolean;
}

export interface AccessUpdate {
  id: string;
  count: number;
  at: string;
  /** The score components of the latest recall that returned it (kept for feedback learning). */
  components?: ScoreComponents;
}

export interface ForgetRules {
  /** ISO 8601 instants and thresholds; null switches a rule off. */
  occurredBefore: string | null;
  inactiveSince: string | null;
  minImportance: number | null;
  capacity: number | null;
}

export interface RemovalResult {
  removed: string[];
  removedEntities: string[];
  revision: number;
  remaining: number;
}

export interface ConsolidationMerge {
  keep: MemoryRecord;
  remove: string[];
}

export interface ScoredId {
  id: string;
  score: number;
}

export interface Candidate {
  record: MemoryRecord;
  /** Null for memories stored without a vector. */
  embedding: Float32Array | null;
}

export interface MemoryLink {
  fromId: string;
  toId: string;
  type: MemoryLinkType;
}

export interface Page<T> {
  items: { node: T; cursor: number }[];
  hasNextPage: boolean;
  totalCount: number;
}

/** `derivedFrom` or `supersedes` names a memory the agent does not have. Nothing was written. */
export class UnknownMemoryError extends Error {
  constructor(
    readonly memoryId: string,
    /** The input field that named it. */
    readonly argument: "derivedFrom" | "supersedes" = "derivedFrom",
  ) {
    super(`memory ${memoryId} does not exist for this agent`);
    this.name = "UnknownMemoryError";
  }
}

/** The store was created with vectors of another size than the configured embedder produces. */
export class DimensionMismatchError extends Error {
  constructor(
    readonly stored: number,
    readonly configured: number,
  ) {
    super(
      `the memory store holds ${stored}-dimensional embeddings but the configured embedder produces ` +
        `${configured} dimensions; use the embedder the store was created with, or a new DATA_DIR / database`,
    );
    this.name = "DimensionMismatchError";
  }
}

/** Which model made a store's vectors: the embedder's model id and its vector size. */
export interface EmbeddingModel {
  id: string;
  dimensions: number;
}

/**
 * The store's vectors come from another model than the configured embedder: their vectors are
 * not comparable, so the two are never mixed.
 */
export class EmbeddingModelMismatchError extends Error {
  constructor(
    readonly stored: EmbeddingModel,
    readonly configured: EmbeddingModel,
  ) {
    super(
      `the memory store's vectors were made by "${stored.id}" (${stored.dimensions} d), but the configured ` +
        `embedder is "${configured.id}" (${configured.dimensions} d); vectors of two models are never mixed. ` +
        "Re-embed the store with the configured model (`npm run reembed`, which a server on the old model " +
        "may keep serving through), or configure the model the store was made with (EMBEDDINGS_PROVIDER, EMBEDDINGS_MODEL_PATH)",
    );
    this.name = "EmbeddingModelMismatchError";
  }
}

/** Where a store stands with its embedding model, and a re-embedding under way. */
export interface ReembedStatus {
  /** The model of the vectors recall uses now (null: not recorded yet). */
  model: EmbeddingModel | null;
  /** The model a re-embedding is filling vectors for; null when none is under way. */
  target: EmbeddingModel | null;
  memories: number;
  /** Memories that already have a vector from the target. */
  done: number;
}

/**
 * What re-embedding needs of a memory: its id, the text it is embedded from (decrypted), and the
 * memory it follows in its session with that one's target vector when it already has one.
 */
export interface MemoryToEmbed {
  id: string;
  content: string;
  caption: string | null;
  follows: { id: string; vector: Float32Array | null } | null;
}

export interface MemoryStore {
  /** Vector size recorded when the store was created. */
  readonly dimensions: number;

  /** Memories by id (batched); `revision` is the memory's own, 0 when it does not exist. */
  getMemories(ids: readonly string[]): Promise<Revisioned<MemoryRecord>[]>;
  getEntities(ids: readonly string[]): Promise<Revisioned<EntityRecord>[]>;
  /**
   * The revisions `getMemories` and `getEntities` would return now, answered synchronously:
   * only a store in this process (SQLite) has them (see core/cache/near-cache.ts).
   */
  readonly memoryRevisions?: RevisionProbe;
  readonly entityRevisions?: RevisionProbe;
  /** Access statistics are read fresh (never cached): they change on every recall. */
  accessStats(ids: readonly string[]): Promise<(AccessStats | null)[]>;
  /** Newest first; `after` is a cursor returned by a previous page. */
  listMemories(
    agentId: string,
    first: number,
    after: number | undefined,
    filter: MemoryFilter,
    now: string,
  ): Promise<Page<MemoryRecord>>;
  listEntities(agentId: string, first: number, after: number | undefined): Promise<Page<EntityRecord>>;
  /** Entity ids each memory mentions, in the order of `memoryIds`. */
  mentions(memoryIds: readonly string[]): Promise<string[][]>;
  /** RELATED edges touching these entities, either direction. */
  relations(entityIds: readonly string[]): Promise<RelationRecord[]>;
  /** FOLLOWS and DERIVED_FROM links touching these memories, either direction. */
  links(memoryIds: readonly string[]): Promise<MemoryLink[]>;

  /**
   * One write, all or nothing: takes the agent's write lock, reads what `query` asks for, calls
   * `plan` with it (pure and quick; Neo4j may call it again when it retries the transaction) and
   * applies the plan. What `plan` throws (e.g. UnknownMemoryError) aborts the write.
   */
  write(query: WriteQuery, plan: (snapshot: WriteSnapshot) => WritePlan): Promise<WriteResult>;
  /**
   * Removes a memory of the agent; `revision` is the agent's memory revision after the delete,
   * `remaining` how many memories the agent still has.
   */
  forget(agentId: string, id: string): Promise<{ deleted: boolean; revision: number; remaining: number }>;
  /** Adds recall hits to access statistics (batched by the caller). */
  recordAccess(updates: readonly AccessUpdate[]): Promise<void>;
  /**
   * Adds one feedback vote to a memory of the agent. Returns the score components of the last
   * recall that returned it (what the learner updates from), or `found: false`.
   */
  reinforce(
    agentId: string,
    id: string,
    useful: boolean,
  ): Promise<{ found: boolean; lastComponents: ScoreComponents | null }>;
  /** Clears every feedback vote of the agent's memories (`resetLearning`). */
  resetFeedback(agentId: string): Promise<void>;
  /** Sets a memory's validUntil; `record` is null when the agent has no such memory. */
  invalidate(
    agentId: string,
    id: string,
    validUntil: string,
  ): Promise<{ record: MemoryRecord | null; revision: number }>;
  /**
   * Removes the agent's unpinned memories that a rule selects (any rule; null rules are off),
   * then the lowest-value ones beyond `capacity`; entities no memory mentions any more go too.
   */
  forgetByPolicy(agentId: string, rules: ForgetRules): Promise<RemovalResult>;
  /**
   * Merges each group into its `keep` memory (stored as given: the caller computed the merged
   * record): mentions, derivations and usage counts of the removed move to it, then they are deleted.
   */
  consolidate(agentId: string, merges: readonly ConsolidationMerge[]): Promise<RemovalResult>;
  /** Agents that have a stored memory configuration (the periodic forgetting visits these). */
  configuredAgents(): Promise<string[]>;

  getConfig(agentId: string): Promise<MemoryConfig | null>;
  /**
   * Replaces the agent's configuration with `change(current)`, atomically: concurrent updates
   * (a vote's learning step, configureMemory, resetLearning, from any replica) apply one after
   * another, none lost. `change` must be pure and quick: it runs inside the store's transaction
   * (and may run again if Neo4j retries it). What it throws aborts the update. Returns what was stored.
   */
  updateConfig(
    agentId: string,
    change: (current: MemoryConfig | null) => MemoryConfig,
  ): Promise<MemoryConfig>;

  // Retrieval: each returns ids of the agent's memories that pass `filter` at `now`.
  /** Nearest by cosine similarity (score = similarity), best first. */
  vectorSearch(
    agentId: string,
    vector: Float32Array,
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]>;
  /** BM25 over the indexed text (score > 0, higher is better), best first. `terms` are plain words. */
  textSearch(
    agentId: string,
    terms: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]>;
  /**
   * How many of the agent's memories mention each entity (in the order of `entityIds`), and how
   * many memories the agent has: the document frequencies behind entity specificity.
   */
  entityMentionCounts(
    agentId: string,
    entityIds: readonly string[],
  ): Promise<{ memories: number; mentions: number[] }>;
  /** The agent's entities with these normalised names. */
  entitiesByName(agentId: string, normalizedNames: readonly string[]): Promise<EntityRecord[]>;
  /** Memories mentioning any of these entities, with which ones. */
  memoriesMentioning(
    agentId: string,
    entityIds: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<{ id: string; entityIds: string[] }[]>;
  /**
   * The exact cosine similarity of each of these memories of the agent to `vector`, in order;
   * null for one without a vector (or not the agent's). Computed where the vectors are, so a
   * store across a network sends numbers, not vectors.
   */
  similarities(agentId: string, ids: readonly string[], vector: Float32Array): Promise<(number | null)[]>;
  /**
   * Full records of these memories, dropping those that fail the filter, with the vectors of
   * those in `vectorsFor` (reading a vector costs more than the record: ask only for what is missing).
   */
  candidates(
    agentId: string,
    ids: readonly string[],
    filter: MemoryFilter,
    now: string,
    vectorsFor: ReadonlySet<string>,
  ): Promise<Candidate[]>;

  // The embedding model and re-embedding (domain/reembedding.ts). A re-embedding fills a second
  // set of vectors beside the ones recall uses, batch by batch, and swaps them in one step when
  // every memory has one; until then recall and writes use the current vectors.
  /** The model of the vectors recall uses now, as recorded in the store (read fresh). */
  embeddingModel(): Promise<EmbeddingModel | null>;
  reembedStatus(): Promise<ReembedStatus>;
  /** Starts re-embedding for `target`, or resumes one already under way for it; another target is refused. */
  startReembed(target: EmbeddingModel): Promise<ReembedStatus>;
  /**
   * Memories (of every agent) without a target vector yet, oldest first within an agent, so a
   * memory comes after the one it follows (its context, domain/session-context.ts).
   */
  memoriesToReembed(limit: number): Promise<MemoryToEmbed[]>;
  /** Stores target vectors (unit length, the target's size); memories gone meanwhile are skipped. */
  saveReembedded(vectors: readonly { id: string; vector: Float32Array }[]): Promise<void>;
  /**
   * When every memory has a target vector: makes them the vectors recall uses and the target the
   * store's model, in one step. Otherwise changes nothing and says how many are missing.
   */
  finishReembed(): Promise<{ switched: boolean; remaining: number }>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
