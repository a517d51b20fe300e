/**
 * Once per `vitest run`: one real Neo4j per test worker, started when the worker first needs it
 * (see test/support/neo4j-server.ts), so every store-dependent suite runs on Neo4j as well as on
 * SQLite, with no shared state between files that run at the same time. Each file empties its
 * worker's database before it uses it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import type { RunningNeo4j } from "../tools/neo4j-embedded/launcher.js";
import { requestedWorkers, startTestNeo4j } from "./support/neo4j-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where worker N asks for its Neo4j (`want-N`) and finds `N.json`: its address, or why it could not start. */
    neo4jRendezvous: string;
    neo4jWorkers: number;
  }
}

export default function setup(project: TestProject) {
  const workers = Math.max(1, Number(project.config.maxWorkers) || 1);
  const rendezvous = mkdtempSync(path.join(os.tmpdir(), "mnemo-neo4j-run-"));
  const homes: string[] = [];
  const starting: Promise<RunningNeo4j | null>[] = [];
  const seen = new Set<number>();
  // Servers start when a test file first asks (test/support/neo4j-server.ts): a run of files
  // that need no Neo4j starts no JVM.
  const poll = setInterval(() => {
    for (const worker of requestedWorkers(rendezvous, seen)) {
      const home = mkdtempSync(path.join(os.tmpdir(), `mnemo-neo4j-${worker}-`));
      homes.push(home);
      starting.push(startTestNeo4j(home, rendezvous, worker));
    }
  }, 100);
  project.provide("neo4jRendezvous", rendezvous);
  project.provide("neo4jWorkers", workers);

  return async () => {
    clearInterval(poll);
    const servers = await Promise.all(starting);
    await Promise.all(servers.map((server) => server?.stop()));
    for (const dir of [rendezvous, ...homes]) rmSync(dir, { recursive: true, force: true });
  };
}
