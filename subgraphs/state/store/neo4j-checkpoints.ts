/**
 * CheckpointStore on Neo4j: three node labels keyed by a unique `key` each (community edition
 * has no composite node keys, so the key is the JSON array of the parts):
 * `(:Checkpoint)`, `(:CheckpointChannelValue)` and `(:CheckpointWrite)`, every one carrying its
 * agent and thread so a thread or an agent is deleted by property. Writes run in `executeWrite`
 * transaction functions and are idempotent (MERGE on the key), so the driver may retry them.
 */
import type { Integer, Node } from "neo4j-driver";
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
import {
  type ChannelValueRecord,
  type ChannelValueRef,
  type CheckpointPage,
  type CheckpointQuery,
  type CheckpointRecord,
  type CheckpointRef,
  type CheckpointStore,
  type CheckpointWriteRecord,
  channelValueContext,
  checkpointDataContext,
  checkpointWriteContext,
  type IndexedCheckpoint,
  type SerializedValue,
  type ThreadRef,
} from "../domain/checkpoint-port.js";

/** The checkpoints a listing selects (its page and its count alike); parameters, never text. */
const LIST_FILTER = `c.agentId = $agentId
  AND ($threadId IS NULL OR c.threadId = $threadId)
  AND ($namespace IS NULL OR c.namespace = $namespace)
  AND ($beforeId IS NULL OR c.checkpointId < $beforeId)
  AND all(wanted IN $metadataKeys WHERE wanted IN c.metadataKeys)`;

/** Every statement this adapter sends; each is linted by the Cypher linter in `npm test`. */
export const CHECKPOINT_CYPHER = {
  checkpointConstraint:
    "CREATE CONSTRAINT checkpoint_key IF NOT EXISTS FOR (c:Checkpoint) REQUIRE c.key IS UNIQUE",
  channelValueConstraint:
    "CREATE CONSTRAINT checkpoint_channel_value_key IF NOT EXISTS FOR (v:CheckpointChannelValue) REQUIRE v.key IS UNIQUE",
  writeConstraint:
    "CREATE CONSTRAINT checkpoint_write_key IF NOT EXISTS FOR (w:CheckpointWrite) REQUIRE w.key IS UNIQUE",
  checkpointOrderIndex:
    "CREATE INDEX checkpoint_sort_key IF NOT EXISTS FOR (c:Checkpoint) ON (c.agentId, c.sortKey)",
  checkpointThreadIndex:
    "CREATE INDEX checkpoint_thread IF NOT EXISTS FOR (c:Checkpoint) ON (c.agentId, c.threadId)",
  channelValueThreadIndex:
    "CREATE INDEX checkpoint_channel_value_thread IF NOT EXISTS FOR (v:CheckpointChannelValue) ON (v.agentId, v.threadId)",
  writeThreadIndex:
    "CREATE INDEX checkpoint_write_thread IF NOT EXISTS FOR (w:CheckpointWrite) ON (w.agentId, w.threadId)",
  writeCheckpointIndex:
    "CREATE INDEX checkpoint_write_checkpoint IF NOT EXISTS FOR (w:CheckpointWrite) ON (w.checkpointKey)",
  upsertCheckpoint: `MERGE (c:Checkpoint {key: $key})
SET c += $properties`,
  insertChannelValues: `UNWIND $values AS value
MERGE (v:CheckpointChannelValue {key: value.key})
ON CREATE SET v += value.properties`,
  insertWrites: `UNWIND $writes AS write
OPTIONAL MATCH (old:CheckpointWrite {key: write.key})
WITH write, old IS NULL AS isNew
MERGE (w:CheckpointWrite {key: write.key})
ON CREATE SET w += write.properties
RETURN count(CASE WHEN isNew THEN 1 END) AS stored`,
  replaceWrites: `UNWIND $writes AS write
MERGE (w:CheckpointWrite {key: write.key})
SET w += write.properties
RETURN count(w) AS stored`,
  checkpointByKey: `MATCH (c:Checkpoint {key: $key})
RETURN c AS checkpoint`,
  latestCheckpoint: `MATCH (c:Checkpoint)
WHERE c.agentId = $agentId AND c.threadId = $threadId AND c.namespace = $namespace
RETURN c AS checkpoint
ORDER BY c.checkpointId DESC
LIMIT 1`,
  listPage: `MATCH (c:Checkpoint)
WHERE ${LIST_FILTER}
  AND ($afterSortKey IS NULL OR c.sortKey < $afterSortKey)
RETURN c AS checkpoint
ORDER BY c.sortKey DESC
LIMIT $limit`,
  listCount: `MATCH (c:Checkpoint)
WHERE ${LIST_FILTER}
RETURN count(c) AS total`,
  channelValuesMany: `UNWIND $refs AS ref
MATCH (v:CheckpointChannelValue {key: ref.key})
RETURN ref.position AS position, v.value AS value`,
  writesMany: `UNWIND $refs AS ref
MATCH (w:CheckpointWrite {checkpointKey: ref.key})
RETURN ref.position AS position, w AS write`,
  deleteThreadValues: `MATCH (v:CheckpointChannelValue)
WHERE v.agentId = $agentId AND v.threadId = $threadId
DETACH DELETE v`,
  deleteThreadWrites: `MATCH (w:CheckpointWrite)
WHERE w.agentId = $agentId AND w.threadId = $threadId
DETACH DELETE w`,
  deleteThreadCheckpoints: `MATCH (c:Checkpoint)
WHERE c.agentId = $agentId AND c.threadId = $threadId
DETACH DELETE c
RETURN count(*) AS removed`,
  deleteAgentValues: `MATCH (v:CheckpointChannelValue)
WHERE v.agentId = $agentId
DETACH DELETE v`,
  deleteAgentWrites: `MATCH (w:CheckpointWrite)
WHERE w.agentId = $agentId
DETACH DELETE w`,
  deleteAgentCheckpoints: `MATCH (c:Checkpoint)
WHERE c.agentId = $agentId
DETACH DELETE c
RETURN count(*) AS removed`,
  ping: "RETURN 1 AS ok",
} as const;

type PropertyNode = Node<Integer, Record<string, unknown>>;

const checkpointKey = (ref: CheckpointRef) =>
  JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.checkpointId]);
const channelValueKey = (ref: ChannelValueRef) =>
  JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.channel, ref.version]);
const writeKey = (ref: CheckpointRef, write: Pick<CheckpointWriteRecord, "taskId" | "idx">) =>
  JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.checkpointId, write.taskId, write.idx]);

export async function createNeo4jCheckpointStore(
  driver: Driver,
  database: string,
  encryption: Encryptor = plaintextStorage,
): Promise<CheckpointStore> {
  await ensureSchema(driver, database, [
    CHECKPOINT_CYPHER.checkpointConstraint,
    CHECKPOINT_CYPHER.channelValueConstraint,
    CHECKPOINT_CYPHER.writeConstraint,
    CHECKPOINT_CYPHER.checkpointOrderIndex,
    CHECKPOINT_CYPHER.checkpointThreadIndex,
    CHECKPOINT_CYPHER.channelValueThreadIndex,
    CHECKPOINT_CYPHER.writeThreadIndex,
    CHECKPOINT_CYPHER.writeCheckpointIndex,
  ]);
  return new Neo4jCheckpointStore(driver, database, encryption);
}

export class Neo4jCheckpointStore implements CheckpointStore {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly encryption: Encryptor = plaintextStorage,
  ) {}

  private read<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runRead(this.driver, this.database, work);
  }

  private write<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runWrite(this.driver, this.database, work);
  }

  async putCheckpoint(
    checkpoint: IndexedCheckpoint,
    channelValues: readonly ChannelValueRecord[],
  ): Promise<void> {
    const { encryption } = this;
    const thread = threadOf(checkpoint);
    const properties = {
      ...refOf(checkpoint),
      parentId: checkpoint.parentId,
      sortKey: checkpoint.sortKey,
      checkpoint: encryption.encrypt(
        JSON.stringify(checkpoint.checkpoint),
        checkpointDataContext(checkpoint, "checkpoint"),
      ),
      metadata: encryption.encrypt(
        JSON.stringify(checkpoint.metadata),
        checkpointDataContext(checkpoint, "metadata"),
      ),
      metadataKeys: checkpoint.metadataKeys,
      channelVersions: JSON.stringify(checkpoint.channelVersions),
      createdAt: checkpoint.createdAt,
      author: checkpoint.author,
    };
    const values = channelValues.map((value) => {
      const ref: ChannelValueRef = { ...thread, channel: value.channel, version: value.version };
      return {
        key: channelValueKey(ref),
        properties: {
          ...ref,
          value: encryption.encrypt(JSON.stringify(value.value), channelValueContext(ref)),
        },
      };
    });
    await this.write(async (tx) => {
      await tx.run(CHECKPOINT_CYPHER.upsertCheckpoint, { key: checkpointKey(checkpoint), properties });
      if (values.length > 0) await tx.run(CHECKPOINT_CYPHER.insertChannelValues, { values });
    });
  }

  async putWrites(
    ref: CheckpointRef,
    writes: { keepFirst: readonly CheckpointWriteRecord[]; replace: readonly CheckpointWriteRecord[] },
  ): Promise<number> {
    const parameters = (list: readonly CheckpointWriteRecord[]) =>
      list.map((write) => ({
        key: writeKey(ref, write),
        properties: {
          ...refOf(ref),
          checkpointKey: checkpointKey(ref),
          taskId: write.taskId,
          idx: neo4j.int(write.idx),
          taskPath: write.taskPath,
          channel: write.channel,
          value: this.encryption.encrypt(JSON.stringify(write.value), checkpointWriteContext(ref, write)),
        },
      }));
    return this.write(async (tx) => {
      let stored = 0;
      if (writes.keepFirst.length > 0) {
        const result = await tx.run(CHECKPOINT_CYPHER.insertWrites, { writes: parameters(writes.keepFirst) });
        stored += toNumber(result.records[0]?.get("stored") ?? 0);
      }
      if (writes.replace.length > 0) {
        const result = await tx.run(CHECKPOINT_CYPHER.replaceWrites, { writes: parameters(writes.replace) });
        stored += toNumber(result.records[0]?.get("stored") ?? 0);
      }
      return stored;
    });
  }

  async getCheckpoint(thread: ThreadRef, checkpointId: string | null): Promise<CheckpointRecord | null> {
    const result = await this.read((tx) =>
      checkpointId === null
        ? tx.run(CHECKPOINT_CYPHER.latestCheckpoint, threadOf(thread))
        : tx.run(CHECKPOINT_CYPHER.checkpointByKey, { key: checkpointKey({ ...thread, checkpointId }) }),
    );
    const node = result.records[0]?.get("checkpoint") as PropertyNode | undefined;
    return node ? this.toRecord(node) : null;
  }

  async listCheckpoints(query: CheckpointQuery): Promise<CheckpointPage> {
    const filters = {
      agentId: query.agentId,
      threadId: query.threadId ?? null,
      namespace: query.namespace ?? null,
      beforeId: query.beforeId ?? null,
      metadataKeys: [...query.metadataKeys],
    };
    return this.read(async (tx) => {
      const page = await tx.run(CHECKPOINT_CYPHER.listPage, {
        ...filters,
        afterSortKey: query.afterSortKey ?? null,
        limit: neo4j.int(query.first + 1),
      });
      const count = await tx.run(CHECKPOINT_CYPHER.listCount, filters);
      const nodes = page.records.map((row) => row.get("checkpoint") as PropertyNode);
      return {
        records: nodes
          .slice(0, query.first)
          .map((node) => ({ ...this.toRecord(node), sortKey: node.properties.sortKey as string })),
        hasNextPage: nodes.length > query.first,
        totalCount: toNumber(count.records[0]?.get("total") ?? 0),
      };
    });
  }

  async channelValues(refs: readonly ChannelValueRef[]): Promise<(ChannelValueRecord | null)[]> {
    if (refs.length === 0) return [];
    const result = await this.read((tx) =>
      tx.run(CHECKPOINT_CYPHER.channelValuesMany, {
        refs: refs.map((ref, position) => ({ key: channelValueKey(ref), position: neo4j.int(position) })),
      }),
    );
    const values: (ChannelValueRecord | null)[] = refs.map(() => null);
    for (const row of result.records) {
      const position = toNumber(row.get("position"));
      const ref = refs[position]!;
      values[position] = {
        channel: ref.channel,
        version: ref.version,
        value: JSON.parse(
          this.encryption.decrypt(row.get("value") as string, channelValueContext(ref)),
        ) as SerializedValue,
      };
    }
    return values;
  }

  async writes(refs: readonly CheckpointRef[]): Promise<CheckpointWriteRecord[][]> {
    if (refs.length === 0) return [];
    const result = await this.read((tx) =>
      tx.run(CHECKPOINT_CYPHER.writesMany, {
        refs: refs.map((ref, position) => ({ key: checkpointKey(ref), position: neo4j.int(position) })),
      }),
    );
    const writes: CheckpointWriteRecord[][] = refs.map(() => []);
    for (const row of result.records) {
      const position = toNumber(row.get("position"));
      const p = (row.get("write") as PropertyNode).properties;
      const write = { taskId: p.taskId as string, idx: toNumber(p.idx) };
      writes[position]!.push({
        ...write,
        taskPath: p.taskPath as string,
        channel: p.channel as string,
        value: JSON.parse(
          this.encryption.decrypt(p.value as string, checkpointWriteContext(refs[position]!, write)),
        ) as SerializedValue,
      });
    }
    return writes;
  }

  async deleteThread(agentId: string, threadId: string): Promise<number> {
    return this.write(async (tx) => {
      await tx.run(CHECKPOINT_CYPHER.deleteThreadValues, { agentId, threadId });
      await tx.run(CHECKPOINT_CYPHER.deleteThreadWrites, { agentId, threadId });
      const result = await tx.run(CHECKPOINT_CYPHER.deleteThreadCheckpoints, { agentId, threadId });
      return toNumber(result.records[0]?.get("removed") ?? 0);
    });
  }

  async deleteAgent(agentId: string): Promise<number> {
    return this.write(async (tx) => {
      await tx.run(CHECKPOINT_CYPHER.deleteAgentValues, { agentId });
      await tx.run(CHECKPOINT_CYPHER.deleteAgentWrites, { agentId });
      const result = await tx.run(CHECKPOINT_CYPHER.deleteAgentCheckpoints, { agentId });
      return toNumber(result.records[0]?.get("removed") ?? 0);
    });
  }

  async ping(): Promise<void> {
    await this.read((tx) => tx.run(CHECKPOINT_CYPHER.ping));
  }

  async close(): Promise<void> {
    // The driver belongs to the runtime, which closes it.
  }

  private toRecord(node: PropertyNode): CheckpointRecord {
    const p = node.properties;
    const ref: CheckpointRef = {
      agentId: p.agentId as string,
      threadId: p.threadId as string,
      namespace: p.namespace as string,
      checkpointId: p.checkpointId as string,
    };
    return {
      ...ref,
      parentId: (p.parentId as string | null | undefined) ?? null,
      checkpoint: JSON.parse(
        this.encryption.decrypt(p.checkpoint as string, checkpointDataContext(ref, "checkpoint")),
      ) as SerializedValue,
      metadata: JSON.parse(
        this.encryption.decrypt(p.metadata as string, checkpointDataContext(ref, "metadata")),
      ) as Record<string, unknown>,
      channelVersions: JSON.parse(p.channelVersions as string) as Record<string, string | number>,
      createdAt: p.createdAt as string,
      author: (p.author as string | null | undefined) ?? null,
    };
  }
}

const threadOf = (ref: ThreadRef): ThreadRef => ({
  agentId: ref.agentId,
  threadId: ref.threadId,
  namespace: ref.namespace,
});

const refOf = (ref: CheckpointRef): CheckpointRef => ({ ...threadOf(ref), checkpointId: ref.checkpointId });
