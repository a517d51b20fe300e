/**
 * Neo4j for the contract suites: a driver from NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD,
 * NEO4J_DATABASE) when set; otherwise the reason the Neo4j suites are skipped.
 */
import { createNeo4jDriver, type Driver } from "../../core/store/neo4j.js";

export const NEO4J_SKIP_REASON = process.env.NEO4J_URI
  ? undefined
  : "set NEO4J_URI to run; without a server the Cypher is linted in test/cypher-lint.test.ts";

export function neo4jTestDriver(): { driver: Driver; database: string } {
  const database = process.env.NEO4J_DATABASE ?? "neo4j";
  const driver = createNeo4jDriver({
    uri: process.env.NEO4J_URI!,
    user: process.env.NEO4J_USER ?? "neo4j",
    password: process.env.NEO4J_PASSWORD ?? "",
    database,
  });
  return { driver, database };
}
