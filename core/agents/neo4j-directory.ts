import { type Driver, neo4j, runRead, runWrite, toNumber } from "../store/neo4j.js";
import type { AgentDirectory, AgentFacet, AgentListOptions, AgentPage } from "./directory.js";

/** Every statement this adapter sends; linted in `npm test`. */
export const AGENT_DIRECTORY_CYPHER = {
  constraint: "CREATE CONSTRAINT agent_id IF NOT EXISTS FOR (a:Agent) REQUIRE a.id IS UNIQUE",
  revisionConstraint:
    "CREATE CONSTRAINT agent_directory_id IF NOT EXISTS FOR (d:AgentDirectory) REQUIRE d.id IS UNIQUE",
  markState: `MERGE (a:Agent {id: $id})
ON CREATE SET a.createdAt = datetime()
SET a.hasState = $present`,
  markMemories: `MERGE (a:Agent {id: $id})
ON CREATE SET a.createdAt = datetime()
SET a.hasMemories = $present`,
  removeIfEmpty: `MATCH (a:Agent {id: $id})
WHERE NOT coalesce(a.hasState, false) AND NOT coalesce(a.hasMemories, false) AND NOT EXISTS { (a)--() }
DELETE a`,
  bumpRevision: `MERGE (d:AgentDirectory {id: "directory"})
SET d.revision = coalesce(d.revision, 0) + 1
RETURN d.revision AS revision`,
  revision: `OPTIONAL MATCH (d:AgentDirectory {id: "directory"})
RETURN coalesce(d.revision, 0) AS revision`,
  count: `MATCH (a:Agent)
WHERE (coalesce(a.hasState, false) OR coalesce(a.hasMemories, false)) AND ($only IS NULL OR a.id IN $only)
RETURN count(a) AS total`,
  page: `MATCH (a:Agent)
WHERE (coalesce(a.hasState, false) OR coalesce(a.hasMemories, false))
  AND a.id > $after AND ($only IS NULL OR a.id IN $only)
RETURN a.id AS id
ORDER BY id
LIMIT $limit`,
} as const;

export async function createNeo4jAgentDirectory(driver: Driver, database: string): Promise<AgentDirectory> {
  await runWrite(driver, database, (tx) => tx.run(AGENT_DIRECTORY_CYPHER.constraint));
  await runWrite(driver, database, (tx) => tx.run(AGENT_DIRECTORY_CYPHER.revisionConstraint));
  return {
    async mark(agentId: string, facet: AgentFacet, present: boolean) {
      const statement =
        facet === "state" ? AGENT_DIRECTORY_CYPHER.markState : AGENT_DIRECTORY_CYPHER.markMemories;
      return runWrite(driver, database, async (tx) => {
        await tx.run(statement, { id: agentId, present });
        if (!present) await tx.run(AGENT_DIRECTORY_CYPHER.removeIfEmpty, { id: agentId });
        // Locks the revision node: concurrent changes get increasing revisions, in commit order.
        const bumped = await tx.run(AGENT_DIRECTORY_CYPHER.bumpRevision);
        return toNumber(bumped.records[0]!.get("revision"));
      });
    },
    async list({ first, after, only }: AgentListOptions): Promise<AgentPage> {
      return runRead(driver, database, async (tx) => {
        const revision = await tx.run(AGENT_DIRECTORY_CYPHER.revision);
        const total = await tx.run(AGENT_DIRECTORY_CYPHER.count, { only });
        const page = await tx.run(AGENT_DIRECTORY_CYPHER.page, {
          only,
          after: after ?? "",
          limit: neo4j.int(first + 1),
        });
        const ids = page.records.map((record) => record.get("id") as string);
        return {
          ids: ids.slice(0, first),
          hasNextPage: ids.length > first,
          totalCount: toNumber(total.records[0]?.get("total") ?? 0),
          revision: toNumber(revision.records[0]?.get("revision") ?? 0),
        };
      });
    },
    async close() {},
  };
}
