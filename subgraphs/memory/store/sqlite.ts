/**
 * MemoryStore on SQLite (the embedded default): plain tables for memories, entities and the
 * graph edges; FTS5 for BM25; a sqlite-vec `vec0` table for vectors, partitioned by agent so a
 * nearest-neighbour query only scans that agent's vectors.
 *
 * Writes run in one IMMEDIATE transaction (the database write lock is taken first): the reads
 * a write's plan is decided on (domain/write-plan.ts) and the changes it makes cannot interleave
 * with another writer, and a failing item (e.g. an unknown `derivedFrom`) rolls the whole batch
 * back. The adapter decides nothing itself: it reads and applies.
 */
import path from "node:path";
import { LRUCache } from "lru-cache";
import { type Encryptor, plaintextStorage } from "../../../core/crypto/encryption.js";
import type { Revisioned, RevisionProbe } from "../../../core/store/revisioned.js";
import { migrate, openSqlite, revisionProbe, type SqliteDatabase } from "../../../core/store/sqlite.js";
import { newEntityId } from "../domain/ids.js";
import type {
  AccessStats,
  ConsolidationEvidence,
  EntityRecord,
  MemoryConfig,
  MemoryFilter,
  MemoryKind,
  MemoryLinkType,
  MemoryRecord,
  Modality,
  RelationRecord,
  ScoreComponents,
} from "../domain/model.js";
import { cosineSimilarity } from "../domain/scoring.js";
import {
  type AccessUpdate,
  type Candidate,
  type ConsolidationMerge,
  DimensionMismatchError,
  type EmbeddingModel,
  type ForgetRules,
  type MemoryLink,
  type MemoryStore,
  type MemoryToEmbed,
  type NewMemory,
  type Page,
  type ReembedStatus,
  type RemovalResult,
  type ScoredId,
  UnknownMemoryError,
  type WritePlan,
  type WriteQuery,
  type WriteResult,
  type WriteSnapshot,
} from "../domain/store-port.js";
import { agentToken } from "./agent-token.js";
import { openMemoryFields, sealMemoryFields } from "./field-cipher.js";
import { SqliteEmbeddingModel, vectorTableSql } from "./sqlite-embedding-model.js";
import { blobVector, vectorBlob } from "./sqlite-vector-blob.js";
import { APPROXIMATE_FROM, MEMORY_CODES_MIGRATION, SqliteVectorIndex } from "./sqlite-vector-index.js";

const MIGRATIONS = [
  `CREATE TABLE memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE memory_agents (
     agent_id TEXT PRIMARY KEY,
     revision INTEGER NOT NULL,
     config TEXT
   ) WITHOUT ROWID;
   CREATE TABLE memories (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     agent_id TEXT NOT NULL,
     content TEXT NOT NULL,
     content_hash TEXT NOT NULL,
     kind TEXT NOT NULL,
     tags TEXT NOT NULL,
     importance REAL NOT NULL,
     created_at TEXT NOT NULL,
     occurred_at TEXT NOT NULL,
     last_accessed_at TEXT,
     access_count INTEGER NOT NULL DEFAULT 0,
     metadata TEXT,
     modality TEXT NOT NULL,
     media_uri TEXT,
     caption TEXT,
     valid_from TEXT,
     valid_until TEXT,
     session_id TEXT,
     revision INTEGER NOT NULL
   );
   CREATE INDEX memories_agent ON memories (agent_id, seq);
   CREATE INDEX memories_agent_hash ON memories (agent_id, content_hash);
   CREATE INDEX memories_agent_session ON memories (agent_id, session_id, occurred_at);
   CREATE TABLE entities (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     agent_id TEXT NOT NULL,
     name TEXT NOT NULL,
     normalized_name TEXT NOT NULL,
     type TEXT NOT NULL,
     created_at TEXT NOT NULL,
     revision INTEGER NOT NULL,
     UNIQUE (agent_id, normalized_name)
   );
   CREATE TABLE mentions (
     memory_seq INTEGER NOT NULL REFERENCES memories (seq) ON DELETE CASCADE,
     entity_seq INTEGER NOT NULL REFERENCES entities (seq) ON DELETE CASCADE,
     PRIMARY KEY (memory_seq, entity_seq)
   ) WITHOUT ROWID;
   CREATE INDEX mentions_entity ON mentions (entity_seq, memory_seq);
   CREATE TABLE entity_relations (
     from_seq INTEGER NOT NULL REFERENCES entities (seq) ON DELETE CASCADE,
     to_seq INTEGER NOT NULL REFERENCES entities (seq) ON DELETE CASCADE,
     type TEXT NOT NULL,
     PRIMARY KEY (from_seq, to_seq, type)
   ) WITHOUT ROWID;
   CREATE INDEX entity_relations_to ON entity_relations (to_seq);
   CREATE TABLE memory_links (
     from_seq INTEGER NOT NULL REFERENCES memories (seq) ON DELETE CASCADE,
     to_seq INTEGER NOT NULL REFERENCES memories (seq) ON DELETE CASCADE,
     type TEXT NOT NULL,
     PRIMARY KEY (from_seq, type, to_seq)
   ) WITHOUT ROWID;
   CREATE INDEX memory_links_to ON memory_links (to_seq, type);
   -- Contentless: the index keeps tokens for ranking, not a copy of the text (which may be
   -- encrypted at rest in memories.content); contentless_delete lets forget() remove rows.
   CREATE VIRTUAL TABLE memory_fts USING fts5(
     agent, text, content = '', contentless_delete = 1, tokenize = 'porter unicode61'
   );`,
  // Learning, forgetting and consolidation (issue 5).
  `ALTER TABLE memories ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE memories ADD COLUMN useful_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE memories ADD COLUMN not_useful_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE memories ADD COLUMN last_components TEXT;
   ALTER TABLE memories ADD COLUMN consolidation TEXT;`,
  // A plain copy of each embedding for point reads: sqlite-vec stores vectors in chunks of 1024,
  // so reading one back costs a chunk read (~0.3 ms at 100k memories); recall reads hundreds.
  `CREATE TABLE memory_embeddings (
     seq INTEGER PRIMARY KEY REFERENCES memories (seq) ON DELETE CASCADE,
     embedding BLOB NOT NULL
   );`,
  // Facts are never lost (issue 13): statement and frame keys for dedup and contradictions, and
  // the wordings merged into a memory. Rows written before have none (no paraphrase merging or
  // contradiction links with them; exact duplicates still merge by content_hash).
  `ALTER TABLE memories ADD COLUMN statement_key TEXT;
   ALTER TABLE memories ADD COLUMN frame_key TEXT;
   ALTER TABLE memories ADD COLUMN variants TEXT;
   CREATE INDEX memories_agent_statement ON memories (agent_id, statement_key);
   CREATE INDEX memories_agent_frame ON memories (agent_id, frame_key, seq);`,
  // Binary codes of every vector, for the approximate first pass at scale (sqlite-vector-index.ts).
  MEMORY_CODES_MIGRATION,
  // A re-embedding's vectors, filled beside the ones in use (sqlite-embedding-model.ts).
  `CREATE TABLE memory_embeddings_next (
     seq INTEGER PRIMARY KEY REFERENCES memories (seq) ON DELETE CASCADE,
     embedding BLOB NOT NULL
   );`,
];

/** Stored memories of one frame a write compares with (the most recent): bounds a write's reads. */
const FRAME_MATCHES = 20;
/** Below this many indexed rows, every query term is searched (the OR query is cheap anyway). */
const PRUNE_TERMS_FROM = 4096;
/** vec0 refuses k above this. */
const MAX_KNN = 4096;

const MEMORY_COLUMNS = `m.seq, m.id, m.agent_id, m.content, m.kind, m.tags, m.importance, m.created_at,
  m.occurred_at, m.metadata, m.modality, m.media_uri, m.caption, m.valid_from, m.valid_until, m.session_id, m.revision,
  m.pinned, m.consolidation, m.variants`;

/**
 * The filter as one static SQL fragment over `m`: unset parameters are NULL and switch their
 * clause off, so every statement is prepared once.
 */
const FILTER_SQL = `(@kinds IS NULL OR m.kind IN (SELECT value FROM json_each(@kinds)))
  AND (@modalities IS NULL OR m.modality IN (SELECT value FROM json_each(@modalities)))
  AND (@tags IS NULL OR EXISTS (SELECT 1 FROM json_each(m.tags) t WHERE t.value IN (SELECT value FROM json_each(@tags))))
  AND (@occurredAfter IS NULL OR m.occurred_at >= @occurredAfter)
  AND (@occurredBefore IS NULL OR m.occurred_at < @occurredBefore)
  AND (@sessionId IS NULL OR m.session_id = @sessionId)
  AND (@asOf IS NULL OR m.created_at <= @asOf)
  AND (@includeInvalid = 1 OR ((m.valid_until IS NULL OR m.valid_until > @at) AND (m.valid_from IS NULL OR m.valid_from <= @at)))`;

interface MemoryRow {
  seq: number;
  id: string;
  agent_id: string;
  content: string;
  kind: string;
  tags: string;
  importance: number;
  created_at: string;
  occurred_at: string;
  metadata: string | null;
  modality: string;
  media_uri: string | null;
  caption: string | null;
  valid_from: string | null;
  valid_until: string | null;
  session_id: string | null;
  revision: number;
  pinned: number;
  consolidation: string | null;
  variants: string | null;
}

interface EntityRow {
  seq: number;
  id: string;
  agent_id: string;
  name: string;
  normalized_name: string;
  type: string;
  created_at: string;
  revision: number;
}

function toMemory(row: MemoryRow, encryption: Encryptor): MemoryRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    ...openMemoryFields(encryption, row.id, row),
    kind: row.kind as MemoryKind,
    tags: JSON.parse(row.tags) as string[],
    importance: row.importance,
    createdAt: row.created_at,
    occurredAt: row.occurred_at,
    modality: row.modality as Modality,
    mediaUri: row.media_uri,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    sessionId: row.session_id,
    pinned: row.pinned === 1,
    consolidation:
      row.consolidation === null ? null : (JSON.parse(row.consolidation) as ConsolidationEvidence),
  };
}

function toEntity(row: EntityRow): EntityRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    name: row.name,
    normalizedName: row.normalized_name,
    type: row.type,
    createdAt: row.created_at,
  };
}

function filterParams(filter: MemoryFilter, now: string) {
  const list = (values?: readonly string[]) => (values && values.length > 0 ? JSON.stringify(values) : null);
  return {
    kinds: list(filter.kinds),
    modalities: list(filter.modalities),
    tags: list(filter.tags),
    occurredAfter: filter.occurredAfter ?? null,
    occurredBefore: filter.occurredBefore ?? null,
    sessionId: filter.sessionId ?? null,
    asOf: filter.asOf ?? null,
    includeInvalid: filter.includeInvalid ? 1 : 0,
    at: filter.asOf ?? now,
  };
}

const pick = <T extends object, K extends keyof T>(value: T, ...keys: K[]) =>
  Object.fromEntries(keys.map((key) => [key, value[key]])) as Pick<T, K>;

/**
 * `dimensions` 0 opens the store with the size it holds (maintenance tools such as re-embedding);
 * with `model`, the store records it on first start and refuses another model afterwards.
 */
export function createSqliteMemoryStore(
  dataDir: string,
  dimensions: number,
  encryption: Encryptor = plaintextStorage,
  model?: EmbeddingModel,
): SqliteMemoryStore {
  return new SqliteMemoryStore(
    openSqlite(path.join(dataDir, "memory.db"), { vectors: true }),
    dimensions,
    encryption,
    model,
  );
}

export class SqliteMemoryStore implements MemoryStore {
  /** Changes only when a re-embedding swaps the vectors. */
  dimensions: number;
  readonly memoryRevisions: RevisionProbe;
  readonly entityRevisions: RevisionProbe;
  private readonly s;
  private readonly memoryCounts = new LRUCache<string, { revision: number; count: number }>({ max: 10_000 });
  private index: SqliteVectorIndex;
  /** Terms found in more than half of the full-text index (see informativeTerms). */
  private readonly commonTerms = new LRUCache<string, boolean>({ max: 10_000, ttl: 60_000 });
  private rowCount = { at: 0, n: 0 };
  private readonly model: SqliteEmbeddingModel;

  constructor(
    readonly db: SqliteDatabase,
    dimensions: number,
    private readonly encryption: Encryptor = plaintextStorage,
    model?: EmbeddingModel,
  ) {
    migrate(db, MIGRATIONS);
    this.model = new SqliteEmbeddingModel(db, encryption);
    // Another model is named before another size: it says more about what to do.
    if (model) this.model.refuseOther(model);
    this.dimensions = ensureVectorTable(db, dimensions);
    this.memoryRevisions = revisionProbe(
      db.prepare("SELECT revision FROM memories WHERE id = ?").pluck(),
      db.prepare(
        "SELECT j.key AS position, m.revision FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value",
      ),
    );
    this.entityRevisions = revisionProbe(
      db.prepare("SELECT revision FROM entities WHERE id = ?").pluck(),
      db.prepare(
        "SELECT j.key AS position, e.revision FROM json_each(?) j CROSS JOIN entities e ON e.id = j.value",
      ),
    );
    copyEmbeddingsOnce(db);
    if (model) this.model.record(model);
    this.index = new SqliteVectorIndex(db, this.dimensions);
    const filtered = (sql: string) => db.prepare(sql.replace("FILTER", FILTER_SQL));
    this.s = {
      memoriesById: db.prepare(
        `SELECT j.key AS position, ${MEMORY_COLUMNS} FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value`,
      ),
      entitiesById: db.prepare(
        `SELECT j.key AS position, e.* FROM json_each(?) j CROSS JOIN entities e ON e.id = j.value`,
      ),
      vectorsById: db.prepare(
        `SELECT j.key AS position, e.embedding
         FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value
         JOIN memory_embeddings e ON e.seq = m.seq
         WHERE m.agent_id = ?`,
      ),
      accessById: db.prepare(
        `SELECT j.key AS position, m.last_accessed_at, m.access_count, m.useful_count, m.not_useful_count
         FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value`,
      ),
      listPage: filtered(
        `SELECT ${MEMORY_COLUMNS} FROM memories m
         WHERE m.agent_id = @agentId AND m.seq < @before AND FILTER ORDER BY m.seq DESC LIMIT @limit`,
      ),
      listCount: filtered(`SELECT count(*) AS n FROM memories m WHERE m.agent_id = @agentId AND FILTER`),
      entityPage: db.prepare(
        "SELECT * FROM entities WHERE agent_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?",
      ),
      entityCount: db.prepare("SELECT count(*) AS n FROM entities WHERE agent_id = ?"),
      mentions: db.prepare(
        `SELECT j.key AS position, e.id AS entity_id FROM json_each(?) j
         CROSS JOIN memories m ON m.id = j.value JOIN mentions x ON x.memory_seq = m.seq
         JOIN entities e ON e.seq = x.entity_seq ORDER BY e.seq`,
      ),
      // Queries driven by a JSON list of ids use CROSS JOIN to keep the list as the outer loop:
      // the planner cannot see its size and would otherwise scan the agent's whole table.
      relations: db.prepare(
        `SELECT f.id AS from_id, t.id AS to_id, r.type FROM json_each(@ids) j
         CROSS JOIN entities f ON f.id = j.value CROSS JOIN entity_relations r ON r.from_seq = f.seq
         CROSS JOIN entities t ON t.seq = r.to_seq
         UNION
         SELECT f.id, t.id, r.type FROM json_each(@ids) j
         CROSS JOIN entities t ON t.id = j.value CROSS JOIN entity_relations r ON r.to_seq = t.seq
         CROSS JOIN entities f ON f.seq = r.from_seq`,
      ),
      links: db.prepare(
        `SELECT f.id AS from_id, t.id AS to_id, l.type FROM json_each(@ids) j
         CROSS JOIN memories f ON f.id = j.value CROSS JOIN memory_links l ON l.from_seq = f.seq
         CROSS JOIN memories t ON t.seq = l.to_seq
         UNION
         SELECT f.id, t.id, l.type FROM json_each(@ids) j
         CROSS JOIN memories t ON t.id = j.value CROSS JOIN memory_links l ON l.to_seq = t.seq
         CROSS JOIN memories f ON f.seq = l.from_seq`,
      ),
      bumpAgent: db.prepare(
        `INSERT INTO memory_agents (agent_id, revision) VALUES (?, 1)
         ON CONFLICT (agent_id) DO UPDATE SET revision = revision + 1 RETURNING revision`,
      ),
      countAgent: db.prepare("SELECT count(*) AS n FROM memories WHERE agent_id = ?"),
      agentRevision: db.prepare("SELECT revision FROM memory_agents WHERE agent_id = ?"),
      // A write's reads (WriteQuery): valid memories by content hash, statement key or frame
      // key (the newest FRAME_MATCHES of each frame), each lookup on its own index.
      writeMatches: filtered(
        `SELECT ${MEMORY_COLUMNS}, m.content_hash, m.statement_key, m.frame_key FROM memories m
         WHERE m.seq IN (
           SELECT seq FROM memories WHERE agent_id = @agentId AND content_hash IN (SELECT value FROM json_each(@hashes))
           UNION SELECT seq FROM memories WHERE agent_id = @agentId AND statement_key IN (SELECT value FROM json_each(@statements))
           UNION SELECT seq FROM (
             SELECT seq, row_number() OVER (PARTITION BY frame_key ORDER BY seq DESC) AS n FROM memories
             WHERE agent_id = @agentId AND frame_key IN (SELECT value FROM json_each(@frames))
           ) WHERE n <= ${FRAME_MATCHES}
         ) AND FILTER`,
      ),
      knn: db.prepare(
        `SELECT rowid AS seq, distance FROM memory_vectors
         WHERE embedding MATCH @vector AND k = @k AND agent_id = @agentId`,
      ),
      referenced: db.prepare(
        `SELECT ${MEMORY_COLUMNS} FROM json_each(@ids) j CROSS JOIN memories m ON m.id = j.value
         WHERE m.agent_id = @agentId`,
      ),
      evictionOrder: db.prepare(
        `SELECT id FROM memories WHERE agent_id = @agentId AND pinned = 0
         ORDER BY importance ASC, coalesce(last_accessed_at, occurred_at) ASC, seq ASC LIMIT @limit`,
      ),
      insertMemory: db.prepare(
        `INSERT INTO memories (id, agent_id, content, content_hash, statement_key, frame_key, kind, tags, importance,
           created_at, occurred_at, metadata, modality, media_uri, caption, valid_from, valid_until, session_id,
           revision, pinned, consolidation, variants)
         VALUES (@id, @agentId, @content, @contentHash, @statementKey, @frameKey, @kind, @tags, @importance,
           @createdAt, @occurredAt, @metadata, @modality, @mediaUri, @caption, @validFrom, @validUntil, @sessionId,
           @revision, @pinned, @consolidation, @variants)
         RETURNING seq`,
      ),
      mergeMemory: db.prepare(
        `UPDATE memories SET tags = @tags, importance = @importance, occurred_at = @occurredAt, metadata = @metadata,
           variants = @variants, access_count = access_count + 1, last_accessed_at = @now, revision = @revision
         WHERE id = @id AND agent_id = @agentId`,
      ),
      insertLinkById: db.prepare(
        `INSERT OR IGNORE INTO memory_links (from_seq, to_seq, type)
         SELECT f.seq, t.seq, @type FROM memories f CROSS JOIN memories t
         WHERE f.id = @fromId AND f.agent_id = @agentId AND t.id = @toId AND t.agent_id = @agentId`,
      ),
      insertFts: db.prepare("INSERT INTO memory_fts (rowid, agent, text) VALUES (?, ?, ?)"),
      insertVector: db.prepare("INSERT INTO memory_vectors (rowid, agent_id, embedding) VALUES (?, ?, ?)"),
      vectorOf: db.prepare("SELECT embedding FROM memory_embeddings WHERE seq = ?"),
      insertEmbedding: db.prepare("INSERT INTO memory_embeddings (seq, embedding) VALUES (?, ?)"),
      entityByName: db.prepare("SELECT * FROM entities WHERE agent_id = ? AND normalized_name = ?"),
      insertEntity: db.prepare(
        `INSERT INTO entities (id, agent_id, name, normalized_name, type, created_at, revision)
         VALUES (@id, @agentId, @name, @normalizedName, @type, @createdAt, @revision) RETURNING *`,
      ),
      insertMention: db.prepare("INSERT OR IGNORE INTO mentions (memory_seq, entity_seq) VALUES (?, ?)"),
      insertRelation: db.prepare(
        "INSERT OR IGNORE INTO entity_relations (from_seq, to_seq, type) VALUES (?, ?, ?)",
      ),
      insertLink: db.prepare("INSERT OR IGNORE INTO memory_links (from_seq, to_seq, type) VALUES (?, ?, ?)"),
      sessionHead: db.prepare(
        `SELECT m.id, e.embedding FROM memories m LEFT JOIN memory_embeddings e ON e.seq = m.seq
         WHERE m.agent_id = ? AND m.session_id = ? ORDER BY m.occurred_at DESC, m.seq DESC LIMIT 1`,
      ),
      agentMemorySeq: db.prepare("SELECT seq FROM memories WHERE id = ? AND agent_id = ?"),
      followsOf: db.prepare(
        "SELECT to_seq FROM memory_links WHERE from_seq = ? AND type = 'FOLLOWS' LIMIT 1",
      ),
      followedBy: db.prepare("SELECT from_seq FROM memory_links WHERE to_seq = ? AND type = 'FOLLOWS'"),
      deleteMemory: db.prepare("DELETE FROM memories WHERE seq = ?"),
      deleteFts: db.prepare("DELETE FROM memory_fts WHERE rowid = ?"),
      deleteVector: db.prepare("DELETE FROM memory_vectors WHERE rowid = ?"),
      idOfSeq: db.prepare("SELECT id FROM memories WHERE seq = ?"),
      recordAccess: db.prepare(
        `UPDATE memories SET access_count = access_count + @count,
           last_accessed_at = CASE WHEN last_accessed_at IS NULL OR last_accessed_at < @at THEN @at ELSE last_accessed_at END
         WHERE id = @id`,
      ),
      recordComponents: db.prepare("UPDATE memories SET last_components = @components WHERE id = @id"),
      reinforce: db.prepare(
        `UPDATE memories SET useful_count = useful_count + @useful, not_useful_count = not_useful_count + @notUseful
         WHERE id = @id AND agent_id = @agentId RETURNING last_components`,
      ),
      invalidate: db.prepare(
        `UPDATE memories SET valid_until = @validUntil, revision = @revision WHERE seq = @seq RETURNING ${MEMORY_COLUMNS.replaceAll("m.", "")}`,
      ),
      invalidateById: db.prepare(
        `UPDATE memories SET valid_until = @validUntil, revision = @revision WHERE id = @id AND agent_id = @agentId
         RETURNING ${MEMORY_COLUMNS.replaceAll("m.", "")}`,
      ),
      policyVictims: db.prepare(
        `SELECT seq FROM memories WHERE agent_id = @agentId AND pinned = 0 AND (
           (@occurredBefore IS NOT NULL AND occurred_at < @occurredBefore)
           OR (@inactiveSince IS NOT NULL AND coalesce(last_accessed_at, created_at) < @inactiveSince)
           OR (@minImportance IS NOT NULL AND importance < @minImportance))`,
      ),
      capacityVictims: db.prepare(
        `SELECT seq FROM memories WHERE agent_id = @agentId AND pinned = 0
         ORDER BY importance ASC, coalesce(last_accessed_at, occurred_at) ASC, seq ASC LIMIT @limit`,
      ),
      entitiesOfMemory: db.prepare("SELECT entity_seq FROM mentions WHERE memory_seq = ?"),
      deleteOrphanEntity: db.prepare(
        "DELETE FROM entities WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM mentions WHERE entity_seq = entities.seq) RETURNING id",
      ),
      moveMentions: db.prepare(
        "INSERT OR IGNORE INTO mentions (memory_seq, entity_seq) SELECT @keep, entity_seq FROM mentions WHERE memory_seq = @from",
      ),
      moveDerivations: db.prepare(
        `INSERT OR IGNORE INTO memory_links (from_seq, to_seq, type)
         SELECT CASE WHEN from_seq = @from THEN @keep ELSE from_seq END, CASE WHEN to_seq = @from THEN @keep ELSE to_seq END, type
         FROM memory_links WHERE type = 'DERIVED_FROM' AND (from_seq = @from OR to_seq = @from)
           AND from_seq <> to_seq AND NOT (from_seq IN (@from, @keep) AND to_seq IN (@from, @keep))`,
      ),
      addUsage: db.prepare(
        `UPDATE memories SET access_count = memories.access_count + s.access_count,
           useful_count = memories.useful_count + s.useful_count,
           not_useful_count = memories.not_useful_count + s.not_useful_count,
           last_accessed_at = CASE WHEN s.last_accessed_at IS NULL THEN memories.last_accessed_at
             WHEN memories.last_accessed_at IS NULL OR memories.last_accessed_at < s.last_accessed_at
             THEN s.last_accessed_at ELSE memories.last_accessed_at END
         FROM (SELECT access_count, useful_count, not_useful_count, last_accessed_at FROM memories AS f WHERE f.seq = @from) AS s
         WHERE memories.seq = @keep`,
      ),
      updateConsolidated: db.prepare(
        `UPDATE memories SET tags = @tags, importance = @importance, occurred_at = @occurredAt, metadata = @metadata,
           variants = @variants, pinned = @pinned, consolidation = @consolidation, revision = @revision WHERE seq = @seq`,
      ),
      resetFeedback: db.prepare(
        "UPDATE memories SET useful_count = 0, not_useful_count = 0 WHERE agent_id = ? AND (useful_count > 0 OR not_useful_count > 0)",
      ),
      configuredAgents: db.prepare(
        "SELECT agent_id FROM memory_agents WHERE config IS NOT NULL ORDER BY agent_id",
      ),
      getConfig: db.prepare("SELECT config FROM memory_agents WHERE agent_id = ?"),
      putConfig: db.prepare(
        `INSERT INTO memory_agents (agent_id, revision, config) VALUES (?, 1, ?)
         ON CONFLICT (agent_id) DO UPDATE SET config = excluded.config, revision = revision + 1`,
      ),
      knnFiltered: filtered(
        `WITH knn AS (
           SELECT rowid AS seq, distance FROM memory_vectors
           WHERE embedding MATCH @vector AND k = @k AND agent_id = @agentId
         )
         SELECT m.id, knn.distance FROM knn CROSS JOIN memories m ON m.seq = knn.seq
         WHERE FILTER ORDER BY knn.distance ASC`,
      ),
      // FTS5 ranks inside the index first (the agent token is part of the MATCH, so every hit
      // is the agent's); only the best @fetch rows are joined and filtered.
      // bm25() in the select list rather than FTS5's own `ORDER BY rank`: FTS5 sorts every
      // matching row in full, while SQLite's LIMIT keeps only the best @fetch as it goes. Same
      // scores, same order; at 100k memories a common-word query ranks ~35k rows, and this form
      // costs ~40% less CPU.
      textSearch: filtered(
        `WITH hits AS (
           SELECT rowid AS seq, bm25(memory_fts, 0.0, 1.0) AS rank FROM memory_fts
           WHERE memory_fts MATCH @match
           ORDER BY rank LIMIT @fetch
         )
         SELECT m.id, -hits.rank AS score
         FROM hits CROSS JOIN memories m ON m.seq = hits.seq
         WHERE m.agent_id = @agentId AND FILTER
         ORDER BY hits.rank ASC LIMIT @limit`,
      ),
      // The same ranking with the filter applied to every match: one pass, for a filter that
      // passes few of them (a dated window), where over-fetching would have to widen many times.
      textSearchFilteredFirst: filtered(
        `SELECT m.id, -bm25(memory_fts, 0.0, 1.0) AS score
         FROM memory_fts CROSS JOIN memories m ON m.seq = memory_fts.rowid
         WHERE memory_fts MATCH @match AND m.agent_id = @agentId AND FILTER
         ORDER BY bm25(memory_fts, 0.0, 1.0) LIMIT @limit`,
      ),
      countAll: db.prepare("SELECT count(*) AS n FROM memories"),
      textMatches: db.prepare(
        "SELECT count(*) AS n FROM (SELECT rowid FROM memory_fts WHERE memory_fts MATCH ? LIMIT ?)",
      ),
      entityMentionCounts: db.prepare(
        `SELECT j.key AS position, (SELECT count(*) FROM mentions x WHERE x.entity_seq = e.seq) AS n
         FROM json_each(@ids) j CROSS JOIN entities e ON e.id = j.value WHERE e.agent_id = @agentId`,
      ),
      entitiesByName: db.prepare(
        `SELECT * FROM entities WHERE agent_id = @agentId
         AND normalized_name IN (SELECT value FROM json_each(@names))`,
      ),
      // Ranked on the mentions index alone, and only the best @fetch joined with their memories,
      // filtered and given their entity lists: joining and listing every mention first cost ~4x
      // as much at 100k memories (an entity mentioned in 9k of them, ten entities from the hits).
      mentioning: filtered(
        `WITH hits AS (
           SELECT x.memory_seq AS seq, count(*) AS n
           FROM json_each(@entityIds) j CROSS JOIN entities e ON e.id = j.value
           CROSS JOIN mentions x ON x.entity_seq = e.seq
           WHERE e.agent_id = @agentId
           GROUP BY x.memory_seq ORDER BY n DESC, x.memory_seq DESC LIMIT @fetch
         )
         SELECT m.id,
           (SELECT json_group_array(e.id) FROM mentions y CROSS JOIN entities e ON e.seq = y.entity_seq
            WHERE y.memory_seq = hits.seq AND e.id IN (SELECT value FROM json_each(@entityIds))) AS entity_ids
         FROM hits CROSS JOIN memories m ON m.seq = hits.seq
         WHERE m.agent_id = @agentId AND FILTER
         ORDER BY hits.n DESC, hits.seq DESC LIMIT @limit`,
      ),
      // One entity (the usual query) needs no grouping: the newest, walked backwards on the index.
      mentioningOne: filtered(
        `WITH hits AS (
           SELECT x.memory_seq AS seq, json_array(e.id) AS entity_ids
           FROM entities e CROSS JOIN mentions x ON x.entity_seq = e.seq
           WHERE e.id = json_extract(@entityIds, '$[0]') AND e.agent_id = @agentId
           ORDER BY x.memory_seq DESC LIMIT @fetch
         )
         SELECT m.id, hits.entity_ids FROM hits CROSS JOIN memories m ON m.seq = hits.seq
         WHERE m.agent_id = @agentId AND FILTER
         ORDER BY hits.seq DESC LIMIT @limit`,
      ),
      mentionedMemories: db.prepare(
        `SELECT count(*) AS n FROM (
           SELECT DISTINCT x.memory_seq FROM json_each(@entityIds) j CROSS JOIN entities e ON e.id = j.value
           CROSS JOIN mentions x ON x.entity_seq = e.seq WHERE e.agent_id = @agentId LIMIT @fetch
         )`,
      ),
      candidates: filtered(
        `SELECT ${MEMORY_COLUMNS} FROM json_each(@ids) j CROSS JOIN memories m ON m.id = j.value
         WHERE m.agent_id = @agentId AND FILTER`,
      ),
      passingFilter: filtered(
        `SELECT j.key AS position, m.id FROM json_each(@seqs) j CROSS JOIN memories m ON m.seq = j.value
         WHERE m.agent_id = @agentId AND FILTER`,
      ),
    };
  }

  async getMemories(ids: readonly string[]): Promise<Revisioned<MemoryRecord>[]> {
    const results: Revisioned<MemoryRecord>[] = ids.map(() => ({ revision: 0, value: null }));
    for (const row of this.s.memoriesById.all(JSON.stringify(ids)) as (MemoryRow & { position: number })[]) {
      results[row.position] = { revision: row.revision, value: toMemory(row, this.encryption) };
    }
    return results;
  }

  async getEntities(ids: readonly string[]): Promise<Revisioned<EntityRecord>[]> {
    const results: Revisioned<EntityRecord>[] = ids.map(() => ({ revision: 0, value: null }));
    for (const row of this.s.entitiesById.all(JSON.stringify(ids)) as (EntityRow & { position: number })[]) {
      results[row.position] = { revision: row.revision, value: toEntity(row) };
    }
    return results;
  }

  async similarities(
    agentId: string,
    ids: readonly string[],
    vector: Float32Array,
  ): Promise<(number | null)[]> {
    const results: (number | null)[] = ids.map(() => null);
    if (ids.length === 0) return results;
    const rows = this.s.vectorsById.all(JSON.stringify(ids), agentId) as {
      position: number;
      embedding: Buffer;
    }[];
    for (const row of rows) results[row.position] = cosineSimilarity(vector, blobVector(row.embedding));
    return results;
  }

  async accessStats(ids: readonly string[]): Promise<(AccessStats | null)[]> {
    const results: (AccessStats | null)[] = ids.map(() => null);
    const rows = this.s.accessById.all(JSON.stringify(ids)) as {
      position: number;
      last_accessed_at: string | null;
      access_count: number;
      useful_count: number;
      not_useful_count: number;
    }[];
    for (const row of rows) {
      results[row.position] = {
        lastAccessedAt: row.last_accessed_at,
        accessCount: row.access_count,
        usefulCount: row.useful_count,
        notUsefulCount: row.not_useful_count,
      };
    }
    return results;
  }

  async listMemories(
    agentId: string,
    first: number,
    after: number | undefined,
    filter: MemoryFilter,
    now: string,
  ): Promise<Page<MemoryRecord>> {
    const params = { ...filterParams(filter, now), agentId };
    return this.db.transaction(() => {
      const rows = this.s.listPage.all({
        ...params,
        before: after ?? Number.MAX_SAFE_INTEGER,
        limit: first + 1,
      }) as MemoryRow[];
      const { n } = this.s.listCount.get(params) as { n: number };
      return {
        items: rows.slice(0, first).map((row) => ({ node: toMemory(row, this.encryption), cursor: row.seq })),
        hasNextPage: rows.length > first,
        totalCount: n,
      };
    })();
  }

  async listEntities(agentId: string, first: number, after: number | undefined): Promise<Page<EntityRecord>> {
    return this.db.transaction(() => {
      const rows = this.s.entityPage.all(agentId, after ?? 0, first + 1) as EntityRow[];
      const { n } = this.s.entityCount.get(agentId) as { n: number };
      return {
        items: rows.slice(0, first).map((row) => ({ node: toEntity(row), cursor: row.seq })),
        hasNextPage: rows.length > first,
        totalCount: n,
      };
    })();
  }

  async mentions(memoryIds: readonly string[]): Promise<string[][]> {
    const results: string[][] = memoryIds.map(() => []);
    const rows = this.s.mentions.all(JSON.stringify(memoryIds)) as { position: number; entity_id: string }[];
    for (const row of rows) results[row.position]!.push(row.entity_id);
    return results;
  }

  async relations(entityIds: readonly string[]): Promise<RelationRecord[]> {
    const rows = this.s.relations.all({ ids: JSON.stringify(entityIds) }) as {
      from_id: string;
      to_id: string;
      type: string;
    }[];
    return rows.map((row) => ({ fromId: row.from_id, toId: row.to_id, type: row.type }));
  }

  async links(memoryIds: readonly string[]): Promise<MemoryLink[]> {
    const rows = this.s.links.all({ ids: JSON.stringify(memoryIds) }) as {
      from_id: string;
      to_id: string;
      type: MemoryLinkType;
    }[];
    return rows.map((row) => ({ fromId: row.from_id, toId: row.to_id, type: row.type }));
  }

  async write(query: WriteQuery, plan: (snapshot: WriteSnapshot) => WritePlan): Promise<WriteResult> {
    // IMMEDIATE: the database write lock is taken before the reads, so nothing changes between
    // what the plan was decided on and where it is applied.
    return this.db
      .transaction(() => {
        const snapshot = this.readSnapshot(query);
        return this.apply(query.agentId, snapshot, plan(snapshot));
      })
      .immediate();
  }

  private readSnapshot(query: WriteQuery): WriteSnapshot {
    const { s } = this;
    const { agentId } = query;
    const memoryCount = (s.countAgent.get(agentId) as { n: number }).n;
    const { revision } = s.bumpAgent.get(agentId) as { revision: number };
    const matches = (
      s.writeMatches.all({
        ...filterParams({}, query.now),
        agentId,
        hashes: JSON.stringify(query.contentHashes),
        statements: JSON.stringify(query.statementKeys),
        frames: JSON.stringify(query.frameKeys),
      }) as (MemoryRow & { content_hash: string; statement_key: string | null; frame_key: string | null })[]
    ).map((row) => ({
      record: toMemory(row, this.encryption),
      contentHash: row.content_hash,
      statementKey: row.statement_key,
      frameKey: row.frame_key,
    }));
    const referenced = (
      s.referenced.all({ agentId, ids: JSON.stringify(query.referencedIds) }) as MemoryRow[]
    ).map((row) => toMemory(row, this.encryption));
    const sessionHeads = query.sessionIds.flatMap((sessionId) => {
      const head = s.sessionHead.get(agentId, sessionId) as
        | { id: string; embedding: Buffer | null }
        | undefined;
      return head
        ? [{ sessionId, id: head.id, embedding: head.embedding ? blobVector(head.embedding) : null }]
        : [];
    });
    const evictionOrder =
      query.evictionCandidates === 0
        ? []
        : (s.evictionOrder.all({ agentId, limit: query.evictionCandidates }) as { id: string }[]).map(
            (row) => row.id,
          );
    return { revision, memoryCount, matches, referenced, sessionHeads, evictionOrder };
  }

  private apply(agentId: string, snapshot: WriteSnapshot, plan: WritePlan): WriteResult {
    const { s } = this;
    const { revision } = snapshot;
    const now = new Date().toISOString();
    for (const item of plan.creates) this.insertMemory(item, revision);
    for (const record of plan.merges) {
      const sealed = sealMemoryFields(this.encryption, record);
      s.mergeMemory.run({
        id: record.id,
        agentId,
        tags: JSON.stringify(record.tags),
        importance: record.importance,
        occurredAt: record.occurredAt,
        metadata: sealed.metadata,
        variants: sealed.variants,
        now,
        revision,
      });
    }
    const entityIds = new Set<string>();
    for (const mention of plan.mentions) {
      const memory = s.agentMemorySeq.get(mention.memoryId, agentId) as { seq: number };
      this.linkEntities(agentId, memory.seq, mention, revision, now, entityIds);
    }
    for (const link of plan.links) s.insertLinkById.run({ ...link, agentId });
    const invalidated = plan.invalidations.map(({ id, validUntil }) =>
      toMemory(s.invalidateById.get({ id, agentId, validUntil, revision }) as MemoryRow, this.encryption),
    );
    for (const id of plan.deletions) {
      const victim = s.agentMemorySeq.get(id, agentId) as { seq: number };
      this.deleteBySeq(victim.seq);
    }
    return {
      plan,
      revision,
      invalidated,
      entityIds: [...entityIds],
      firstMemories: snapshot.memoryCount === 0,
    };
  }

  private insertMemory(item: NewMemory, revision: number): number {
    const { s } = this;
    const r = item.record;
    const { seq } = s.insertMemory.get({
      ...r,
      ...sealMemoryFields(this.encryption, r),
      contentHash: item.contentHash,
      statementKey: item.statementKey,
      frameKey: item.frameKey,
      tags: JSON.stringify(r.tags),
      pinned: r.pinned ? 1 : 0,
      consolidation: r.consolidation === null ? null : JSON.stringify(r.consolidation),
      revision,
    }) as { seq: number };
    s.insertFts.run(seq, agentToken(r.agentId), item.searchText);
    if (item.embedding) {
      const blob = vectorBlob(item.embedding);
      s.insertVector.run(BigInt(seq), r.agentId, blob);
      s.insertEmbedding.run(seq, blob);
    }
    return seq;
  }

  private linkEntities(
    agentId: string,
    memorySeq: number,
    mention: Pick<NewMemory, "entities" | "relations">,
    revision: number,
    now: string,
    touched: Set<string>,
  ): void {
    const { s } = this;
    const seqByName = new Map<string, number>();
    for (const entity of mention.entities) {
      let row = s.entityByName.get(agentId, entity.normalizedName) as EntityRow | undefined;
      if (!row) {
        row = s.insertEntity.get({
          id: newEntityId(agentId),
          agentId,
          name: entity.name,
          normalizedName: entity.normalizedName,
          type: entity.type,
          createdAt: now,
          revision,
        }) as EntityRow;
      }
      seqByName.set(entity.normalizedName, row.seq);
      touched.add(row.id);
      s.insertMention.run(memorySeq, row.seq);
    }
    for (const relation of mention.relations) {
      const from = seqByName.get(relation.from);
      const to = seqByName.get(relation.to);
      if (from !== undefined && to !== undefined) s.insertRelation.run(from, to, relation.type);
    }
  }

  /**
   * Deletes a memory, keeps its session chain connected (next FOLLOWS previous) and deletes the
   * entities only it mentioned (their relations go with them). Returns those entities' ids.
   */
  private deleteBySeq(seq: number): string[] {
    const { s } = this;
    const previous = s.followsOf.get(seq) as { to_seq: number } | undefined;
    const next = s.followedBy.all(seq) as { from_seq: number }[];
    const entities = s.entitiesOfMemory.all(seq) as { entity_seq: number }[];
    s.deleteMemory.run(seq);
    s.deleteFts.run(seq);
    s.deleteVector.run(BigInt(seq));
    if (previous) for (const row of next) s.insertLink.run(row.from_seq, previous.to_seq, "FOLLOWS");
    return entities.flatMap((entity) =>
      (s.deleteOrphanEntity.all(entity.entity_seq) as { id: string }[]).map((row) => row.id),
    );
  }

  async forget(
    agentId: string,
    id: string,
  ): Promise<{ deleted: boolean; revision: number; remaining: number }> {
    return this.db
      .transaction(() => {
        const row = this.s.agentMemorySeq.get(id, agentId) as { seq: number } | undefined;
        const remaining = () => (this.s.countAgent.get(agentId) as { n: number }).n;
        if (!row) return { deleted: false, revision: 0, remaining: remaining() };
        const { revision } = this.s.bumpAgent.get(agentId) as { revision: number };
        this.deleteBySeq(row.seq);
        return { deleted: true, revision, remaining: remaining() };
      })
      .immediate();
  }

  async recordAccess(updates: readonly AccessUpdate[]): Promise<void> {
    this.db.transaction(() => {
      for (const { id, count, at, components } of updates) {
        this.s.recordAccess.run({ id, count, at });
        if (components) this.s.recordComponents.run({ id, components: JSON.stringify(components) });
      }
    })();
  }

  async reinforce(
    agentId: string,
    id: string,
    useful: boolean,
  ): Promise<{ found: boolean; lastComponents: ScoreComponents | null }> {
    const row = this.s.reinforce.get({ id, agentId, useful: useful ? 1 : 0, notUseful: useful ? 0 : 1 }) as
      | { last_components: string | null }
      | undefined;
    if (!row) return { found: false, lastComponents: null };
    return {
      found: true,
      lastComponents: row.last_components ? (JSON.parse(row.last_components) as ScoreComponents) : null,
    };
  }

  async resetFeedback(agentId: string): Promise<void> {
    this.s.resetFeedback.run(agentId);
  }

  async invalidate(
    agentId: string,
    id: string,
    validUntil: string,
  ): Promise<{ record: MemoryRecord | null; revision: number }> {
    return this.db
      .transaction(() => {
        const found = this.s.agentMemorySeq.get(id, agentId) as { seq: number } | undefined;
        if (!found) return { record: null, revision: 0 };
        const { revision } = this.s.bumpAgent.get(agentId) as { revision: number };
        const row = this.s.invalidate.get({ seq: found.seq, validUntil, revision }) as MemoryRow;
        return { record: toMemory(row, this.encryption), revision };
      })
      .immediate();
  }

  async forgetByPolicy(agentId: string, rules: ForgetRules): Promise<RemovalResult> {
    const { s } = this;
    return this.db
      .transaction(() => {
        const victims = new Set(
          (s.policyVictims.all({ agentId, ...rules }) as { seq: number }[]).map((row) => row.seq),
        );
        if (rules.capacity !== null) {
          const total = (s.countAgent.get(agentId) as { n: number }).n;
          const excess = total - victims.size - rules.capacity;
          if (excess > 0) {
            const ranked = s.capacityVictims.all({ agentId, limit: excess + victims.size }) as {
              seq: number;
            }[];
            let added = 0;
            for (const row of ranked) {
              if (added === excess) break;
              if (!victims.has(row.seq)) {
                victims.add(row.seq);
                added++;
              }
            }
          }
        }
        return this.removeAll(agentId, [...victims]);
      })
      .immediate();
  }

  async consolidate(agentId: string, merges: readonly ConsolidationMerge[]): Promise<RemovalResult> {
    const { s } = this;
    return this.db
      .transaction(() => {
        const { revision } = s.bumpAgent.get(agentId) as { revision: number };
        const removedSeqs: number[] = [];
        for (const { keep, remove } of merges) {
          const kept = s.agentMemorySeq.get(keep.id, agentId) as { seq: number } | undefined;
          if (!kept) throw new UnknownMemoryError(keep.id);
          for (const id of remove) {
            const from = s.agentMemorySeq.get(id, agentId) as { seq: number } | undefined;
            if (!from) throw new UnknownMemoryError(id);
            s.moveMentions.run({ keep: kept.seq, from: from.seq });
            s.moveDerivations.run({ keep: kept.seq, from: from.seq });
            s.addUsage.run({ keep: kept.seq, from: from.seq });
            removedSeqs.push(from.seq);
          }
          s.updateConsolidated.run({
            seq: kept.seq,
            tags: JSON.stringify(keep.tags),
            importance: keep.importance,
            occurredAt: keep.occurredAt,
            ...pick(sealMemoryFields(this.encryption, keep), "metadata", "variants"),
            pinned: keep.pinned ? 1 : 0,
            consolidation: keep.consolidation === null ? null : JSON.stringify(keep.consolidation),
            revision,
          });
        }
        return this.removeAll(agentId, removedSeqs, revision);
      })
      .immediate();
  }

  /** Inside a transaction: deletes these memories of the agent (one revision bump for all). */
  private removeAll(agentId: string, seqs: readonly number[], bumped?: number): RemovalResult {
    const { s } = this;
    const remaining = () => (s.countAgent.get(agentId) as { n: number }).n;
    if (seqs.length === 0 && bumped === undefined) {
      return { removed: [], removedEntities: [], revision: 0, remaining: remaining() };
    }
    const revision = bumped ?? (s.bumpAgent.get(agentId) as { revision: number }).revision;
    const removed: string[] = [];
    const removedEntities: string[] = [];
    for (const seq of seqs) {
      removed.push((s.idOfSeq.get(seq) as { id: string }).id);
      removedEntities.push(...this.deleteBySeq(seq));
    }
    return { removed, removedEntities, revision, remaining: remaining() };
  }

  async configuredAgents(): Promise<string[]> {
    return (this.s.configuredAgents.all() as { agent_id: string }[]).map((row) => row.agent_id);
  }

  async getConfig(agentId: string): Promise<MemoryConfig | null> {
    return this.readConfig(agentId);
  }

  async updateConfig(
    agentId: string,
    change: (current: MemoryConfig | null) => MemoryConfig,
  ): Promise<MemoryConfig> {
    // IMMEDIATE: the write lock is taken before the read, so another process sharing the file
    // cannot read the same configuration in between.
    return this.db
      .transaction(() => {
        const config = change(this.readConfig(agentId));
        this.s.putConfig.run(agentId, JSON.stringify(config));
        return config;
      })
      .immediate();
  }

  private readConfig(agentId: string): MemoryConfig | null {
    const row = this.s.getConfig.get(agentId) as { config: string | null } | undefined;
    return row?.config ? (JSON.parse(row.config) as MemoryConfig) : null;
  }

  async vectorSearch(
    agentId: string,
    vector: Float32Array,
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]> {
    if (this.index.size(agentId) >= APPROXIMATE_FROM) {
      return this.approximateVectorSearch(agentId, vector, limit, filter, now);
    }
    const params = { ...filterParams(filter, now), agentId, vector: vectorBlob(vector) };
    // vec0 filters only by partition (agent); other filters apply after the k nearest are found,
    // so over-fetch and widen until `limit` survive or the agent's vectors are exhausted.
    let k = Math.min(MAX_KNN, limit * 2 + 16);
    for (;;) {
      const rows = this.s.knnFiltered.all({ ...params, k }) as { id: string; distance: number }[];
      if (rows.length >= limit || k >= MAX_KNN || !this.knnMayHaveMore(params, k)) {
        return rows.slice(0, limit).map((row) => ({ id: row.id, score: 1 - row.distance }));
      }
      k = Math.min(MAX_KNN, k * 4);
    }
  }

  /**
   * Binary-quantised first pass and exact re-rank (sqlite-vector-index.ts), for agents with many
   * memories. The filter applies to the re-ranked hits: over-fetch and widen while too few pass.
   */
  private approximateVectorSearch(
    agentId: string,
    vector: Float32Array,
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): ScoredId[] {
    const params = filterParams(filter, now);
    const size = this.index.size(agentId);
    for (let fetch = limit; ; fetch *= 4) {
      const nearest = this.index.nearest(agentId, vector, fetch);
      const passing = this.s.passingFilter.all({
        ...params,
        agentId,
        seqs: JSON.stringify(nearest.map((hit) => hit.seq)),
      }) as { position: number; id: string }[];
      if (passing.length >= limit || nearest.length < fetch || fetch >= size) {
        return passing
          .sort((a, b) => a.position - b.position)
          .slice(0, limit)
          .map((row) => ({ id: row.id, score: nearest[row.position]!.similarity }));
      }
    }
  }

  /** True when the unfiltered k-NN returned a full k rows (so a larger k could find more). */
  private knnMayHaveMore(params: { agentId: string; vector: Buffer }, k: number): boolean {
    return this.s.knn.all({ vector: params.vector, k, agentId: params.agentId }).length >= k;
  }

  async textSearch(
    agentId: string,
    terms: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]> {
    terms = this.informativeTerms(terms);
    if (terms.length === 0) return [];
    // Terms are normalised words (letters and digits only), so quoting them is enough escaping.
    const match = `agent : "${agentToken(agentId)}" AND text : (${terms.map((t) => `"${t}"`).join(" OR ")})`;
    const params = { ...filterParams(filter, now), agentId, match, limit };
    // Filters apply after ranking, over-fetched: most filters pass most rows. When too few
    // passed and the index had more to give, the filter is selective: filter every match in one
    // pass (widening step by step re-ranked every match up to five times: the slowest recalls).
    const fetch = limit * 2 + 16;
    const rows = this.s.textSearch.all({ ...params, fetch }) as ScoredId[];
    if (rows.length >= limit) return rows;
    const { n } = this.s.textMatches.get(match, fetch) as { n: number };
    if (n < fetch) return rows;
    return this.s.textSearchFilteredFirst.all(params) as ScoredId[];
  }

  /**
   * The query terms that can change a BM25 order. FTS5 floors the inverse document frequency of a
   * term found in more than half of the indexed rows at ~0 (bm25's idf turns negative there), so
   * such a term adds nothing to any score, yet its long list of rows is what an OR query spends
   * most of its time on (in a large store, most of a recall). Leaving it out changes no score;
   * rows that matched only it (score ~0) are no longer returned. Checked only in large stores;
   * the counts are bounded (half the rows plus one) and cached for a minute.
   */
  private informativeTerms(terms: readonly string[]): string[] {
    const total = this.indexedRows();
    if (total < PRUNE_TERMS_FROM) return [...terms];
    const half = Math.floor(total / 2) + 1;
    return terms.filter((term) => {
      let common = this.commonTerms.get(term);
      if (common === undefined) {
        common = (this.s.textMatches.get(`text : "${term}"`, half) as { n: number }).n >= half;
        this.commonTerms.set(term, common);
      }
      return !common;
    });
  }

  /** Rows in the full-text index (one per memory, every agent), re-counted at most every few seconds. */
  private indexedRows(): number {
    const now = Date.now();
    if (now - this.rowCount.at > 5_000)
      this.rowCount = { at: now, n: (this.s.countAll.get() as { n: number }).n };
    return this.rowCount.n;
  }

  async entityMentionCounts(
    agentId: string,
    entityIds: readonly string[],
  ): Promise<{ memories: number; mentions: number[] }> {
    const mentions = entityIds.map(() => 0);
    const rows = this.s.entityMentionCounts.all({ agentId, ids: JSON.stringify(entityIds) }) as {
      position: number;
      n: number;
    }[];
    for (const row of rows) mentions[row.position] = row.n;
    return { memories: this.memoryCount(agentId), mentions };
  }

  /**
   * How many memories the agent has, counted once per revision of the agent (every write bumps
   * it): counting 100k rows on every recall cost more than the rest of the entity signal.
   */
  private memoryCount(agentId: string): number {
    const revision = (this.s.agentRevision.get(agentId) as { revision: number } | undefined)?.revision ?? 0;
    const cached = this.memoryCounts.get(agentId);
    if (cached?.revision === revision) return cached.count;
    const count = (this.s.countAgent.get(agentId) as { n: number }).n;
    this.memoryCounts.set(agentId, { revision, count });
    return count;
  }

  async entitiesByName(agentId: string, normalizedNames: readonly string[]): Promise<EntityRecord[]> {
    if (normalizedNames.length === 0) return [];
    const rows = this.s.entitiesByName.all({
      agentId,
      names: JSON.stringify(normalizedNames),
    }) as EntityRow[];
    return rows.map(toEntity);
  }

  async memoriesMentioning(
    agentId: string,
    entityIds: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<{ id: string; entityIds: string[] }[]> {
    if (entityIds.length === 0) return [];
    const params = { ...filterParams(filter, now), agentId, entityIds: JSON.stringify(entityIds), limit };
    const ranking = entityIds.length === 1 ? this.s.mentioningOne : this.s.mentioning;
    // Filters apply after ranking: over-fetch, and widen while there were more to give.
    for (let fetch = limit * 2 + 16; ; fetch *= 4) {
      const rows = ranking.all({ ...params, fetch }) as { id: string; entity_ids: string }[];
      if (
        rows.length >= limit ||
        (this.s.mentionedMemories.get({ agentId, entityIds: params.entityIds, fetch }) as { n: number }).n <
          fetch
      ) {
        return rows.map((row) => ({ id: row.id, entityIds: JSON.parse(row.entity_ids) as string[] }));
      }
    }
  }

  async candidates(
    agentId: string,
    ids: readonly string[],
    filter: MemoryFilter,
    now: string,
    vectorsFor: ReadonlySet<string>,
  ): Promise<Candidate[]> {
    if (ids.length === 0) return [];
    const rows = this.s.candidates.all({
      ...filterParams(filter, now),
      agentId,
      ids: JSON.stringify(ids),
    }) as MemoryRow[];
    return rows.map((row) => {
      if (!vectorsFor.has(row.id)) return { record: toMemory(row, this.encryption), embedding: null };
      const vector = this.s.vectorOf.get(BigInt(row.seq)) as { embedding: Buffer } | undefined;
      return {
        record: toMemory(row, this.encryption),
        embedding: vector ? blobVector(vector.embedding) : null,
      };
    });
  }

  async embeddingModel(): Promise<EmbeddingModel | null> {
    return this.model.current();
  }

  async reembedStatus(): Promise<ReembedStatus> {
    return this.model.status();
  }

  async startReembed(target: EmbeddingModel): Promise<ReembedStatus> {
    return this.model.start(target);
  }

  async memoriesToReembed(limit: number): Promise<MemoryToEmbed[]> {
    return this.model.next(limit);
  }

  async saveReembedded(vectors: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    this.model.save(vectors);
  }

  async finishReembed(): Promise<{ switched: boolean; remaining: number }> {
    return this.model.finish((target) => {
      this.dimensions = target.dimensions;
      this.index = new SqliteVectorIndex(this.db, target.dimensions);
    });
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/**
 * The vector table's size is fixed when it is created, so it is created outside the numbered
 * migrations, with the configured size, and that size is recorded; a later start with another
 * embedder size is refused instead of mixing vectors of different models.
 */
/** Fills memory_embeddings from the vector table once, for stores created before it existed. */
function copyEmbeddingsOnce(db: SqliteDatabase): void {
  const done = db.prepare("SELECT value FROM memory_meta WHERE key = 'embeddings_copied'").get();
  if (done) return;
  db.transaction(() => {
    db.exec(
      `INSERT OR IGNORE INTO memory_embeddings (seq, embedding)
       SELECT v.rowid, v.embedding FROM memory_vectors v JOIN memories m ON m.seq = v.rowid`,
    );
    db.prepare("INSERT INTO memory_meta (key, value) VALUES ('embeddings_copied', '1')").run();
  })();
}

function ensureVectorTable(db: SqliteDatabase, dimensions: number): number {
  const row = db.prepare("SELECT value FROM memory_meta WHERE key = 'dimensions'").get() as
    | { value: string }
    | undefined;
  if (row) {
    const stored = Number(row.value);
    if (dimensions !== 0 && stored !== dimensions) throw new DimensionMismatchError(stored, dimensions);
    return stored;
  }
  if (dimensions === 0) throw new Error("this memory store has no vectors yet: there is nothing to open");
  db.transaction(() => {
    db.exec(vectorTableSql(dimensions));
    db.prepare("INSERT INTO memory_meta (key, value) VALUES ('dimensions', ?)").run(String(dimensions));
  })();
  return dimensions;
}
