/**
 * StateStore on SQLite (the embedded default). One immediate transaction per write takes the
 * database write lock first, which serialises writers (across processes too) and makes the
 * compare-and-set atomic; the primary key (agent_id, version) enforces version uniqueness in
 * the schema itself.
 */
import path from "node:path";
import { type Encryptor, plaintextStorage } from "../../../core/crypto/encryption.js";
import type { RevisionProbe } from "../../../core/store/revisioned.js";
import { migrate, openSqlite, revisionProbe, type SqliteDatabase } from "../../../core/store/sqlite.js";
import type { JsonValue } from "../domain/json.js";
import {
  type AppendRequest,
  type AppendResult,
  type HistoryPage,
  type RevisionedVersion,
  type StateStore,
  type StateVersionRecord,
  stateDataContext,
  VersionConflictError,
} from "../domain/store-port.js";

const MIGRATIONS = [
  `CREATE TABLE agent_heads (
     agent_id TEXT PRIMARY KEY,
     current_version INTEGER,
     revision INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE state_versions (
     agent_id TEXT NOT NULL,
     version INTEGER NOT NULL CHECK (version > 0),
     data TEXT NOT NULL,
     created_at TEXT NOT NULL,
     author TEXT,
     reason TEXT,
     hash TEXT NOT NULL,
     previous_hash TEXT,
     PRIMARY KEY (agent_id, version)
   ) WITHOUT ROWID;`,
];

interface VersionRow {
  agent_id: string;
  version: number;
  data: string;
  created_at: string;
  author: string | null;
  reason: string | null;
  hash: string;
  previous_hash: string | null;
}

const VERSION_COLUMNS =
  "v.agent_id, v.version, v.data, v.created_at, v.author, v.reason, v.hash, v.previous_hash";

function toRecord(row: VersionRow, encryption: Encryptor): StateVersionRecord {
  return {
    agentId: row.agent_id,
    version: row.version,
    data: JSON.parse(encryption.decrypt(row.data, stateDataContext(row.agent_id, row.version))) as JsonValue,
    createdAt: row.created_at,
    author: row.author,
    reason: row.reason,
    hash: row.hash,
    previousHash: row.previous_hash,
  };
}

export function createSqliteStateStore(
  dataDir: string,
  encryption: Encryptor = plaintextStorage,
): StateStore {
  return new SqliteStateStore(openSqlite(path.join(dataDir, "state.db")), encryption);
}

export class SqliteStateStore implements StateStore {
  private readonly statements;

  constructor(
    readonly db: SqliteDatabase,
    private readonly encryption: Encryptor = plaintextStorage,
  ) {
    migrate(db, MIGRATIONS);
    this.revisions = revisionProbe(
      db.prepare("SELECT revision FROM agent_heads WHERE agent_id = ?").pluck(),
      db.prepare(
        "SELECT j.key AS position, h.revision FROM json_each(?) j JOIN agent_heads h ON h.agent_id = j.value",
      ),
    );
    this.statements = {
      head: db.prepare("SELECT current_version, revision FROM agent_heads WHERE agent_id = ?"),
      version: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM state_versions v WHERE v.agent_id = ? AND v.version = ?`,
      ),
      currentMany: db.prepare(
        `SELECT j.key AS position, h.revision, ${VERSION_COLUMNS}
         FROM json_each(?) j
         JOIN agent_heads h ON h.agent_id = j.value
         LEFT JOIN state_versions v ON v.agent_id = h.agent_id AND v.version = h.current_version`,
      ),
      versionsMany: db.prepare(
        `SELECT j.key AS position, h.revision, ${VERSION_COLUMNS}
         FROM json_each(?) j
         JOIN agent_heads h ON h.agent_id = json_extract(j.value, '$[0]')
         LEFT JOIN state_versions v ON v.agent_id = h.agent_id AND v.version = json_extract(j.value, '$[1]')`,
      ),
      historyPage: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM state_versions v
         WHERE v.agent_id = ? AND v.version < ? ORDER BY v.version DESC LIMIT ?`,
      ),
      countVersions: db.prepare("SELECT count(*) AS n FROM state_versions WHERE agent_id = ?"),
      scanChunk: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM state_versions v
         WHERE v.agent_id = ? AND v.version > ? ORDER BY v.version ASC LIMIT ?`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO state_versions (agent_id, version, data, created_at, author, reason, hash, previous_hash)
         VALUES (@agentId, @version, @data, @createdAt, @author, @reason, @hash, @previousHash)`,
      ),
      upsertHead: db.prepare(
        `INSERT INTO agent_heads (agent_id, current_version, revision) VALUES (?, ?, 1)
         ON CONFLICT (agent_id) DO UPDATE SET current_version = excluded.current_version, revision = revision + 1
         RETURNING revision`,
      ),
      clearHead: db.prepare(
        "UPDATE agent_heads SET current_version = NULL, revision = revision + 1 WHERE agent_id = ? RETURNING revision",
      ),
      bumpRevision: db.prepare(
        "UPDATE agent_heads SET revision = revision + 1 WHERE agent_id = ? RETURNING revision",
      ),
      deleteVersions: db.prepare("DELETE FROM state_versions WHERE agent_id = ?"),
      pruneBelow: db.prepare("DELETE FROM state_versions WHERE agent_id = ? AND version <= ?"),
    };
  }

  private toRecord(row: VersionRow): StateVersionRecord {
    return toRecord(row, this.encryption);
  }

  readonly revisions: RevisionProbe;

  async currentStates(agentIds: readonly string[]): Promise<RevisionedVersion[]> {
    const results: RevisionedVersion[] = agentIds.map(() => ({ revision: 0, value: null }));
    const rows = this.statements.currentMany.all(JSON.stringify(agentIds)) as (VersionRow & {
      position: number;
      revision: number;
    })[];
    for (const row of rows) {
      results[row.position] = {
        revision: row.revision,
        value: row.version === null ? null : this.toRecord(row),
      };
    }
    return results;
  }

  async versions(refs: readonly { agentId: string; version: number }[]): Promise<RevisionedVersion[]> {
    const results: RevisionedVersion[] = refs.map(() => ({ revision: 0, value: null }));
    const rows = this.statements.versionsMany.all(
      JSON.stringify(refs.map((r) => [r.agentId, r.version])),
    ) as (VersionRow & {
      position: number;
      revision: number;
    })[];
    for (const row of rows) {
      results[row.position] = {
        revision: row.revision,
        value: row.version === null ? null : this.toRecord(row),
      };
    }
    return results;
  }

  async history(agentId: string, first: number, beforeVersion?: number): Promise<HistoryPage> {
    return this.db.transaction(() => {
      const rows = this.statements.historyPage.all(
        agentId,
        beforeVersion ?? Number.MAX_SAFE_INTEGER,
        first + 1,
      ) as VersionRow[];
      const { n } = this.statements.countVersions.get(agentId) as { n: number };
      return {
        records: rows.slice(0, first).map((row) => this.toRecord(row)),
        hasNextPage: rows.length > first,
        totalCount: n,
      };
    })();
  }

  async *scanVersions(agentId: string, chunkSize: number): AsyncIterable<StateVersionRecord[]> {
    let after = 0;
    for (;;) {
      const rows = this.statements.scanChunk.all(agentId, after, chunkSize) as VersionRow[];
      if (rows.length === 0) return;
      yield rows.map((row) => this.toRecord(row));
      after = rows.at(-1)!.version;
      if (rows.length < chunkSize) return;
    }
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const { statements } = this;
    return this.db
      .transaction((): AppendResult => {
        const head = statements.head.get(request.agentId) as
          | { current_version: number | null; revision: number }
          | undefined;
        const currentVersion = head?.current_version ?? 0;
        if (request.expectedVersion !== undefined && request.expectedVersion !== currentVersion) {
          throw new VersionConflictError(request.agentId, request.expectedVersion, currentVersion);
        }
        const currentRow =
          currentVersion > 0
            ? (statements.version.get(request.agentId, currentVersion) as VersionRow | undefined)
            : undefined;
        const current = currentRow ? this.toRecord(currentRow) : null;
        const record = request.seal(request.build(current), currentVersion + 1, current?.hash ?? null);
        statements.insertVersion.run({
          ...record,
          data: this.encryption.encrypt(
            JSON.stringify(record.data),
            stateDataContext(record.agentId, record.version),
          ),
        });
        let { revision } = statements.upsertHead.get(request.agentId, record.version) as { revision: number };
        let pruned = 0;
        if (request.historyLimit > 0 && record.version > request.historyLimit) {
          pruned = statements.pruneBelow.run(request.agentId, record.version - request.historyLimit).changes;
          if (pruned > 0)
            ({ revision } = statements.bumpRevision.get(request.agentId) as { revision: number });
        }
        return { record, revision, pruned };
      })
      .immediate();
  }

  async deleteAgent(agentId: string): Promise<{ deleted: boolean; revision: number }> {
    return this.db
      .transaction(() => {
        const head = this.statements.head.get(agentId) as { current_version: number | null } | undefined;
        if (!head) return { deleted: false, revision: 0 };
        this.statements.deleteVersions.run(agentId);
        const { revision } = this.statements.clearHead.get(agentId) as { revision: number };
        return { deleted: head.current_version !== null, revision };
      })
      .immediate();
  }

  async prune(agentId: string, keepLast: number): Promise<{ removed: number; revision: number }> {
    return this.db
      .transaction(() => {
        const head = this.statements.head.get(agentId) as
          | { current_version: number | null; revision: number }
          | undefined;
        if (!head?.current_version) return { removed: 0, revision: head?.revision ?? 0 };
        const removed = this.statements.pruneBelow.run(agentId, head.current_version - keepLast).changes;
        if (removed === 0) return { removed, revision: head.revision };
        const { revision } = this.statements.bumpRevision.get(agentId) as { revision: number };
        return { removed, revision };
      })
      .immediate();
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
