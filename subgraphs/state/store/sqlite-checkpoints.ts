/**
 * CheckpointStore on SQLite, in its own file (`checkpoints.db` in DATA_DIR) so its migrations
 * stand apart from the state versions'. Each write is one immediate transaction. Checkpoint
 * payloads, metadata, channel values and write values are encrypted at rest when
 * ENCRYPTION_KEY is set, each bound to where it belongs; ids, channel versions and the metadata
 * fingerprints used by filters are not secret and stay readable for the queries.
 */
import path from "node:path";
import { type Encryptor, plaintextStorage } from "../../../core/crypto/encryption.js";
import { migrate, openSqlite, type SqliteDatabase } from "../../../core/store/sqlite.js";
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

const MIGRATIONS = [
  `CREATE TABLE checkpoints (
     agent_id TEXT NOT NULL,
     thread_id TEXT NOT NULL,
     namespace TEXT NOT NULL,
     checkpoint_id TEXT NOT NULL,
     parent_id TEXT,
     sort_key TEXT NOT NULL,
     checkpoint TEXT NOT NULL,
     metadata TEXT NOT NULL,
     metadata_keys TEXT NOT NULL,
     channel_versions TEXT NOT NULL,
     created_at TEXT NOT NULL,
     author TEXT,
     PRIMARY KEY (agent_id, thread_id, namespace, checkpoint_id)
   ) WITHOUT ROWID;
   CREATE INDEX checkpoints_by_sort_key ON checkpoints (agent_id, sort_key);
   CREATE TABLE checkpoint_channel_values (
     agent_id TEXT NOT NULL,
     thread_id TEXT NOT NULL,
     namespace TEXT NOT NULL,
     channel TEXT NOT NULL,
     version TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (agent_id, thread_id, namespace, channel, version)
   ) WITHOUT ROWID;
   CREATE TABLE checkpoint_writes (
     agent_id TEXT NOT NULL,
     thread_id TEXT NOT NULL,
     namespace TEXT NOT NULL,
     checkpoint_id TEXT NOT NULL,
     task_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     task_path TEXT NOT NULL,
     channel TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (agent_id, thread_id, namespace, checkpoint_id, task_id, idx)
   ) WITHOUT ROWID;`,
];

interface CheckpointRow {
  agent_id: string;
  thread_id: string;
  namespace: string;
  checkpoint_id: string;
  parent_id: string | null;
  sort_key: string;
  checkpoint: string;
  metadata: string;
  channel_versions: string;
  created_at: string;
  author: string | null;
}

interface WriteRow {
  position: number;
  task_id: string;
  idx: number;
  task_path: string;
  channel: string;
  value: string;
}

const CHECKPOINT_COLUMNS =
  "c.agent_id, c.thread_id, c.namespace, c.checkpoint_id, c.parent_id, c.sort_key, c.checkpoint, c.metadata, c.channel_versions, c.created_at, c.author";

/**
 * The list filters as one WHERE clause: each optional filter is off when its parameter is null,
 * and a metadata filter holds when none of its keys is missing from the checkpoint's keys.
 */
const LIST_WHERE = `c.agent_id = @agentId
  AND (@threadId IS NULL OR c.thread_id = @threadId)
  AND (@namespace IS NULL OR c.namespace = @namespace)
  AND (@beforeId IS NULL OR c.checkpoint_id < @beforeId)
  AND NOT EXISTS (
    SELECT 1 FROM json_each(@metadataKeys) wanted
    WHERE wanted.value NOT IN (SELECT held.value FROM json_each(c.metadata_keys) held)
  )`;

export function createSqliteCheckpointStore(
  dataDir: string,
  encryption: Encryptor = plaintextStorage,
): SqliteCheckpointStore {
  return new SqliteCheckpointStore(openSqlite(path.join(dataDir, "checkpoints.db")), encryption);
}

export class SqliteCheckpointStore implements CheckpointStore {
  private readonly statements;

  constructor(
    readonly db: SqliteDatabase,
    private readonly encryption: Encryptor = plaintextStorage,
  ) {
    migrate(db, MIGRATIONS);
    this.statements = {
      upsertCheckpoint: db.prepare(
        `INSERT INTO checkpoints (agent_id, thread_id, namespace, checkpoint_id, parent_id, sort_key, checkpoint,
           metadata, metadata_keys, channel_versions, created_at, author)
         VALUES (@agentId, @threadId, @namespace, @checkpointId, @parentId, @sortKey, @checkpoint,
           @metadata, @metadataKeys, @channelVersions, @createdAt, @author)
         ON CONFLICT (agent_id, thread_id, namespace, checkpoint_id) DO UPDATE SET
           parent_id = excluded.parent_id, checkpoint = excluded.checkpoint, metadata = excluded.metadata,
           metadata_keys = excluded.metadata_keys, channel_versions = excluded.channel_versions,
           created_at = excluded.created_at, author = excluded.author`,
      ),
      insertChannelValue: db.prepare(
        `INSERT INTO checkpoint_channel_values (agent_id, thread_id, namespace, channel, version, value)
         VALUES (@agentId, @threadId, @namespace, @channel, @version, @value)
         ON CONFLICT DO NOTHING`,
      ),
      insertWrite: db.prepare(
        `INSERT INTO checkpoint_writes (agent_id, thread_id, namespace, checkpoint_id, task_id, idx, task_path, channel, value)
         VALUES (@agentId, @threadId, @namespace, @checkpointId, @taskId, @idx, @taskPath, @channel, @value)
         ON CONFLICT DO NOTHING`,
      ),
      replaceWrite: db.prepare(
        `INSERT INTO checkpoint_writes (agent_id, thread_id, namespace, checkpoint_id, task_id, idx, task_path, channel, value)
         VALUES (@agentId, @threadId, @namespace, @checkpointId, @taskId, @idx, @taskPath, @channel, @value)
         ON CONFLICT (agent_id, thread_id, namespace, checkpoint_id, task_id, idx) DO UPDATE SET
           task_path = excluded.task_path, channel = excluded.channel, value = excluded.value`,
      ),
      byId: db.prepare(
        `SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints c
         WHERE c.agent_id = ? AND c.thread_id = ? AND c.namespace = ? AND c.checkpoint_id = ?`,
      ),
      latest: db.prepare(
        `SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints c
         WHERE c.agent_id = ? AND c.thread_id = ? AND c.namespace = ?
         ORDER BY c.checkpoint_id DESC LIMIT 1`,
      ),
      listPage: db.prepare(
        `SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints c
         WHERE ${LIST_WHERE} AND (@afterSortKey IS NULL OR c.sort_key < @afterSortKey)
         ORDER BY c.sort_key DESC LIMIT @limit`,
      ),
      listCount: db.prepare(`SELECT count(*) AS n FROM checkpoints c WHERE ${LIST_WHERE}`),
      channelValuesMany: db.prepare(
        `SELECT j.key AS position, v.value FROM json_each(?) j
         JOIN checkpoint_channel_values v
           ON v.agent_id = json_extract(j.value, '$[0]') AND v.thread_id = json_extract(j.value, '$[1]')
          AND v.namespace = json_extract(j.value, '$[2]') AND v.channel = json_extract(j.value, '$[3]')
          AND v.version = json_extract(j.value, '$[4]')`,
      ),
      writesMany: db.prepare(
        `SELECT j.key AS position, w.task_id, w.idx, w.task_path, w.channel, w.value FROM json_each(?) j
         JOIN checkpoint_writes w
           ON w.agent_id = json_extract(j.value, '$[0]') AND w.thread_id = json_extract(j.value, '$[1]')
          AND w.namespace = json_extract(j.value, '$[2]') AND w.checkpoint_id = json_extract(j.value, '$[3]')`,
      ),
      deleteThreadCheckpoints: db.prepare("DELETE FROM checkpoints WHERE agent_id = ? AND thread_id = ?"),
      deleteThreadValues: db.prepare(
        "DELETE FROM checkpoint_channel_values WHERE agent_id = ? AND thread_id = ?",
      ),
      deleteThreadWrites: db.prepare("DELETE FROM checkpoint_writes WHERE agent_id = ? AND thread_id = ?"),
      deleteAgentCheckpoints: db.prepare("DELETE FROM checkpoints WHERE agent_id = ?"),
      deleteAgentValues: db.prepare("DELETE FROM checkpoint_channel_values WHERE agent_id = ?"),
      deleteAgentWrites: db.prepare("DELETE FROM checkpoint_writes WHERE agent_id = ?"),
    };
  }

  async putCheckpoint(
    checkpoint: IndexedCheckpoint,
    channelValues: readonly ChannelValueRecord[],
  ): Promise<void> {
    const { statements, encryption } = this;
    this.db
      .transaction(() => {
        statements.upsertCheckpoint.run({
          agentId: checkpoint.agentId,
          threadId: checkpoint.threadId,
          namespace: checkpoint.namespace,
          checkpointId: checkpoint.checkpointId,
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
          metadataKeys: JSON.stringify(checkpoint.metadataKeys),
          channelVersions: JSON.stringify(checkpoint.channelVersions),
          createdAt: checkpoint.createdAt,
          author: checkpoint.author,
        });
        for (const value of channelValues) {
          const ref: ChannelValueRef = {
            ...threadOf(checkpoint),
            channel: value.channel,
            version: value.version,
          };
          statements.insertChannelValue.run({
            ...ref,
            value: encryption.encrypt(JSON.stringify(value.value), channelValueContext(ref)),
          });
        }
      })
      .immediate();
  }

  async putWrites(
    ref: CheckpointRef,
    writes: { keepFirst: readonly CheckpointWriteRecord[]; replace: readonly CheckpointWriteRecord[] },
  ): Promise<number> {
    const { statements, encryption } = this;
    const row = (write: CheckpointWriteRecord) => ({
      ...refOf(ref),
      taskId: write.taskId,
      idx: write.idx,
      taskPath: write.taskPath,
      channel: write.channel,
      value: encryption.encrypt(JSON.stringify(write.value), checkpointWriteContext(ref, write)),
    });
    return this.db
      .transaction(() => {
        let stored = 0;
        for (const write of writes.keepFirst) stored += statements.insertWrite.run(row(write)).changes;
        for (const write of writes.replace) stored += statements.replaceWrite.run(row(write)).changes;
        return stored;
      })
      .immediate();
  }

  async getCheckpoint(thread: ThreadRef, checkpointId: string | null): Promise<CheckpointRecord | null> {
    const row = (
      checkpointId === null
        ? this.statements.latest.get(thread.agentId, thread.threadId, thread.namespace)
        : this.statements.byId.get(thread.agentId, thread.threadId, thread.namespace, checkpointId)
    ) as CheckpointRow | undefined;
    return row ? this.toRecord(row) : null;
  }

  async listCheckpoints(query: CheckpointQuery): Promise<CheckpointPage> {
    const filters = {
      agentId: query.agentId,
      threadId: query.threadId ?? null,
      namespace: query.namespace ?? null,
      beforeId: query.beforeId ?? null,
      metadataKeys: JSON.stringify(query.metadataKeys),
    };
    return this.db.transaction(() => {
      const rows = this.statements.listPage.all({
        ...filters,
        afterSortKey: query.afterSortKey ?? null,
        limit: query.first + 1,
      }) as CheckpointRow[];
      const { n } = this.statements.listCount.get(filters) as { n: number };
      return {
        records: rows.slice(0, query.first).map((row) => ({ ...this.toRecord(row), sortKey: row.sort_key })),
        hasNextPage: rows.length > query.first,
        totalCount: n,
      };
    })();
  }

  async channelValues(refs: readonly ChannelValueRef[]): Promise<(ChannelValueRecord | null)[]> {
    const results: (ChannelValueRecord | null)[] = refs.map(() => null);
    const rows = this.statements.channelValuesMany.all(
      JSON.stringify(refs.map((r) => [r.agentId, r.threadId, r.namespace, r.channel, r.version])),
    ) as { position: number; value: string }[];
    for (const row of rows) {
      const ref = refs[row.position]!;
      results[row.position] = {
        channel: ref.channel,
        version: ref.version,
        value: JSON.parse(this.encryption.decrypt(row.value, channelValueContext(ref))) as SerializedValue,
      };
    }
    return results;
  }

  async writes(refs: readonly CheckpointRef[]): Promise<CheckpointWriteRecord[][]> {
    const results: CheckpointWriteRecord[][] = refs.map(() => []);
    const rows = this.statements.writesMany.all(
      JSON.stringify(refs.map((r) => [r.agentId, r.threadId, r.namespace, r.checkpointId])),
    ) as WriteRow[];
    for (const row of rows) {
      const ref = refs[row.position]!;
      const write = { taskId: row.task_id, idx: row.idx };
      results[row.position]!.push({
        ...write,
        taskPath: row.task_path,
        channel: row.channel,
        value: JSON.parse(
          this.encryption.decrypt(row.value, checkpointWriteContext(ref, write)),
        ) as SerializedValue,
      });
    }
    return results;
  }

  async deleteThread(agentId: string, threadId: string): Promise<number> {
    const { statements } = this;
    return this.db
      .transaction(() => {
        statements.deleteThreadValues.run(agentId, threadId);
        statements.deleteThreadWrites.run(agentId, threadId);
        return statements.deleteThreadCheckpoints.run(agentId, threadId).changes;
      })
      .immediate();
  }

  async deleteAgent(agentId: string): Promise<number> {
    const { statements } = this;
    return this.db
      .transaction(() => {
        statements.deleteAgentValues.run(agentId);
        statements.deleteAgentWrites.run(agentId);
        return statements.deleteAgentCheckpoints.run(agentId).changes;
      })
      .immediate();
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private toRecord(row: CheckpointRow): CheckpointRecord {
    const ref: CheckpointRef = {
      agentId: row.agent_id,
      threadId: row.thread_id,
      namespace: row.namespace,
      checkpointId: row.checkpoint_id,
    };
    return {
      ...ref,
      parentId: row.parent_id,
      checkpoint: JSON.parse(
        this.encryption.decrypt(row.checkpoint, checkpointDataContext(ref, "checkpoint")),
      ) as SerializedValue,
      metadata: JSON.parse(
        this.encryption.decrypt(row.metadata, checkpointDataContext(ref, "metadata")),
      ) as Record<string, unknown>,
      channelVersions: JSON.parse(row.channel_versions) as Record<string, string | number>,
      createdAt: row.created_at,
      author: row.author,
    };
  }
}

const threadOf = (ref: ThreadRef): ThreadRef => ({
  agentId: ref.agentId,
  threadId: ref.threadId,
  namespace: ref.namespace,
});

const refOf = (ref: CheckpointRef): CheckpointRef => ({ ...threadOf(ref), checkpointId: ref.checkpointId });
