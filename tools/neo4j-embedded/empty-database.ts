/**
 * Empties a Neo4j database: data, indexes and constraints. For the throw-away servers of tests
 * and benchmarks only (a test file, or a benchmark run, starts from nothing, and the stores then
 * create their schema as they do in production). Never pointed at a database that matters.
 */
import type { Neo4jConfig } from "../../core/config.js";
import { createNeo4jDriver } from "../../core/store/neo4j.js";

export async function emptyNeo4jDatabase(config: Neo4jConfig): Promise<void> {
  const driver = createNeo4jDriver(config);
  const session = driver.session({ database: config.database });
  try {
    // Constraints own their indexes, so they go first; lookup indexes are Neo4j's own.
    const constraints = await session.run("SHOW CONSTRAINTS YIELD name");
    for (const record of constraints.records) {
      await session.run(`DROP CONSTRAINT ${quoteName(record.get("name"))} IF EXISTS`);
    }
    const indexes = await session.run("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'");
    for (const record of indexes.records) {
      await session.run(`DROP INDEX ${quoteName(record.get("name"))} IF EXISTS`);
    }
    await session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS");
  } finally {
    await session.close();
    await driver.close();
  }
}

/** Schema names come from the server, but are quoted anyway: a backtick inside is doubled. */
const quoteName = (name: string) => `\`${name.replaceAll("`", "``")}\``;
