/**
 * The agent directory (`agents`) read through the cache, on both stores: two whole stacks
 * sharing one store and a real Redis, as two replicas. A listing is served from the cache until
 * the set of agents changes; a change acknowledged on one replica is listed on the other at
 * once, for every principal scope.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/cache-fixture.js";
import { STORES } from "../support/neo4j.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, readerPrincipal, startTestStack, type TestStack } from "../support/stack.js";

describe.each(STORES)("cached agent directory, two replicas (%s)", (store) => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDir>;
  let a: TestStack;
  let b: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    data = tempDir();
    a = await startTestStack({ redisUrl: redis.url, dataDir: data.dir, store });
    b = await startTestStack({ redisUrl: redis.url, dataDir: data.dir, store });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.close();
    data?.remove();
  });

  const list = async (via: TestStack, as = ADMIN) => {
    const response = await via.query<{ agents: { totalCount: number; edges: { node: { id: string } }[] } }>(
      `{ agents(first: 100) { totalCount edges { node { id } } } }`,
      {},
      as,
    );
    expect(response.errors).toBeUndefined();
    return response.data!.agents.edges.map((edge) => edge.node.id);
  };
  const put = async (via: TestStack, agentId: string) => {
    const response = await via.query(
      `mutation P($a: ID!) { putState(agentId: $a, data: { x: 1 }) { version } }`,
      {
        a: agentId,
      },
    );
    expect(response.errors).toBeUndefined();
  };
  const remove = async (via: TestStack, agentId: string) => {
    const response = await via.query<{ deleteAgent: boolean }>(
      `mutation D($a: ID!) { deleteAgent(id: $a) }`,
      {
        a: agentId,
      },
    );
    expect(response.data?.deleteAgent).toBe(true);
  };
  const hits = (via: TestStack) => via.runtime.cache.stats("AGENT_DIRECTORY").hits;

  it("serves a repeated listing from the cache, and lists a change made on the other replica at once", async () => {
    await put(a, "dir-1");
    expect(await list(b)).toEqual(["dir-1"]);
    const before = hits(b);
    expect(await list(b)).toEqual(["dir-1"]);
    expect(hits(b)).toBe(before + 1);

    await put(a, "dir-2");
    expect(await list(b)).toEqual(["dir-1", "dir-2"]);
    const remembered = await a.query(
      `mutation { remember(agentId: "dir-3", input: { content: "memories only" }) { outcome } }`,
    );
    expect(remembered.errors).toBeUndefined();
    expect(await list(b)).toEqual(["dir-1", "dir-2", "dir-3"]);

    await remove(a, "dir-1");
    expect(await list(b)).toEqual(["dir-2", "dir-3"]);
    await remove(b, "dir-2");
    expect(await list(a)).toEqual(["dir-3"]);
  });

  it("keeps each principal's listing apart", async () => {
    await put(a, "dir-scope-1");
    await put(a, "dir-scope-2");
    const reader = readerPrincipal("dir-scope-1");
    expect(await list(b, reader)).toEqual(["dir-scope-1"]);
    expect(await list(b)).toEqual(expect.arrayContaining(["dir-scope-1", "dir-scope-2"]));
    expect(await list(b, reader)).toEqual(["dir-scope-1"]);
    await remove(a, "dir-scope-1");
    expect(await list(b, reader)).toEqual([]);
  });

  it("never lists an agent whose deletion was acknowledged, nor misses one whose first write was", async () => {
    const violations: string[] = [];
    const live = new Set<string>();
    const gone = new Set<string>();
    /** Deletions started: such an agent may be gone from a listing before its deletion is acknowledged. */
    const removing = new Set<string>();
    let running = true;
    const churn = async (via: TestStack, prefix: string) => {
      for (let i = 0; i < 8; i++) {
        const id = `${prefix}-${i}`;
        await put(via, id);
        live.add(id);
        if (i % 2 === 0) {
          removing.add(id);
          await remove(via === a ? b : a, id);
          live.delete(id);
          gone.add(id);
        }
      }
    };
    const reader = async () => {
      while (running) {
        // What was acknowledged before this listing began must show in it.
        const mustHave = [...live];
        const mustLack = [...gone];
        const ids = new Set(await list(Math.random() < 0.5 ? a : b));
        for (const id of mustHave) if (!ids.has(id) && !removing.has(id)) violations.push(`missing ${id}`);
        for (const id of mustLack) if (ids.has(id)) violations.push(`still lists ${id}`);
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    await Promise.all([churn(a, "race-a"), churn(b, "race-b")]);
    running = false;
    await Promise.all(readers);
    expect(violations).toEqual([]);
    const final = await list(a);
    for (const id of live) expect(final).toContain(id);
    for (const id of gone) expect(final).not.toContain(id);
  });
});
