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

  return {
    async mark(agentId: string, facet: AgentFacet, present: boolean) {
      db.transaction(() => {
        upsert[facet].run(agentId, present ? 1 : 0, new Date().toISOString());
        if (!present) removeEmpty.run(agentId);
      })();
    },
    async list({ first, after, only }: AgentListOptions): Promise<AgentPage> {
      const filter = only === null ? "" : `AND id IN (SELECT value FROM json_each(?))`;
      const params: unknown[] = only === null ? [] : [JSON.stringify(only)];
      const totalCount = (
        db.prepare(`SELECT count(*) AS n FROM agents WHERE 1 = 1 ${filter}`).get(...params) as { n: number }
      ).n;
      const rows = db
        .prepare(`SELECT id FROM agents WHERE id > ? ${filter} ORDER BY id LIMIT ?`)
        .all(after ?? "", ...params, first + 1) as { id: string }[];
      return {
        ids: rows.slice(0, first).map((row) => row.id),
        hasNextPage: rows.length > first,
        totalCount,
      };
    },
    async close() {
      db.close();
    },
  };
}
