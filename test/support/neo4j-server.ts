/**
 * Real Neo4j servers for the test run, started the way redis-server is: the embedded Neo4j 5.26
 * of tools/neo4j-embedded, Bolt on a free loopback port, a temporary data directory each.
 *
 * vitest's global setup (test/global-setup.ts) owns one server per test worker, started on
 * demand: the first test file of worker N that needs Neo4j writes `<rendezvous>/want-N`, the
 * global setup starts the server and writes `<rendezvous>/N.json` once it is ready (or the error
 * that stopped it), and the file waits for that. A run of files that need no Neo4j starts none.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type RunningNeo4j, startEmbeddedNeo4j } from "../../tools/neo4j-embedded/launcher.js";

export const TEST_NEO4J_PASSWORD = "mnemo-test-password";

export interface Neo4jEndpoint {
  uri: string;
  user: string;
  password: string;
  /** Start-up time measured inside the JVM, ms. */
  readyMs: number;
  /** Spawn to ready as the test run saw it, ms (includes a Maven build on a fresh machine). */
  startMs: number;
}

type Rendezvous = { ok: true; endpoint: Neo4jEndpoint } | { ok: false; error: string };

const fileFor = (dir: string, worker: number) => path.join(dir, `${worker}.json`);
const requestFor = (dir: string, worker: number) => path.join(dir, `want-${worker}`);

/** Workers that asked for their server since the last call (global setup side). */
export function requestedWorkers(rendezvousDir: string, seen: Set<number>): number[] {
  const wanted: number[] = [];
  for (const name of readdirSync(rendezvousDir)) {
    const match = /^want-(\d+)$/.exec(name);
    if (!match) continue;
    const worker = Number(match[1]);
    if (!seen.has(worker)) {
      seen.add(worker);
      wanted.push(worker);
    }
  }
  return wanted;
}

/** Starts a test server and records how to reach it (or why it failed) for worker `worker`. */
export async function startTestNeo4j(
  home: string,
  rendezvousDir: string,
  worker: number,
): Promise<RunningNeo4j | null> {
  try {
    const server = await startEmbeddedNeo4j({
      home,
      password: TEST_NEO4J_PASSWORD,
      // Enough for the largest test data set (a few thousand memories with 512-d vectors) on a
      // 24 GiB machine that runs two of these next to the test workers.
      heap: "1g",
      pageCache: "256m",
    });
    const endpoint: Neo4jEndpoint = {
      uri: server.uri,
      user: server.user,
      password: server.password,
      readyMs: server.readyMs,
      startMs: server.startMs,
    };
    writeFileSync(
      fileFor(rendezvousDir, worker),
      JSON.stringify({ ok: true, endpoint } satisfies Rendezvous),
    );
    return server;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    writeFileSync(
      fileFor(rendezvousDir, worker),
      JSON.stringify({ ok: false, error: message } satisfies Rendezvous),
    );
    return null;
  }
}

/** Waits for worker `worker`'s server; throws (failing the test, never skipping it) if it could not start. */
export async function waitForTestNeo4j(
  rendezvousDir: string,
  worker: number,
  timeoutMs = 180_000,
): Promise<Neo4jEndpoint> {
  const file = fileFor(rendezvousDir, worker);
  if (!existsSync(file)) writeFileSync(requestFor(rendezvousDir, worker), "");
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline)
      throw new Error(`the test Neo4j for worker ${worker} was not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const result = JSON.parse(readFileSync(file, "utf8")) as Rendezvous;
  if (!result.ok) throw new Error(`the test Neo4j could not start: ${result.error}`);
  return result.endpoint;
}
