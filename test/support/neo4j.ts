/**
 * Neo4j in tests: the real server this test worker owns (started by test/global-setup.ts), as a
 * config or a driver. The first use in a test file empties the database (data, indexes and
 * constraints), so a file sees a fresh store whatever ran before it on that server; the stores
 * then create their schema as they do in production.
 */
import { inject } from "vitest";
import type { Neo4jConfig } from "../../core/config.js";
import { createNeo4jDriver, type Driver } from "../../core/store/neo4j.js";
import { emptyNeo4jDatabase } from "../../tools/neo4j-embedded/empty-database.js";
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
    await emptyNeo4jDatabase(config);
    return config;
  })();
  return fresh;
}

/** Empties this worker's Neo4j again, for a file that uses it with two incompatible schemas. */
export async function emptyTestNeo4j(): Promise<void> {
  await emptyNeo4jDatabase(await testNeo4jConfig());
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
