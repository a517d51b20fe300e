/**
 * The stores a benchmark runs on: the embedded SQLite (nothing to start) and a real Neo4j 5.26
 * (the embedded server of tools/neo4j-embedded, Bolt on a free port, started for the run and
 * stopped after). BENCH_STORES picks them (default "sqlite,neo4j").
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Neo4jConfig } from "../../core/config.js";
import { startEmbeddedNeo4j } from "../../tools/neo4j-embedded/launcher.js";

export const BENCH_STORES = (process.env.BENCH_STORES ?? "sqlite,neo4j").split(",") as ("sqlite" | "neo4j")[];

export interface BenchNeo4j {
  config: Neo4jConfig;
  /** The environment that points a Mnemo service at it. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startBenchNeo4j(): Promise<BenchNeo4j> {
  const home = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-neo4j-"));
  const password = "mnemo-bench-password";
  console.log("starting Neo4j (embedded, Bolt on a free port)…");
  const server = await startEmbeddedNeo4j({
    home,
    password,
    heap: process.env.BENCH_NEO4J_HEAP ?? "1g",
    pageCache: process.env.BENCH_NEO4J_PAGECACHE ?? "512m",
    onOutput: (line) => {
      if (/build|error|exception/i.test(line)) console.error(`  neo4j: ${line}`);
    },
  });
  const config: Neo4jConfig = { uri: server.uri, user: server.user, password, database: "neo4j" };
  return {
    config,
    env: {
      STORE: "neo4j",
      NEO4J_URI: config.uri,
      NEO4J_USER: config.user,
      NEO4J_PASSWORD: password,
      NEO4J_DATABASE: config.database,
    },
    async stop() {
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
