/**
 * kill -9 in the middle of writes, then a restart: every write a client saw acknowledged is
 * there afterwards, on each store. Mnemo runs in a child process (killed with SIGKILL while
 * eight clients write state and memories); on Neo4j the database server itself is killed too,
 * and restarted on the same data directory, which it recovers from its transaction log.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { issueToken } from "../../core/auth/tokens.js";
import { loadConfig } from "../../core/config.js";
import { type RunningNeo4j, startEmbeddedNeo4j } from "../../tools/neo4j-embedded/launcher.js";
import { postGraphQL } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import { TEST_NEO4J_PASSWORD } from "../support/neo4j-server.js";
import { freePort } from "../support/ports.js";
import { ServiceProcess } from "../support/service-process.js";
import { ADMIN, storeEnvironment, testEnvironment } from "../support/stack.js";

const WRITERS = 8;

interface Acknowledged {
  /** agent -> the data of every acknowledged version, by version number */
  states: Map<string, Map<number, number>>;
  /** memory id -> content */
  memories: Map<string, string>;
}

/** Eight clients writing until `stop()`; only what the server answered without error counts. */
function startWriters(url: string, token: string) {
  const acknowledged: Acknowledged = { states: new Map(), memories: new Map() };
  let running = true;
  let attempts = 0;
  const headers = { authorization: `Bearer ${token}` };
  const writer = async (w: number) => {
    const agentId = `crash-${w}`;
    const versions = new Map<number, number>();
    acknowledged.states.set(agentId, versions);
    for (let n = 1; running; n++) {
      attempts++;
      try {
        if (n % 2 === 0) {
          const content = `writer ${w} remembers fact number ${n}`;
          const response = await postGraphQL<{ remember: { memory: { id: string } } }>(
            url,
            `mutation R($a: ID!, $c: String!) { remember(agentId: $a, input: {content: $c}) { memory { id } } }`,
            { a: agentId, c: content },
            headers,
          );
          if (!response.errors && response.data)
            acknowledged.memories.set(response.data.remember.memory.id, content);
        } else {
          const response = await postGraphQL<{ putState: { version: number } }>(
            url,
            `mutation P($a: ID!, $d: JSON!) { putState(agentId: $a, data: $d) { version } }`,
            { a: agentId, d: { n } },
            headers,
          );
          if (!response.errors && response.data) versions.set(response.data.putState.version, n);
        }
      } catch {
        // The server went away mid-request: not acknowledged; pause so a dead server is not spun on.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const done = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  return {
    acknowledged,
    attempts: () => attempts,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function expectAllAcknowledged(url: string, token: string, acknowledged: Acknowledged): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  for (const [agentId, versions] of acknowledged.states) {
    if (versions.size === 0) continue;
    const response = await postGraphQL<{
      agent: { history: { edges: { node: { version: number; data: { n: number } } }[] } };
    }>(
      url,
      `query H($a: ID!) { agent(id: $a) { history(first: 100) { edges { node { version data } } } } }`,
      { a: agentId },
      headers,
    );
    expect(response.errors).toBeUndefined();
    const stored = new Map(response.data!.agent.history.edges.map((e) => [e.node.version, e.node.data.n]));
    for (const [version, n] of versions) expect(stored.get(version), `${agentId} v${version}`).toBe(n);
  }
  const ids = [...acknowledged.memories.keys()];
  for (let start = 0; start < ids.length; start += 50) {
    const chunk = ids.slice(start, start + 50);
    const response = await postGraphQL<Record<string, { content: string } | null>>(
      url,
      `{ ${chunk.map((id, i) => `m${i}: memory(id: ${JSON.stringify(id)}) { content }`).join(" ")} }`,
      {},
      headers,
    );
    expect(response.errors).toBeUndefined();
    chunk.forEach((id, i) => {
      expect(response.data![`m${i}`]?.content, id).toBe(acknowledged.memories.get(id));
    });
  }
}

const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets the writers get going (the first memory loads the embedding model), then a moment more. */
async function whileWritesFlow(acknowledged: Acknowledged): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (acknowledged.memories.size < 20 && Date.now() < deadline) await until(50);
  await until(300);
}

describe.each(STORES)("kill -9 and restart (%s)", (store) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-crash-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("keeps every acknowledged write when the Mnemo process is killed mid-write", async () => {
    const env = { ...process.env, ...testEnvironment({ dataDir }), ...(await storeEnvironment(store)) };
    const token = await issueToken(loadConfig(env, { services: ["gateway"] }).auth, ADMIN);
    const first = await ServiceProcess.start("gateway,state,memory,cache-admin", env);
    const writers = startWriters(first.url("gateway"), token);
    await whileWritesFlow(writers.acknowledged);
    await first.kill();
    await writers.stop();
    expect(writers.acknowledged.memories.size).toBeGreaterThan(5);

    const second = await ServiceProcess.start("gateway,state,memory,cache-admin", env);
    try {
      await expectAllAcknowledged(second.url("gateway"), token, writers.acknowledged);
    } finally {
      await second.stop();
    }
  }, 240_000);
});

describe("kill -9 of the Neo4j server and restart on its data directory", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "mnemo-neo4j-crash-"));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-crash-neo4j-"));
  let neo4j: RunningNeo4j | null = null;
  afterAll(async () => {
    await neo4j?.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps every acknowledged write and serves again once Neo4j is back", async () => {
    const port = await freePort();
    const start = () => startEmbeddedNeo4j({ home, port, password: TEST_NEO4J_PASSWORD, heap: "512m" });
    neo4j = await start();
    const env = {
      ...process.env,
      ...testEnvironment({ dataDir }),
      STORE: "neo4j",
      NEO4J_URI: neo4j.uri,
      NEO4J_USER: "neo4j",
      NEO4J_PASSWORD: TEST_NEO4J_PASSWORD,
    };
    const token = await issueToken(loadConfig(env, { services: ["gateway"] }).auth, ADMIN);
    const mnemo = await ServiceProcess.start("gateway,state,memory,cache-admin", env);
    let acknowledged: Acknowledged;
    try {
      const writers = startWriters(mnemo.url("gateway"), token);
      await whileWritesFlow(writers.acknowledged);
      await neo4j.kill();
      await until(300);
      await writers.stop();
      acknowledged = writers.acknowledged;
      expect(acknowledged.memories.size).toBeGreaterThan(5);

      neo4j = await start();
      // The same Mnemo process serves again by itself (the driver replaces dead connections)...
      const after = await postGraphQL<{ putState: { version: number } }>(
        mnemo.url("gateway"),
        `mutation { putState(agentId: "after-crash", data: {ok: true}) { version } }`,
        {},
        { authorization: `Bearer ${token}` },
      );
      expect(after.errors).toBeUndefined();
      expect(after.data?.putState.version).toBe(1);
    } finally {
      await mnemo.stop();
    }
    // ...and a fresh one, with nothing cached, reads every acknowledged write from Neo4j.
    const fresh = await ServiceProcess.start("gateway,state,memory,cache-admin", env);
    try {
      await expectAllAcknowledged(fresh.url("gateway"), token, acknowledged);
    } finally {
      await fresh.stop();
    }
  }, 300_000);
});
