import path from "node:path";
import { migrate, openSqlite } from "../store/sqlite.js";
import type { AgentDirectory, AgentFacet, AgentListOptions, AgentPage } from "./directory.js";

const MIGRATIONS = [
  `CREATE TABLE agents (
     id TEXT PRIMARY KEY,
     has_state INTEGER NOT NULL DEFAULT 0,
     has_memories INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // The directory's revision: grows whenever the set of listed agents changes.
  `CREATE TABLE directory_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
   INSERT INTO directory_revision (id, revision) VALUES (1, 0);`,
];

export function createSqliteAgentDirectory(dataDir: string): AgentDirectory {
  const db = openSqlite(path.join(dataDir, "agents.db"));
  migrate(db, MIGRATIONS);
  const upsert = {
    state: db.prepare(
      `INSERT INTO agents (id, has_state, created_at) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET has_state = excluded.has_state`,
    ),
    memories: db.prepare(
      `INSERT INTO agents (id, has_memories, created_at) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET has_memories = excluded.has_memories`,
    ),
  };
  const removeEmpty = db.prepare("DELETE FROM agents WHERE id = ? AND has_state = 0 AND has_memories = 0");
  const revision = db.prepare("SELECT revision FROM directory_revision WHERE id = 1").pluck();
  const bump = db
    .prepare("UPDATE directory_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision")
    .pluck();

  return {
    async mark(agentId: string, facet: AgentFacet, present: boolean) {
      return db
        .transaction(() => {
          upsert[facet].run(agentId, present ? 1 : 0, new Date().toISOString());
          if (!present) removeEmpty.run(agentId);
          return bump.get() as number;
        })
        .immediate();
    },
    async list({ first, after, only }: AgentListOptions): Promise<AgentPage> {
      const filter = only === null ? "" : `AND id IN (SELECT value FROM json_each(?))`;
      const params: unknown[] = only === null ? [] : [JSON.stringify(only)];
      // One read transaction: the page, its count and the revision are one snapshot.
      return db
        .transaction(() => {
          const totalCount = (
            db.prepare(`SELECT count(*) AS n FROM agents WHERE 1 = 1 ${filter}`).get(...params) as {
              n: number;
            }
          ).n;
          const rows = db
            .prepare(`SELECT id FROM agents WHERE id > ? ${filter} ORDER BY id LIMIT ?`)
            .all(after ?? "", ...params, first + 1) as { id: string }[];
          return {
            ids: rows.slice(0, first).map((row) => row.id),
            hasNextPage: rows.length > first,
            totalCount,
            revision: revision.get() as number,
          };
        })
        .deferred();
    },
    revision: (ids) => {
      const current = revision.get() as number;
      return ids.map(() => current);
    },
    async close() {
      db.close();
    },
  };
}
