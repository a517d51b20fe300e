/**
 * Neo4j for a benchmark: the server in NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD,
 * NEO4J_DATABASE) when set, else the embedded Neo4j 5.26 of tools/neo4j-embedded started on a
 * free port in a temporary directory and stopped afterwards, so a benchmark prints SQLite and
 * Neo4j rows in one run on a machine with nothing installed but Java and Maven.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmbeddedNeo4j } from "../../tools/neo4j-embedded/launcher.js";

export interface BenchNeo4j {
  /** The environment that points Mnemo at this server (STORE=neo4j and NEO4J_*). */
  env: Record<string, string>;
  /** Start-up time of the embedded server, ms; null for an external one. */
  startMs: number | null;
  /** Stops the embedded server and removes its directory (nothing for an external one). */
  stop(): Promise<void>;
}

export async function startBenchNeo4j(
  options: { heap?: string; pageCache?: string } = {},
): Promise<BenchNeo4j> {
  if (process.env.NEO4J_URI) {
    return {
      env: {
        STORE: "neo4j",
        NEO4J_URI: process.env.NEO4J_URI,
        NEO4J_USER: process.env.NEO4J_USER ?? "neo4j",
        NEO4J_PASSWORD: process.env.NEO4J_PASSWORD ?? "",
        NEO4J_DATABASE: process.env.NEO4J_DATABASE ?? "neo4j",
      },
      startMs: null,
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
  return {
    env: {
      STORE: "neo4j",
      NEO4J_URI: server.uri,
      NEO4J_USER: "neo4j",
      NEO4J_PASSWORD: password,
      NEO4J_DATABASE: "neo4j",
    },
    startMs: server.startMs,
    async stop() {
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
