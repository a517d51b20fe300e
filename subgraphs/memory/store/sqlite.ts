import path from "node:path";
import { migrate, openSqlite, type SqliteDatabase } from "../../../core/store/sqlite.js";
import type { MemoryPage, MemoryRecord, MemoryStore } from "./port.js";

const MIGRATIONS = [
  `CREATE TABLE memories (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     agent_id TEXT NOT NULL,
     content TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE INDEX memories_agent ON memories (agent_id, seq);`,
];

interface MemoryRow {
  id: string;
  agent_id: string;
  content: string;
  created_at: string;
}

const toRecord = (row: MemoryRow): MemoryRecord => ({
  id: row.id,
  agentId: row.agent_id,
  content: row.content,
  createdAt: row.created_at,
});

export function createSqliteMemoryStore(dataDir: string): MemoryStore {
  const db: SqliteDatabase = openSqlite(path.join(dataDir, "memory.db"));
  migrate(db, MIGRATIONS);
  const insert = db.prepare(
    "INSERT INTO memories (id, agent_id, content, created_at) VALUES (@id, @agentId, @content, @createdAt)",
  );
  const getMany = db.prepare(
    `SELECT j.key AS position, m.id, m.agent_id, m.content, m.created_at
     FROM json_each(?) j JOIN memories m ON m.id = j.value`,
  );
  const seqOf = db.prepare("SELECT seq FROM memories WHERE id = ? AND agent_id = ?");
  const page = db.prepare(
    "SELECT id, agent_id, content, created_at FROM memories WHERE agent_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
  );
  const count = db.prepare("SELECT count(*) AS n FROM memories WHERE agent_id = ?");

  return {
    async insert(record) {
      insert.run(record);
    },
    async getMany(ids) {
      const results: (MemoryRecord | null)[] = ids.map(() => null);
      for (const row of getMany.all(JSON.stringify(ids)) as (MemoryRow & { position: number })[]) {
        results[row.position] = toRecord(row);
      }
      return results;
    },
    async list(agentId, first, after): Promise<MemoryPage> {
      return db.transaction(() => {
        const before = after
          ? ((seqOf.get(after, agentId) as { seq: number } | undefined)?.seq ?? 0)
          : Number.MAX_SAFE_INTEGER;
        const rows = page.all(agentId, before, first + 1) as MemoryRow[];
        const { n } = count.get(agentId) as { n: number };
        return {
          records: rows.slice(0, first).map(toRecord),
          hasNextPage: rows.length > first,
          totalCount: n,
        };
      })();
    },
    async ping() {
      db.prepare("SELECT 1").get();
    },
    async close() {
      db.close();
    },
  };
}
