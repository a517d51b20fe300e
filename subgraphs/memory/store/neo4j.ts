/**
 * MemoryStore on Neo4j: memories, entities and their edges as a property graph.
 *
 *   (:Memory {id, agentId, seq, ...})-[:MENTIONS]->(:Entity {id, key: "<agent>#<normalised name>"})
 *   (:Entity)-[:RELATED {type}]->(:Entity)
 *   (:Memory)-[:FOLLOWS]->(:Memory)        previous memory of the same session
 *   (:Memory)-[:DERIVED_FROM]->(:Memory)
 *   (:Agent {id, memoryRevision, memorySeq, entitySeq, memoryConfig})
 *
 * A vector index on Memory.embedding (cosine) and a full-text index on Memory.searchText serve
 * recall. Neither can be restricted to one agent, so vector queries over-fetch and post-filter
 * by agent (widening until k survive), and full-text queries add the agent's opaque token
 * (Memory.agentToken, in the same index) as a required clause.
 *
 * Every write starts by bumping the agent's memoryRevision, which takes the Agent node's write
 * lock: writers of one agent queue, so the duplicate check and the insert cannot interleave.
 * Labels and relationship types are fixed in the statements below, never built from input.
 */
import { LRUCache } from "lru-cache";
import { type Integer, isNode, type Node } from "neo4j-driver";
import { type Encryptor, plaintextStorage } from "../../../core/crypto/encryption.js";
import {
  type Driver,
  ensureSchema,
  type ManagedTransaction,
  neo4j,
  runRead,
  runWrite,
  toNumber,
} from "../../../core/store/neo4j.js";
import type { Revisioned } from "../../../core/store/revisioned.js";
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
import { MEMORY_LINK_TYPES } from "../domain/model.js";
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
import { Neo4jEmbeddingModel } from "./neo4j-embedding-model.js";

/** The filter over `m` as a fixed Cypher fragment; unset parameters are null and switch their clause off. */
const FILTER = `($kinds IS NULL OR m.kind IN $kinds)
  AND ($modalities IS NULL OR m.modality IN $modalities)
  AND ($tags IS NULL OR any(tag IN m.tags WHERE tag IN $tags))
  AND ($occurredAfter IS NULL OR m.occurredAt >= $occurredAfter)
  AND ($occurredBefore IS NULL OR m.occurredAt < $occurredBefore)
  AND ($sessionId IS NULL OR m.sessionId = $sessionId)
  AND ($asOf IS NULL OR m.createdAt <= $asOf)
  AND ($includeInvalid OR ((m.validUntil IS NULL OR m.validUntil > $at) AND (m.validFrom IS NULL OR m.validFrom <= $at)))`;

const VECTOR_INDEX = "memory_embedding";
const TEXT_INDEX = "memory_text";
/** Largest over-fetch of the vector index before giving up on finding k of this agent's memories. */
const MAX_VECTOR_FETCH = 10_000;
/** Stored memories of one frame a write compares with (the most recent): bounds a write's reads. */
const FRAME_MATCHES = 20;
/** Largest over-fetch of the full-text index when a filter discards most of an agent's matches. */
const MAX_TEXT_FETCH = 10_000;
/**
 * The share of index hits assumed to survive an agent's first search (before one was measured):
 * the first fetch is then ~4 × limit, as it always was before shares were measured.
 */
const FIRST_SEARCH_SHARE = 0.3;

/** Whether the filter is more than the validity check every recall applies. */
function narrowing(filter: MemoryFilter): boolean {
  return Boolean(
    filter.kinds?.length ||
      filter.tags?.length ||
      filter.modalities?.length ||
      filter.occurredAfter ||
      filter.occurredBefore ||
      filter.sessionId ||
      filter.asOf,
  );
}

/** The vector index's size is fixed at creation; `dimensions` is a validated integer from configuration. */
export function memoryVectorIndexCypher(dimensions: number): string {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 8192) {
    throw new Error(`embedding dimensions must be an integer from 1 to 8192 (got ${dimensions})`);
  }
  return `CREATE VECTOR INDEX ${VECTOR_INDEX} IF NOT EXISTS FOR (m:Memory) ON m.embedding
OPTIONS {indexConfig: {\`vector.dimensions\`: ${dimensions}, \`vector.similarity_function\`: 'cosine'}}`;
}

/** Every statement this adapter sends; each is linted by the Cypher linter in `npm test`. */
export const MEMORY_CYPHER = {
  memoryIdConstraint: "CREATE CONSTRAINT memory_id IF NOT EXISTS FOR (m:Memory) REQUIRE m.id IS UNIQUE",
  entityIdConstraint: "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
  entityKeyConstraint: "CREATE CONSTRAINT entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE e.key IS UNIQUE",
  memoryAgentIndex: "CREATE INDEX memory_agent_seq IF NOT EXISTS FOR (m:Memory) ON (m.agentId, m.seq)",
  memoryHashIndex:
    "CREATE INDEX memory_agent_hash IF NOT EXISTS FOR (m:Memory) ON (m.agentId, m.contentHash)",
  memorySessionIndex:
    "CREATE INDEX memory_agent_session IF NOT EXISTS FOR (m:Memory) ON (m.agentId, m.sessionId)",
  memoryStatementIndex:
    "CREATE INDEX memory_agent_statement IF NOT EXISTS FOR (m:Memory) ON (m.agentId, m.statementKey)",
  memoryFrameIndex: "CREATE INDEX memory_agent_frame IF NOT EXISTS FOR (m:Memory) ON (m.agentId, m.frameKey)",
  entityAgentIndex: "CREATE INDEX entity_agent_seq IF NOT EXISTS FOR (e:Entity) ON (e.agentId, e.seq)",
  vectorIndex: memoryVectorIndexCypher(512),
  textIndex: `CREATE FULLTEXT INDEX ${TEXT_INDEX} IF NOT EXISTS FOR (m:Memory) ON EACH [m.searchText, m.agentToken]
OPTIONS {indexConfig: {\`fulltext.analyzer\`: 'english'}}`,
  readDimensions: "MATCH (s:MemoryStoreMeta {name: 'memory'}) RETURN s.dimensions AS dimensions",
  recordDimensions: `MERGE (s:MemoryStoreMeta {name: 'memory'})
ON CREATE SET s.dimensions = $dimensions
RETURN s.dimensions AS dimensions`,

  lockAgent: `MERGE (a:Agent {id: $agentId})
ON CREATE SET a.createdAt = datetime()
SET a.memoryRevision = coalesce(a.memoryRevision, 0) + 1
WITH a
OPTIONAL MATCH (m:Memory {agentId: $agentId})
RETURN a.memoryRevision AS revision, count(m) AS memories`,
  // A write's reads (WriteQuery): valid memories by content hash, statement key or frame key
  // (the newest $frameMatches of each frame), each lookup on its own index.
  writeMatches: `CALL () {
  MATCH (m:Memory)
  WHERE m.agentId = $agentId AND m.contentHash IN $hashes
  RETURN m
  UNION
  MATCH (m:Memory)
  WHERE m.agentId = $agentId AND m.statementKey IN $statements
  RETURN m
  UNION
  UNWIND $frames AS frame
  CALL (frame) {
    MATCH (m:Memory)
    WHERE m.agentId = $agentId AND m.frameKey = frame
    RETURN m
    ORDER BY m.seq DESC
    LIMIT $frameMatches
  }
  RETURN m
}
WITH m
WHERE ${FILTER}
RETURN m`,
  referenced: `MATCH (m:Memory)
WHERE m.id IN $ids AND m.agentId = $agentId
RETURN m`,
  sessionHeads: `UNWIND $sessionIds AS sessionId
CALL (sessionId) {
  MATCH (m:Memory)
  WHERE m.agentId = $agentId AND m.sessionId = sessionId
  RETURN m.id AS id, m.embedding AS embedding
  ORDER BY m.occurredAt DESC, m.seq DESC
  LIMIT 1
}
RETURN sessionId, id, embedding`,
  // A write's changes, one statement per kind of change (UNWIND over the batch): a batch of 100
  // memories with their entities costs a handful of round trips, not hundreds.
  insertMemories: `MATCH (a:Agent {id: $agentId})
WITH a, coalesce(a.memorySeq, 0) AS base
SET a.memorySeq = base + size($items)
WITH base
UNWIND range(0, size($items) - 1) AS i
CREATE (m:Memory)
SET m = $items[i], m.seq = base + i + 1, m.accessCount = 0`,
  createEntities: `MATCH (a:Agent {id: $agentId})
UNWIND $entities AS entity
OPTIONAL MATCH (found:Entity {key: entity.key})
WITH a, entity, found
ORDER BY entity.position
WITH a, [e IN collect(CASE WHEN found IS NULL THEN entity END) WHERE e IS NOT NULL] AS fresh
WITH a, fresh, coalesce(a.entitySeq, 0) AS base
SET a.entitySeq = base + size(fresh)
WITH fresh, base
UNWIND range(0, size(fresh) - 1) AS i
CREATE (:Entity {key: fresh[i].key, id: fresh[i].entityId, agentId: $agentId, name: fresh[i].name,
                 normalizedName: fresh[i].normalizedName, type: fresh[i].type, createdAt: $now,
                 revision: $revision, seq: base + i + 1})`,
  linkMentions: `UNWIND $mentions AS mention
MATCH (m:Memory {id: mention.memoryId})
MATCH (e:Entity {key: mention.key})
MERGE (m)-[:MENTIONS]->(e)
RETURN collect(DISTINCT e.id) AS ids`,
  linkRelations: `UNWIND $relations AS relation
MATCH (f:Entity {key: relation.fromKey})
MATCH (t:Entity {key: relation.toKey})
MERGE (f)-[:RELATED {type: relation.type}]->(t)`,
  mergeMemories: `UNWIND $merges AS merge
MATCH (m:Memory {id: merge.id, agentId: $agentId})
SET m.tags = merge.tags, m.importance = merge.importance, m.occurredAt = merge.occurredAt,
    m.metadata = merge.metadata, m.variants = merge.variants, m.accessCount = coalesce(m.accessCount, 0) + 1,
    m.lastAccessedAt = $now, m.revision = $revision`,
  invalidateMany: `UNWIND $items AS item
MATCH (m:Memory {id: item.id, agentId: $agentId})
SET m.validUntil = item.validUntil, m.revision = $revision
RETURN m`,
  deleteMemory: `MATCH (m:Memory {id: $id, agentId: $agentId})
OPTIONAL MATCH (m)-[:FOLLOWS]->(previous:Memory)
OPTIONAL MATCH (next:Memory)-[:FOLLOWS]->(m)
WITH m, previous, collect(next) AS nexts
FOREACH (n IN CASE WHEN previous IS NULL THEN [] ELSE nexts END | MERGE (n)-[:FOLLOWS]->(previous))
DETACH DELETE m
RETURN count(*) AS deleted`,
  entitiesOfMemory: `MATCH (:Memory {id: $id, agentId: $agentId})-[:MENTIONS]->(e:Entity)
RETURN e.id AS id`,
  deleteOrphanEntities: `UNWIND $entityIds AS entityId
MATCH (e:Entity {id: entityId})
WHERE NOT EXISTS { (e)<-[:MENTIONS]-(:Memory) }
WITH e, e.id AS id
DETACH DELETE e
RETURN id`,
  reinforce: `MATCH (m:Memory {id: $id, agentId: $agentId})
SET m.usefulCount = coalesce(m.usefulCount, 0) + $useful,
    m.notUsefulCount = coalesce(m.notUsefulCount, 0) + $notUseful
RETURN m.lastComponents AS lastComponents`,
  resetFeedback: `MATCH (m:Memory {agentId: $agentId})
WHERE m.usefulCount > 0 OR m.notUsefulCount > 0
SET m.usefulCount = 0, m.notUsefulCount = 0`,
  invalidate: `MATCH (m:Memory {id: $id, agentId: $agentId})
SET m.validUntil = $validUntil, m.revision = $revision
RETURN m`,
  policyVictims: `MATCH (m:Memory {agentId: $agentId})
WHERE coalesce(m.pinned, false) = false AND (
  ($occurredBefore IS NOT NULL AND m.occurredAt < $occurredBefore)
  OR ($inactiveSince IS NOT NULL AND coalesce(m.lastAccessedAt, m.createdAt) < $inactiveSince)
  OR ($minImportance IS NOT NULL AND m.importance < $minImportance))
RETURN m.id AS id`,
  capacityVictims: `MATCH (m:Memory {agentId: $agentId})
WHERE coalesce(m.pinned, false) = false AND NOT m.id IN $exclude
RETURN m.id AS id
ORDER BY m.importance ASC, coalesce(m.lastAccessedAt, m.occurredAt) ASC, m.seq ASC
LIMIT $limit`,
  moveToKept: `MATCH (keep:Memory {id: $keepId, agentId: $agentId})
MATCH (from:Memory {id: $fromId, agentId: $agentId})
OPTIONAL MATCH (from)-[:MENTIONS]->(e:Entity)
WITH keep, from, collect(e) AS entities
FOREACH (e IN entities | MERGE (keep)-[:MENTIONS]->(e))
WITH keep, from
OPTIONAL MATCH (from)-[:DERIVED_FROM]->(source:Memory)
WHERE source <> keep
WITH keep, from, collect(source) AS sources
FOREACH (s IN sources | MERGE (keep)-[:DERIVED_FROM]->(s))
WITH keep, from
OPTIONAL MATCH (derived:Memory)-[:DERIVED_FROM]->(from)
WHERE derived <> keep
WITH keep, from, collect(derived) AS derivations
FOREACH (d IN derivations | MERGE (d)-[:DERIVED_FROM]->(keep))
SET keep.accessCount = coalesce(keep.accessCount, 0) + coalesce(from.accessCount, 0),
    keep.usefulCount = coalesce(keep.usefulCount, 0) + coalesce(from.usefulCount, 0),
    keep.notUsefulCount = coalesce(keep.notUsefulCount, 0) + coalesce(from.notUsefulCount, 0),
    keep.lastAccessedAt = CASE WHEN from.lastAccessedAt IS NULL THEN keep.lastAccessedAt
      WHEN keep.lastAccessedAt IS NULL OR keep.lastAccessedAt < from.lastAccessedAt THEN from.lastAccessedAt
      ELSE keep.lastAccessedAt END
RETURN count(*) AS moved`,
  updateConsolidated: `MATCH (m:Memory {id: $id, agentId: $agentId})
SET m.tags = $tags, m.importance = $importance, m.occurredAt = $occurredAt, m.metadata = $metadata,
    m.variants = $variants, m.pinned = $pinned, m.consolidation = $consolidation, m.revision = $revision`,
  configuredAgents: `MATCH (a:Agent)
WHERE a.memoryConfig IS NOT NULL
RETURN a.id AS agentId
ORDER BY agentId`,
  memoryExists: `MATCH (m:Memory {id: $id, agentId: $agentId})
RETURN count(m) AS found`,
  countMemories: `MATCH (m:Memory {agentId: $agentId})
RETURN count(m) AS total`,
  agentRevision: `OPTIONAL MATCH (a:Agent {id: $agentId})
RETURN coalesce(a.memoryRevision, 0) AS revision`,
  recordAccess: `UNWIND $updates AS update
MATCH (m:Memory {id: update.id})
SET m.accessCount = coalesce(m.accessCount, 0) + update.count,
    m.lastAccessedAt = CASE WHEN m.lastAccessedAt IS NULL OR m.lastAccessedAt < update.at
                            THEN update.at ELSE m.lastAccessedAt END,
    m.lastComponents = coalesce(update.components, m.lastComponents)`,
  getConfig: `MATCH (a:Agent {id: $agentId})
RETURN a.memoryConfig AS config`,
  // Bumping memoryRevision takes the Agent node's write lock (as every write does, see the top),
  // so concurrent configuration updates queue here instead of reading the same configuration;
  // and a new configuration is a new revision, as in the SQLite adapter.
  lockConfig: `MERGE (a:Agent {id: $agentId})
ON CREATE SET a.createdAt = datetime()
SET a.memoryRevision = coalesce(a.memoryRevision, 0) + 1
RETURN a.memoryConfig AS config`,
  putConfig: `MATCH (a:Agent {id: $agentId})
SET a.memoryConfig = $config`,

  memoriesById: `UNWIND range(0, size($ids) - 1) AS position
MATCH (m:Memory {id: $ids[position]})
RETURN position, m`,
  entitiesById: `UNWIND range(0, size($ids) - 1) AS position
MATCH (e:Entity {id: $ids[position]})
RETURN position, e`,
  similarities: `UNWIND range(0, size($ids) - 1) AS position
MATCH (m:Memory {id: $ids[position]})
WHERE m.agentId = $agentId AND m.embedding IS NOT NULL
RETURN position, vector.similarity.cosine(m.embedding, $vector) AS score`,
  accessById: `UNWIND range(0, size($ids) - 1) AS position
MATCH (m:Memory {id: $ids[position]})
RETURN position, m.lastAccessedAt AS lastAccessedAt, coalesce(m.accessCount, 0) AS accessCount,
       coalesce(m.usefulCount, 0) AS usefulCount, coalesce(m.notUsefulCount, 0) AS notUsefulCount`,
  listPage: `MATCH (m:Memory {agentId: $agentId})
WHERE m.seq < $before AND ${FILTER}
RETURN m
ORDER BY m.seq DESC
LIMIT $limit`,
  listCount: `MATCH (m:Memory {agentId: $agentId})
WHERE ${FILTER}
RETURN count(m) AS total`,
  entityPage: `MATCH (e:Entity {agentId: $agentId})
WHERE e.seq > $after
RETURN e
ORDER BY e.seq ASC
LIMIT $limit`,
  entityCount: `MATCH (e:Entity {agentId: $agentId})
RETURN count(e) AS total`,
  mentions: `UNWIND range(0, size($ids) - 1) AS position
MATCH (m:Memory {id: $ids[position]})-[:MENTIONS]->(e:Entity)
RETURN position, e.id AS entityId
ORDER BY e.seq`,
  relations: `UNWIND $ids AS id
MATCH (f:Entity {id: id})-[r:RELATED]->(t:Entity)
RETURN f.id AS fromId, t.id AS toId, r.type AS type
UNION
UNWIND $ids AS id
MATCH (f:Entity)-[r:RELATED]->(t:Entity {id: id})
RETURN f.id AS fromId, t.id AS toId, r.type AS type`,
  links: `UNWIND $ids AS id
MATCH (f:Memory {id: id})-[l:FOLLOWS|DERIVED_FROM|CONTRADICTS|SUPERSEDES]->(t:Memory)
RETURN f.id AS fromId, t.id AS toId, type(l) AS type
UNION
UNWIND $ids AS id
MATCH (f:Memory)-[l:FOLLOWS|DERIVED_FROM|CONTRADICTS|SUPERSEDES]->(t:Memory {id: id})
RETURN f.id AS fromId, t.id AS toId, type(l) AS type`,
  // Both searches return one row: how many hits the index gave (`fetched`, to know whether
  // widening can find more), how many of them are this agent's and pass the filter
  // (`survived`, to size the next search) and the best `limit` of those, best first.
  vectorSearch: `CALL db.index.vector.queryNodes('${VECTOR_INDEX}', $fetch, $vector) YIELD node, score
WITH collect(node) AS hits
CALL (hits) {
  UNWIND hits AS m
  WITH m
  WHERE m.agentId = $agentId AND ${FILTER}
  // The index's own score is approximate (off by up to ~3e-4 in cosine): rank and report the exact one.
  WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
  ORDER BY score DESC, m.seq DESC
  WITH collect({id: m.id, score: score}) AS survivors
  RETURN size(survivors) AS survived, survivors[..$limit] AS matches
}
RETURN size(hits) AS fetched, survived, matches`,
  textSearch: `CALL db.index.fulltext.queryNodes('${TEXT_INDEX}', $query, {limit: $fetch}) YIELD node, score
WITH collect({node: node, score: score}) AS hits
CALL (hits) {
  UNWIND hits AS hit
  WITH hit.node AS m, hit.score AS score
  WHERE m.agentId = $agentId AND ${FILTER}
  WITH m, score
  ORDER BY score DESC, m.seq DESC
  WITH collect({id: m.id, score: score}) AS survivors
  RETURN size(survivors) AS survived, survivors[..$limit] AS matches
}
RETURN size(hits) AS fetched, survived, matches`,
  entityMentionCounts: `UNWIND range(0, size($ids) - 1) AS position
MATCH (e:Entity {id: $ids[position], agentId: $agentId})
// Only memories mention entities, so the relationship count (the node's degree, stored) is the
// count of memories; naming the label made Neo4j read every one (~90 ms for 9k at 100k).
RETURN position, COUNT { (e)<-[:MENTIONS]-() } AS mentions`,
  entitiesByName: `MATCH (e:Entity)
WHERE e.key IN [name IN $names | $agentId + '#' + name]
RETURN e`,
  mentioning: `MATCH (e:Entity)<-[:MENTIONS]-(m:Memory)
WHERE e.id IN $entityIds AND e.agentId = $agentId AND ${FILTER}
WITH m, collect(e.id) AS entityIds
RETURN m.id AS id, entityIds
ORDER BY size(entityIds) DESC, m.seq DESC
LIMIT $limit`,
  candidates: `MATCH (m:Memory)
WHERE m.id IN $ids AND m.agentId = $agentId AND ${FILTER}
RETURN m {.id, .agentId, .content, .kind, .tags, .importance, .createdAt, .occurredAt, .metadata, .modality,
          .mediaUri, .caption, .validFrom, .validUntil, .sessionId, .pinned, .consolidation, .variants} AS m,
       CASE WHEN m.id IN $vectorsFor THEN m.embedding ELSE null END AS embedding`,
  ping: "RETURN 1 AS ok",
} as const;

/**
 * Links between memories, one statement per type: a relationship type cannot be a parameter, so
 * each is written into its statement from the fixed list of link types (never from data). Both
 * ends must be the agent's.
 */
export const LINK_CYPHER = Object.fromEntries(
  MEMORY_LINK_TYPES.map((type) => [
    type,
    `UNWIND $pairs AS pair
MATCH (f:Memory {id: pair.fromId, agentId: $agentId})
MATCH (t:Memory {id: pair.toId, agentId: $agentId})
MERGE (f)-[:${type}]->(t)`,
  ]),
) as Record<MemoryLinkType, string>;

type GraphNode = Node<Integer, Record<string, unknown>>;

/** From a node, or from a map projection of one (which leaves the vector behind). */
function toMemory(node: GraphNode | Record<string, unknown>, encryption: Encryptor): MemoryRecord {
  const p = isNode(node) ? node.properties : node;
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  const id = p.id as string;
  return {
    id,
    agentId: p.agentId as string,
    ...openMemoryFields(encryption, id, {
      content: p.content as string,
      caption: text(p.caption),
      metadata: text(p.metadata),
      variants: text(p.variants),
    }),
    kind: p.kind as MemoryKind,
    tags: (p.tags as string[] | undefined) ?? [],
    importance: Number(p.importance),
    createdAt: p.createdAt as string,
    occurredAt: p.occurredAt as string,
    modality: p.modality as Modality,
    mediaUri: text(p.mediaUri),
    validFrom: text(p.validFrom),
    validUntil: text(p.validUntil),
    sessionId: text(p.sessionId),
    pinned: p.pinned === true,
    consolidation: p.consolidation ? (JSON.parse(p.consolidation as string) as ConsolidationEvidence) : null,
  };
}

function toEntity(node: GraphNode): EntityRecord {
  const p = node.properties;
  return {
    id: p.id as string,
    agentId: p.agentId as string,
    name: p.name as string,
    normalizedName: p.normalizedName as string,
    type: p.type as string,
    createdAt: p.createdAt as string,
  };
}

function filterParams(filter: MemoryFilter, now: string) {
  const list = (values?: readonly string[]) => (values && values.length > 0 ? [...values] : null);
  return {
    kinds: list(filter.kinds),
    modalities: list(filter.modalities),
    tags: list(filter.tags),
    occurredAfter: filter.occurredAfter ?? null,
    occurredBefore: filter.occurredBefore ?? null,
    sessionId: filter.sessionId ?? null,
    asOf: filter.asOf ?? null,
    includeInvalid: filter.includeInvalid ?? false,
    at: filter.asOf ?? now,
  };
}

/** Neo4j's cosine index score is (1 + cosine) / 2; the port speaks plain cosine. */
const scoreToCosine = (score: number) => 2 * score - 1;
const entityKey = (agentId: string, normalizedName: string) => `${agentId}#${normalizedName}`;

/** Deletes a memory (keeping its session chain connected) and the entities only it mentioned. */
async function deleteMemoryTx(tx: ManagedTransaction, agentId: string, id: string): Promise<string[]> {
  const entities = await tx.run(MEMORY_CYPHER.entitiesOfMemory, { id, agentId });
  await tx.run(MEMORY_CYPHER.deleteMemory, { id, agentId });
  const entityIds = entities.records.map((row) => row.get("id") as string);
  if (entityIds.length === 0) return [];
  const deleted = await tx.run(MEMORY_CYPHER.deleteOrphanEntities, { entityIds });
  return deleted.records.map((row) => row.get("id") as string);
}

/** The vector size a Neo4j memory store holds (for maintenance tools that open it as it is). */
export async function storedNeo4jDimensions(driver: Driver, database: string): Promise<number> {
  const result = await runRead(driver, database, (tx) => tx.run(MEMORY_CYPHER.readDimensions));
  const dimensions = result.records[0]?.get("dimensions");
  if (dimensions === undefined || dimensions === null) {
    throw new Error("this memory store has no vectors yet: there is nothing to open");
  }
  return toNumber(dimensions);
}

/** With `model`, the store records it on first start and refuses another model afterwards. */
export async function createNeo4jMemoryStore(
  driver: Driver,
  database: string,
  dimensions: number,
  encryption: Encryptor = plaintextStorage,
  model?: EmbeddingModel,
): Promise<MemoryStore> {
  const schema = [
    MEMORY_CYPHER.memoryIdConstraint,
    MEMORY_CYPHER.entityIdConstraint,
    MEMORY_CYPHER.entityKeyConstraint,
    MEMORY_CYPHER.memoryAgentIndex,
    MEMORY_CYPHER.memoryHashIndex,
    MEMORY_CYPHER.memorySessionIndex,
    MEMORY_CYPHER.memoryStatementIndex,
    MEMORY_CYPHER.memoryFrameIndex,
    MEMORY_CYPHER.entityAgentIndex,
    memoryVectorIndexCypher(dimensions),
    MEMORY_CYPHER.textIndex,
  ];
  await ensureSchema(driver, database, schema);
  const recorded = await runWrite(driver, database, (tx) =>
    tx.run(MEMORY_CYPHER.recordDimensions, { dimensions: neo4j.int(dimensions) }),
  );
  const stored = toNumber(recorded.records[0]!.get("dimensions"));
  const models = new Neo4jEmbeddingModel(driver, database);
  // Another model is named before another size: it says more about what to do.
  if (model) await models.refuseOther(model);
  if (stored !== dimensions) throw new DimensionMismatchError(stored, dimensions);
  if (model) await models.record(model);
  return new Neo4jMemoryStore(driver, database, dimensions, encryption);
}

export class Neo4jMemoryStore implements MemoryStore {
  private readonly model: Neo4jEmbeddingModel;

  /**
   * Each agent's memory count at a memory revision (every write, forget and eviction bumps it):
   * counting 100k memories on every recall cost tens of milliseconds.
   */
  private readonly memoryCounts = new LRUCache<string, { revision: number; count: number }>({ max: 10_000 });

  /** Per agent, index and kind of filter: the share of the last search's hits that survived (see `widening`). */
  private readonly searchShares = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    /** Changes only when a re-embedding swaps the vectors. */
    public dimensions: number,
    private readonly encryption: Encryptor = plaintextStorage,
  ) {
    this.model = new Neo4jEmbeddingModel(driver, database);
  }

  embeddingModel(): Promise<EmbeddingModel | null> {
    return this.model.current();
  }

  reembedStatus(): Promise<ReembedStatus> {
    return this.model.status();
  }

  startReembed(target: EmbeddingModel): Promise<ReembedStatus> {
    return this.model.start(target);
  }

  memoriesToReembed(limit: number): Promise<MemoryToEmbed[]> {
    return this.model.next(limit, this.encryption);
  }

  saveReembedded(vectors: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    return this.model.save(vectors);
  }

  async finishReembed(): Promise<{ switched: boolean; remaining: number }> {
    const { switched, remaining } = await this.model.finish(memoryVectorIndexCypher);
    if (switched) this.dimensions = switched.dimensions;
    return { switched: switched !== null, remaining };
  }

  private readTx<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runRead(this.driver, this.database, work);
  }

  private writeTx<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runWrite(this.driver, this.database, work);
  }

  async getMemories(ids: readonly string[]): Promise<Revisioned<MemoryRecord>[]> {
    const results: Revisioned<MemoryRecord>[] = ids.map(() => ({ revision: 0, value: null }));
    if (ids.length === 0) return results;
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.memoriesById, { ids: [...ids] }));
    for (const row of result.records) {
      const node = row.get("m") as GraphNode;
      results[toNumber(row.get("position"))] = {
        revision: toNumber(node.properties.revision),
        value: toMemory(node, this.encryption),
      };
    }
    return results;
  }

  async getEntities(ids: readonly string[]): Promise<Revisioned<EntityRecord>[]> {
    const results: Revisioned<EntityRecord>[] = ids.map(() => ({ revision: 0, value: null }));
    if (ids.length === 0) return results;
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.entitiesById, { ids: [...ids] }));
    for (const row of result.records) {
      const node = row.get("e") as GraphNode;
      results[toNumber(row.get("position"))] = {
        revision: toNumber(node.properties.revision),
        value: toEntity(node),
      };
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
    const result = await this.readTx((tx) =>
      tx.run(MEMORY_CYPHER.similarities, { agentId, ids: [...ids], vector: [...vector] }),
    );
    for (const row of result.records) {
      results[toNumber(row.get("position"))] = scoreToCosine(row.get("score") as number);
    }
    return results;
  }

  async accessStats(ids: readonly string[]): Promise<(AccessStats | null)[]> {
    const results: (AccessStats | null)[] = ids.map(() => null);
    if (ids.length === 0) return results;
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.accessById, { ids: [...ids] }));
    for (const row of result.records) {
      results[toNumber(row.get("position"))] = {
        lastAccessedAt: (row.get("lastAccessedAt") as string | null) ?? null,
        accessCount: toNumber(row.get("accessCount")),
        usefulCount: toNumber(row.get("usefulCount")),
        notUsefulCount: toNumber(row.get("notUsefulCount")),
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
    return this.readTx(async (tx) => {
      const page = await tx.run(MEMORY_CYPHER.listPage, {
        ...params,
        before: neo4j.int(after ?? Number.MAX_SAFE_INTEGER),
        limit: neo4j.int(first + 1),
      });
      const count = await tx.run(MEMORY_CYPHER.listCount, params);
      const nodes = page.records.map((row) => row.get("m") as GraphNode);
      return {
        items: nodes
          .slice(0, first)
          .map((node) => ({ node: toMemory(node, this.encryption), cursor: toNumber(node.properties.seq) })),
        hasNextPage: nodes.length > first,
        totalCount: toNumber(count.records[0]?.get("total") ?? 0),
      };
    });
  }

  async listEntities(agentId: string, first: number, after: number | undefined): Promise<Page<EntityRecord>> {
    return this.readTx(async (tx) => {
      const page = await tx.run(MEMORY_CYPHER.entityPage, {
        agentId,
        after: neo4j.int(after ?? 0),
        limit: neo4j.int(first + 1),
      });
      const count = await tx.run(MEMORY_CYPHER.entityCount, { agentId });
      const nodes = page.records.map((row) => row.get("e") as GraphNode);
      return {
        items: nodes
          .slice(0, first)
          .map((node) => ({ node: toEntity(node), cursor: toNumber(node.properties.seq) })),
        hasNextPage: nodes.length > first,
        totalCount: toNumber(count.records[0]?.get("total") ?? 0),
      };
    });
  }

  async mentions(memoryIds: readonly string[]): Promise<string[][]> {
    const results: string[][] = memoryIds.map(() => []);
    if (memoryIds.length === 0) return results;
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.mentions, { ids: [...memoryIds] }));
    for (const row of result.records)
      results[toNumber(row.get("position"))]!.push(row.get("entityId") as string);
    return results;
  }

  async relations(entityIds: readonly string[]): Promise<RelationRecord[]> {
    if (entityIds.length === 0) return [];
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.relations, { ids: [...entityIds] }));
    return result.records.map((row) => ({
      fromId: row.get("fromId") as string,
      toId: row.get("toId") as string,
      type: row.get("type") as string,
    }));
  }

  async links(memoryIds: readonly string[]): Promise<MemoryLink[]> {
    if (memoryIds.length === 0) return [];
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.links, { ids: [...memoryIds] }));
    return result.records.map((row) => ({
      fromId: row.get("fromId") as string,
      toId: row.get("toId") as string,
      type: row.get("type") as MemoryLinkType,
    }));
  }

  /** One transaction function; the driver may retry it, and every step recomputes from the database. */
  async write(query: WriteQuery, plan: (snapshot: WriteSnapshot) => WritePlan): Promise<WriteResult> {
    const { agentId } = query;
    // The first statement bumps the agent's revision, taking the Agent node's write lock: the
    // reads below and the changes that follow cannot interleave with another writer of this
    // agent. The driver may retry the whole function; `plan` is pure, so it decides the same.
    return this.writeTx(async (tx) => {
      const snapshot = await this.readSnapshot(tx, query);
      return this.apply(tx, agentId, snapshot, plan(snapshot));
    });
  }

  private async readSnapshot(tx: ManagedTransaction, query: WriteQuery): Promise<WriteSnapshot> {
    const { agentId } = query;
    const lock = (await tx.run(MEMORY_CYPHER.lockAgent, { agentId })).records[0]!;
    const matches = await tx.run(MEMORY_CYPHER.writeMatches, {
      ...filterParams({}, query.now),
      agentId,
      hashes: query.contentHashes,
      statements: query.statementKeys,
      frames: query.frameKeys,
      frameMatches: neo4j.int(FRAME_MATCHES),
    });
    const referenced = await tx.run(MEMORY_CYPHER.referenced, { agentId, ids: query.referencedIds });
    const heads = await tx.run(MEMORY_CYPHER.sessionHeads, { agentId, sessionIds: query.sessionIds });
    const eviction =
      query.evictionCandidates === 0
        ? null
        : await tx.run(MEMORY_CYPHER.capacityVictims, {
            agentId,
            exclude: [],
            limit: neo4j.int(query.evictionCandidates),
          });
    return {
      revision: toNumber(lock.get("revision")),
      memoryCount: toNumber(lock.get("memories")),
      matches: matches.records.map((row) => {
        const node = row.get("m") as GraphNode;
        const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
        return {
          record: toMemory(node, this.encryption),
          contentHash: node.properties.contentHash as string,
          statementKey: text(node.properties.statementKey),
          frameKey: text(node.properties.frameKey),
        };
      }),
      referenced: referenced.records.map((row) => toMemory(row.get("m") as GraphNode, this.encryption)),
      sessionHeads: heads.records.map((row) => {
        const embedding = row.get("embedding") as number[] | null;
        return {
          sessionId: row.get("sessionId") as string,
          id: row.get("id") as string,
          embedding: embedding ? Float32Array.from(embedding) : null,
        };
      }),
      evictionOrder: eviction ? eviction.records.map((row) => row.get("id") as string) : [],
    };
  }

  private async apply(
    tx: ManagedTransaction,
    agentId: string,
    snapshot: WriteSnapshot,
    plan: WritePlan,
  ): Promise<WriteResult> {
    const revision = neo4j.int(snapshot.revision);
    const now = new Date().toISOString();
    if (plan.creates.length > 0) {
      const items = plan.creates.map((item) => {
        const record = item.record;
        return {
          id: record.id,
          agentId,
          ...sealMemoryFields(this.encryption, record),
          contentHash: item.contentHash,
          statementKey: item.statementKey,
          frameKey: item.frameKey,
          searchText: item.searchText,
          agentToken: agentToken(agentId),
          kind: record.kind,
          tags: record.tags,
          importance: record.importance,
          createdAt: record.createdAt,
          occurredAt: record.occurredAt,
          modality: record.modality,
          mediaUri: record.mediaUri,
          validFrom: record.validFrom,
          validUntil: record.validUntil,
          sessionId: record.sessionId,
          pinned: record.pinned,
          consolidation: record.consolidation === null ? null : JSON.stringify(record.consolidation),
          revision,
          embedding: item.embedding ? [...item.embedding] : null,
        };
      });
      await tx.run(MEMORY_CYPHER.insertMemories, { agentId, items });
    }
    if (plan.merges.length > 0) {
      const merges = plan.merges.map((record) => {
        const sealed = sealMemoryFields(this.encryption, record);
        return {
          id: record.id,
          tags: record.tags,
          importance: record.importance,
          occurredAt: record.occurredAt,
          metadata: sealed.metadata,
          variants: sealed.variants,
        };
      });
      await tx.run(MEMORY_CYPHER.mergeMemories, { agentId, merges, now, revision });
    }
    const entityIds = await this.linkEntities(tx, agentId, plan.mentions, now, revision);
    for (const type of MEMORY_LINK_TYPES) {
      const pairs = plan.links.filter((link) => link.type === type);
      if (pairs.length > 0) await tx.run(LINK_CYPHER[type], { agentId, pairs });
    }
    const invalidated =
      plan.invalidations.length === 0
        ? []
        : (
            await tx.run(MEMORY_CYPHER.invalidateMany, { agentId, items: plan.invalidations, revision })
          ).records.map((row) => toMemory(row.get("m") as GraphNode, this.encryption));
    for (const id of plan.deletions) await deleteMemoryTx(tx, agentId, id);
    return {
      plan,
      revision: snapshot.revision,
      invalidated,
      entityIds,
      firstMemories: snapshot.memoryCount === 0,
    };
  }

  /** Creates the entities not there yet (in first-mention order, numbered per agent), then links every mention and relation. */
  private async linkEntities(
    tx: ManagedTransaction,
    agentId: string,
    mentions: WritePlan["mentions"],
    now: string,
    revision: Integer,
  ): Promise<string[]> {
    const entities = new Map<string, Record<string, unknown>>();
    const links: { memoryId: string; key: string }[] = [];
    const relations: { fromKey: string; toKey: string; type: string }[] = [];
    for (const mention of mentions) {
      for (const entity of mention.entities) {
        const key = entityKey(agentId, entity.normalizedName);
        if (!entities.has(key)) {
          entities.set(key, {
            key,
            position: entities.size,
            entityId: newEntityId(agentId),
            name: entity.name,
            normalizedName: entity.normalizedName,
            type: entity.type,
          });
        }
        links.push({ memoryId: mention.memoryId, key });
      }
      for (const relation of mention.relations) {
        relations.push({
          fromKey: entityKey(agentId, relation.from),
          toKey: entityKey(agentId, relation.to),
          type: relation.type,
        });
      }
    }
    if (links.length === 0) return [];
    await tx.run(MEMORY_CYPHER.createEntities, { agentId, entities: [...entities.values()], now, revision });
    const linked = await tx.run(MEMORY_CYPHER.linkMentions, { mentions: links });
    if (relations.length > 0) await tx.run(MEMORY_CYPHER.linkRelations, { relations });
    return linked.records[0]!.get("ids") as string[];
  }

  async forget(
    agentId: string,
    id: string,
  ): Promise<{ deleted: boolean; revision: number; remaining: number }> {
    return this.writeTx(async (tx) => {
      // Lock first (the revision bump takes the Agent node's write lock), then look: a concurrent
      // forget of the same memory waits here and then finds nothing.
      const lock = (await tx.run(MEMORY_CYPHER.lockAgent, { agentId })).records[0]!;
      const found = toNumber(
        (await tx.run(MEMORY_CYPHER.memoryExists, { id, agentId })).records[0]!.get("found"),
      );
      if (found > 0) await deleteMemoryTx(tx, agentId, id);
      const total = (await tx.run(MEMORY_CYPHER.countMemories, { agentId })).records[0]!.get("total");
      return { deleted: found > 0, revision: toNumber(lock.get("revision")), remaining: toNumber(total) };
    });
  }

  async recordAccess(updates: readonly AccessUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const params = updates.map((update) => ({
      id: update.id,
      at: update.at,
      count: neo4j.int(update.count),
      components: update.components ? JSON.stringify(update.components) : null,
    }));
    await this.writeTx((tx) => tx.run(MEMORY_CYPHER.recordAccess, { updates: params }));
  }

  async reinforce(
    agentId: string,
    id: string,
    useful: boolean,
  ): Promise<{ found: boolean; lastComponents: ScoreComponents | null }> {
    const result = await this.writeTx((tx) =>
      tx.run(MEMORY_CYPHER.reinforce, {
        id,
        agentId,
        useful: neo4j.int(useful ? 1 : 0),
        notUseful: neo4j.int(useful ? 0 : 1),
      }),
    );
    const row = result.records[0];
    if (!row) return { found: false, lastComponents: null };
    const components = row.get("lastComponents") as string | null;
    return { found: true, lastComponents: components ? (JSON.parse(components) as ScoreComponents) : null };
  }

  async resetFeedback(agentId: string): Promise<void> {
    await this.writeTx((tx) => tx.run(MEMORY_CYPHER.resetFeedback, { agentId }));
  }

  async invalidate(
    agentId: string,
    id: string,
    validUntil: string,
  ): Promise<{ record: MemoryRecord | null; revision: number }> {
    return this.writeTx(async (tx) => {
      const lock = (await tx.run(MEMORY_CYPHER.lockAgent, { agentId })).records[0]!;
      const revision = toNumber(lock.get("revision"));
      const result = await tx.run(MEMORY_CYPHER.invalidate, {
        id,
        agentId,
        validUntil,
        revision: neo4j.int(revision),
      });
      const node = result.records[0]?.get("m") as GraphNode | undefined;
      return { record: node ? toMemory(node, this.encryption) : null, revision };
    });
  }

  async forgetByPolicy(agentId: string, rules: ForgetRules): Promise<RemovalResult> {
    return this.writeTx(async (tx) => {
      const lock = (await tx.run(MEMORY_CYPHER.lockAgent, { agentId })).records[0]!;
      const total = toNumber(lock.get("memories"));
      const victims = (await tx.run(MEMORY_CYPHER.policyVictims, { agentId, ...rules })).records.map(
        (row) => row.get("id") as string,
      );
      if (rules.capacity !== null && total - victims.length > rules.capacity) {
        const extra = await tx.run(MEMORY_CYPHER.capacityVictims, {
          agentId,
          exclude: victims,
          limit: neo4j.int(total - victims.length - rules.capacity),
        });
        victims.push(...extra.records.map((row) => row.get("id") as string));
      }
      const removedEntities: string[] = [];
      for (const id of victims) removedEntities.push(...(await deleteMemoryTx(tx, agentId, id)));
      return {
        removed: victims,
        removedEntities,
        revision: toNumber(lock.get("revision")),
        remaining: total - victims.length,
      };
    });
  }

  async consolidate(agentId: string, merges: readonly ConsolidationMerge[]): Promise<RemovalResult> {
    return this.writeTx(async (tx) => {
      const lock = (await tx.run(MEMORY_CYPHER.lockAgent, { agentId })).records[0]!;
      const revision = toNumber(lock.get("revision"));
      const removed: string[] = [];
      const removedEntities: string[] = [];
      for (const { keep, remove } of merges) {
        for (const fromId of remove) {
          const moved = await tx.run(MEMORY_CYPHER.moveToKept, { agentId, keepId: keep.id, fromId });
          if (toNumber(moved.records[0]?.get("moved") ?? 0) === 0) throw new UnknownMemoryError(fromId);
        }
        const sealed = sealMemoryFields(this.encryption, keep);
        await tx.run(MEMORY_CYPHER.updateConsolidated, {
          id: keep.id,
          agentId,
          tags: keep.tags,
          importance: keep.importance,
          occurredAt: keep.occurredAt,
          metadata: sealed.metadata,
          variants: sealed.variants,
          pinned: keep.pinned,
          consolidation: keep.consolidation === null ? null : JSON.stringify(keep.consolidation),
          revision: neo4j.int(revision),
        });
        for (const id of remove) {
          removedEntities.push(...(await deleteMemoryTx(tx, agentId, id)));
          removed.push(id);
        }
      }
      return {
        removed,
        removedEntities,
        revision,
        remaining: toNumber(lock.get("memories")) - removed.length,
      };
    });
  }

  async configuredAgents(): Promise<string[]> {
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.configuredAgents));
    return result.records.map((row) => row.get("agentId") as string);
  }

  async getConfig(agentId: string): Promise<MemoryConfig | null> {
    const result = await this.readTx((tx) => tx.run(MEMORY_CYPHER.getConfig, { agentId }));
    const config = result.records[0]?.get("config") as string | null | undefined;
    return config ? (JSON.parse(config) as MemoryConfig) : null;
  }

  async updateConfig(
    agentId: string,
    change: (current: MemoryConfig | null) => MemoryConfig,
  ): Promise<MemoryConfig> {
    return this.writeTx(async (tx) => {
      const locked = await tx.run(MEMORY_CYPHER.lockConfig, { agentId });
      const current = locked.records[0]?.get("config") as string | null | undefined;
      const config = change(current ? (JSON.parse(current) as MemoryConfig) : null);
      await tx.run(MEMORY_CYPHER.putConfig, { agentId, config: JSON.stringify(config) });
      return config;
    });
  }

  /**
   * Runs an index search with growing over-fetch until `limit` matches survive the post-filter,
   * the index has nothing more (it returned fewer hits than asked), or `maxFetch` is reached.
   *
   * The first fetch is sized by the share of hits that survived this agent's previous search of
   * the same index (with or without a narrowing filter): an agent alone in the store keeps nearly
   * all of them and fetches ~1.25 × limit, one of ten keeps a tenth and fetches ~12 × limit. A
   * fixed 4 × limit cost a lone agent at 100k memories half its vector search (the HNSW search
   * grows with how many it is asked for), and was still too few for an agent with a small share.
   */
  private async widening(
    search: "vector" | "text",
    cypher: string,
    params: Record<string, unknown>,
    limit: number,
    maxFetch: number,
    agentId: string,
    filter: MemoryFilter,
  ): Promise<ScoredId[]> {
    const shareKey = `${search}\u0000${narrowing(filter) ? "filtered" : "all"}\u0000${agentId}`;
    const share = this.searchShares.get(shareKey) ?? FIRST_SEARCH_SHARE;
    let fetch = Math.min(maxFetch, Math.ceil((limit / share) * 1.25) + 16);
    for (;;) {
      const row = (await this.readTx((tx) => tx.run(cypher, { ...params, fetch: neo4j.int(fetch) })))
        .records[0]!;
      const matches = row.get("matches") as ScoredId[];
      const fetched = toNumber(row.get("fetched"));
      const exhausted = fetched < fetch;
      if (!exhausted) {
        // A share of 0 would ask for maxFetch next time: one survivor in the whole fetch is the floor.
        this.searchShares.set(shareKey, Math.max(toNumber(row.get("survived")), 1) / fetched);
      }
      if (matches.length >= limit || exhausted || fetch >= maxFetch) return matches;
      fetch = Math.min(maxFetch, fetch * 4);
    }
  }

  async vectorSearch(
    agentId: string,
    vector: Float32Array,
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]> {
    const params = { ...filterParams(filter, now), agentId, vector: [...vector], limit: neo4j.int(limit) };
    // The index spans every agent: over-fetch, post-filter, and widen until `limit` survive.
    const matches = await this.widening(
      "vector",
      MEMORY_CYPHER.vectorSearch,
      params,
      limit,
      MAX_VECTOR_FETCH,
      agentId,
      filter,
    );
    return matches.map((match) => ({ id: match.id, score: scoreToCosine(match.score) }));
  }

  async textSearch(
    agentId: string,
    terms: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<ScoredId[]> {
    if (terms.length === 0) return [];
    // Terms are normalised words (letters and digits only), so quoting them is enough escaping.
    const query = `agentToken:"${agentToken(agentId)}" AND searchText:(${terms.map((t) => `"${t}"`).join(" OR ")})`;
    const params = { ...filterParams(filter, now), agentId, query, limit: neo4j.int(limit) };
    // The index holds this agent's memories only (the token clause), but the filter is applied
    // after it: over-fetch, and widen until `limit` survive or the index has no more.
    return this.widening("text", MEMORY_CYPHER.textSearch, params, limit, MAX_TEXT_FETCH, agentId, filter);
  }

  async entityMentionCounts(
    agentId: string,
    entityIds: readonly string[],
  ): Promise<{ memories: number; mentions: number[] }> {
    const mentions = entityIds.map(() => 0);
    return this.readTx(async (tx) => {
      if (entityIds.length > 0) {
        const result = await tx.run(MEMORY_CYPHER.entityMentionCounts, { agentId, ids: [...entityIds] });
        for (const row of result.records)
          mentions[toNumber(row.get("position"))] = toNumber(row.get("mentions"));
      }
      const revision = toNumber(
        (await tx.run(MEMORY_CYPHER.agentRevision, { agentId })).records[0]!.get("revision"),
      );
      const cached = this.memoryCounts.get(agentId);
      if (cached?.revision === revision) return { memories: cached.count, mentions };
      const total = await tx.run(MEMORY_CYPHER.countMemories, { agentId });
      const count = toNumber(total.records[0]!.get("total"));
      this.memoryCounts.set(agentId, { revision, count });
      return { memories: count, mentions };
    });
  }

  async entitiesByName(agentId: string, normalizedNames: readonly string[]): Promise<EntityRecord[]> {
    if (normalizedNames.length === 0) return [];
    const result = await this.readTx((tx) =>
      tx.run(MEMORY_CYPHER.entitiesByName, { agentId, names: [...normalizedNames] }),
    );
    return result.records.map((row) => toEntity(row.get("e") as GraphNode));
  }

  async memoriesMentioning(
    agentId: string,
    entityIds: readonly string[],
    limit: number,
    filter: MemoryFilter,
    now: string,
  ): Promise<{ id: string; entityIds: string[] }[]> {
    if (entityIds.length === 0) return [];
    const result = await this.readTx((tx) =>
      tx.run(MEMORY_CYPHER.mentioning, {
        ...filterParams(filter, now),
        agentId,
        entityIds: [...entityIds],
        limit: neo4j.int(limit),
      }),
    );
    return result.records.map((row) => ({
      id: row.get("id") as string,
      entityIds: row.get("entityIds") as string[],
    }));
  }

  async candidates(
    agentId: string,
    ids: readonly string[],
    filter: MemoryFilter,
    now: string,
    vectorsFor: ReadonlySet<string>,
  ): Promise<Candidate[]> {
    if (ids.length === 0) return [];
    const result = await this.readTx((tx) =>
      tx.run(MEMORY_CYPHER.candidates, {
        ...filterParams(filter, now),
        agentId,
        ids: [...ids],
        vectorsFor: [...vectorsFor],
      }),
    );
    return result.records.map((row) => {
      const embedding = row.get("embedding") as number[] | null;
      return {
        record: toMemory(row.get("m") as Record<string, unknown>, this.encryption),
        embedding: embedding ? Float32Array.from(embedding) : null,
      };
    });
  }

  async ping(): Promise<void> {
    await this.readTx((tx) => tx.run(MEMORY_CYPHER.ping));
  }

  async close(): Promise<void> {
    // The driver belongs to the runtime, which closes it.
  }
}
