/**
 * Neo4j for a benchmark: the server in NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD,
 * NEO4J_DATABASE) when set, else the embedded Neo4j 5.26 of tools/neo4j-embedded started on a
 * free port in a temporary directory and stopped afterwards, so a benchmark prints SQLite and
 * Neo4j rows in one run on a machine with nothing installed but Java and Maven.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Neo4jConfig } from "../../core/config.js";
import { emptyNeo4jDatabase } from "../../tools/neo4j-embedded/empty-database.js";
import { startEmbeddedNeo4j } from "../../tools/neo4j-embedded/launcher.js";

export interface BenchNeo4j {
  /** The environment that points Mnemo at this server (STORE=neo4j and NEO4J_*). */
  env: Record<string, string>;
  /** The same server as a driver's configuration. */
  config: Neo4jConfig;
  /** Start-up time of the embedded server, ms; null for an external one. */
  startMs: number | null;
  /** Empties the database (data and schema), so the next run starts from nothing. */
  empty(): Promise<void>;
  /** Stops the embedded server and removes its directory (nothing for an external one). */
  stop(): Promise<void>;
}

/** BENCH_STORES: the stores a benchmark runs on, "sqlite,neo4j" by default. */
export function benchStores(): ("sqlite" | "neo4j")[] {
  const wanted = (process.env.BENCH_STORES ?? "sqlite,neo4j").split(",");
  for (const name of wanted) {
    if (name !== "sqlite" && name !== "neo4j")
      throw new Error(`BENCH_STORES takes sqlite and/or neo4j (got "${name}")`);
  }
  return wanted as ("sqlite" | "neo4j")[];
}

export async function startBenchNeo4j(
  options: { heap?: string; pageCache?: string } = {},
): Promise<BenchNeo4j> {
  if (process.env.NEO4J_URI) {
    const config: Neo4jConfig = {
      uri: process.env.NEO4J_URI,
      user: process.env.NEO4J_USER ?? "neo4j",
      password: process.env.NEO4J_PASSWORD ?? "",
      database: process.env.NEO4J_DATABASE ?? "neo4j",
    };
    return {
      env: environmentOf(config),
      config,
      startMs: null,
      empty: async () => {
        throw new Error(
          "benchmarks never empty an external Neo4j (NEO4J_URI): unset it to use an embedded one",
        );
      },
      stop: async () => {},
    };
  }
  const home = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-neo4j-"));
  const password = "mnemo-bench-password";
  const server = await startEmbeddedNeo4j({
    home,
    password,
    // Sized for the benchmarks' largest data set (100k memories with 512-d vectors) on 24 GiB.
    heap: options.heap ?? "2g",
    pageCache: options.pageCache ?? "1g",
  });
  const config: Neo4jConfig = { uri: server.uri, user: "neo4j", password, database: "neo4j" };
  return {
    env: environmentOf(config),
    config,
    startMs: server.startMs,
    empty: () => emptyNeo4jDatabase(config),
    async stop() {
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const environmentOf = (config: Neo4jConfig): Record<string, string> => ({
  STORE: "neo4j",
  NEO4J_URI: config.uri,
  NEO4J_USER: config.user,
  NEO4J_PASSWORD: config.password,
  NEO4J_DATABASE: config.database,
});
