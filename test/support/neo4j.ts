/**
 * Neo4j in tests: the real server this test worker owns (started by test/global-setup.ts), as a
 * config or a driver. The first use in a test file empties the database (data, indexes and
 * constraints), so a file sees a fresh store whatever ran before it on that server; the stores
 * then create their schema as they do in production.
 */
import { inject } from "vitest";
import type { Neo4jConfig } from "../../core/config.js";
import { createNeo4jDriver, type Driver } from "../../core/store/neo4j.js";
import { waitForTestNeo4j } from "./neo4j-server.js";

/** Every store a store-dependent suite runs on. */
export const STORES = ["sqlite", "neo4j"] as const;
export type TestStore = (typeof STORES)[number];

let fresh: Promise<Neo4jConfig> | null = null;

/** This worker's Neo4j, emptied before this file's first use. Fails (never skips) if it could not start. */
export function testNeo4jConfig(): Promise<Neo4jConfig> {
  fresh ??= (async () => {
    const worker = Number(process.env.VITEST_POOL_ID ?? "1");
    const workers = inject("neo4jWorkers");
    const endpoint = await waitForTestNeo4j(inject("neo4jRendezvous"), ((worker - 1) % workers) + 1);
    const config: Neo4jConfig = {
      uri: endpoint.uri,
      user: endpoint.user,
      password: endpoint.password,
      database: "neo4j",
    };
    await emptyDatabase(config);
    return config;
  })();
  return fresh;
}

/** Empties this worker's Neo4j again, for a file that uses it with two incompatible schemas. */
export async function emptyTestNeo4j(): Promise<void> {
  await emptyDatabase(await testNeo4jConfig());
}

/** A driver on this worker's (emptied) Neo4j; close it after use. */
export async function neo4jTestDriver(): Promise<{ driver: Driver; database: string }> {
  const config = await testNeo4jConfig();
  return { driver: createNeo4jDriver(config), database: config.database };
}

/** The environment that points a Mnemo service at this worker's Neo4j. */
export async function neo4jTestEnvironment(): Promise<Record<string, string>> {
  const config = await testNeo4jConfig();
  return {
    STORE: "neo4j",
    NEO4J_URI: config.uri,
    NEO4J_USER: config.user,
    NEO4J_PASSWORD: config.password,
    NEO4J_DATABASE: config.database,
  };
}

async function emptyDatabase(config: Neo4jConfig): Promise<void> {
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
