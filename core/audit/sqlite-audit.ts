import path from "node:path";
import { migrate, openSqlite } from "../store/sqlite.js";
import type { AuditEntry, AuditPage, AuditStore } from "./audit-log.js";

const MIGRATIONS = [
  `CREATE TABLE audit_entries (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     agent_id TEXT NOT NULL,
     actor TEXT NOT NULL,
     role TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT,
     details TEXT
   );
   CREATE INDEX audit_entries_agent ON audit_entries (agent_id, seq);`,
];

interface AuditRow {
  seq: number;
  at: string;
  agent_id: string;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  details: string | null;
}

export function createSqliteAuditStore(dataDir: string): AuditStore {
  const db = openSqlite(path.join(dataDir, "audit.db"));
  migrate(db, MIGRATIONS);
  const insert = db.prepare(
    `INSERT INTO audit_entries (at, agent_id, actor, role, action, target, details)
     VALUES (@at, @agentId, @actor, @role, @action, @target, @details)`,
  );
  const page = db.prepare(
    "SELECT * FROM audit_entries WHERE agent_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
  );
  const count = db.prepare("SELECT count(*) AS n FROM audit_entries WHERE agent_id = ?");
  const toEntry = (row: AuditRow): AuditEntry => ({
    seq: row.seq,
    at: row.at,
    agentId: row.agent_id,
    actor: row.actor,
    role: row.role,
    action: row.action,
    target: row.target,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
  });
  return {
    async append(entry) {
      insert.run({ ...entry, details: entry.details ? JSON.stringify(entry.details) : null });
    },
    async list(agentId, first, before): Promise<AuditPage> {
      return db.transaction(() => {
        const rows = page.all(agentId, before ?? Number.MAX_SAFE_INTEGER, first + 1) as AuditRow[];
        const { n } = count.get(agentId) as { n: number };
        return {
          entries: rows.slice(0, first).map(toEntry),
          hasNextPage: rows.length > first,
          totalCount: n,
        };
      })();
    },
    async close() {
      db.close();
    },
  };
}
