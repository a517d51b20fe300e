import { type Driver, ensureSchema, neo4j, runRead, runWrite, toNumber } from "../store/neo4j.js";
import type { AuditEntry, AuditPage, AuditStore } from "./audit-log.js";

/** Every statement this adapter sends; linted in `npm test`. */
export const AUDIT_CYPHER = {
  constraint: "CREATE CONSTRAINT audit_entry_seq IF NOT EXISTS FOR (e:AuditEntry) REQUIRE e.seq IS UNIQUE",
  index: "CREATE INDEX audit_entry_agent IF NOT EXISTS FOR (e:AuditEntry) ON (e.agentId, e.seq)",
  // A counter node hands out increasing sequence numbers; its write lock serialises appends.
  append: `MERGE (c:AuditCounter {name: 'audit'})
SET c.value = coalesce(c.value, 0) + 1
CREATE (e:AuditEntry {
  seq: c.value, at: $at, agentId: $agentId, actor: $actor, role: $role,
  action: $action, target: $target, details: $details
})`,
  page: `MATCH (e:AuditEntry)
WHERE e.agentId = $agentId AND e.seq < $before
RETURN e.seq AS seq, e.at AS at, e.agentId AS agentId, e.actor AS actor, e.role AS role,
       e.action AS action, e.target AS target, e.details AS details
ORDER BY e.seq DESC
LIMIT $limit`,
  count: `MATCH (e:AuditEntry)
WHERE e.agentId = $agentId
RETURN count(e) AS total`,
} as const;

export async function createNeo4jAuditStore(driver: Driver, database: string): Promise<AuditStore> {
  await ensureSchema(driver, database, [AUDIT_CYPHER.constraint, AUDIT_CYPHER.index]);
  return {
    async append(entry) {
      await runWrite(driver, database, (tx) =>
        tx.run(AUDIT_CYPHER.append, {
          ...entry,
          details: entry.details ? JSON.stringify(entry.details) : null,
        }),
      );
    },
    async list(agentId, first, before): Promise<AuditPage> {
      return runRead(driver, database, async (tx) => {
        const page = await tx.run(AUDIT_CYPHER.page, {
          agentId,
          before: neo4j.int(before ?? Number.MAX_SAFE_INTEGER),
          limit: neo4j.int(first + 1),
        });
        const count = await tx.run(AUDIT_CYPHER.count, { agentId });
        const entries: AuditEntry[] = page.records.map((r) => ({
          seq: toNumber(r.get("seq")),
          at: r.get("at") as string,
          agentId: r.get("agentId") as string,
          actor: r.get("actor") as string,
          role: r.get("role") as string,
          action: r.get("action") as string,
          target: (r.get("target") as string | null) ?? null,
          details: r.get("details")
            ? (JSON.parse(r.get("details") as string) as Record<string, unknown>)
            : null,
        }));
        return {
          entries: entries.slice(0, first),
          hasNextPage: entries.length > first,
          totalCount: toNumber(count.records[0]?.get("total") ?? 0),
        };
      });
    },
    async close() {},
  };
}
