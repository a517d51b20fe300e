/**
 * Two replicas of the whole stack (separate runtimes: own cache layer, Redis connections and
 * event bus) sharing one Redis and one store, as two containers of each service would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/cache-fixture.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";

const PUT = `mutation W($a: ID!, $d: JSON!) { putState(agentId: $a, data: $d) { version } }`;
const READ = `query R($a: ID!) { agent(id: $a) { state { version data } } }`;

describe("two replicas sharing Redis and the store", () => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDir>;
  let a: TestStack;
  let b: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    data = tempDir();
    a = await startTestStack({ redisUrl: redis.url, dataDir: data.dir });
    b = await startTestStack({ redisUrl: redis.url, dataDir: data.dir });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.close();
    data?.remove();
  });

  const write = async (via: TestStack, agentId: string, data: unknown) => {
    const response = await via.query<{ putState: { version: number } }>(PUT, { a: agentId, d: data });
    expect(response.errors, `write ${agentId}`).toBeUndefined();
    return response.data!.putState.version;
  };
  const read = async (via: TestStack, agentId: string) => {
    const response = await via.query<{ agent: { state: { version: number; data: unknown } | null } }>(READ, {
      a: agentId,
    });
    expect(response.errors, `read ${agentId}`).toBeUndefined();
    return response.data!.agent.state;
  };
  const setPolicy = async (via: TestStack, type: string, policy: Record<string, unknown>) => {
    const response = await via.query(
      `mutation S($t: CacheDataType!, $p: CachePolicyInput!) { setCachePolicy(type: $t, policy: $p) { type } }`,
      { t: type, p: policy },
    );
    expect(response.errors).toBeUndefined();
  };
  const policyOn = async (via: TestStack, type: string) => {
    const response = await via.query<{
      cachePolicies: { type: string; writeMode: string; ttlSeconds: number; enabled: boolean }[];
    }>(`{ cachePolicies { type enabled writeMode ttlSeconds } }`);
    return response.data!.cachePolicies.find((p) => p.type === type)!;
  };

  it("shows a policy change made on one replica on the other", async () => {
    await setPolicy(a, "ENTITY", { ttlSeconds: 90, writeMode: "WRITE_THROUGH" });
    const deadline = Date.now() + 10_000;
    while ((await policyOn(b, "ENTITY")).ttlSeconds !== 90) {
      if (Date.now() > deadline) throw new Error("policy change never reached the second replica");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await policyOn(b, "ENTITY")).toEqual({
      type: "ENTITY",
      enabled: true,
      writeMode: "WRITE_THROUGH",
      ttlSeconds: 90,
    });
  });

  it("reads its own write on the other replica, every time, in both write modes", async () => {
    for (const writeMode of ["WRITE_THROUGH", "INVALIDATE"]) {
      await setPolicy(a, "AGENT_STATE", { writeMode });
      for (let i = 0; i < 25; i++) {
        const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
        await read(reader, "rw-1"); // cache the current version on the reader's side first
        const version = await write(writer, "rw-1", { i, writeMode });
        expect(await read(reader, "rw-1")).toEqual({ version, data: { i, writeMode } });
      }
    }
    await setPolicy(a, "AGENT_STATE", { writeMode: "WRITE_THROUGH" });
  });

  it("never shows a reader a version older than one already acknowledged to it", async () => {
    const agents = ["cc-0", "cc-1", "cc-2"];
    const acknowledged = new Map(agents.map((id) => [id, 0]));
    const violations: string[] = [];
    let reads = 0;
    const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;

    const writer = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const agentId = pick(agents);
        const version = await write(pick([a, b]), agentId, { i });
        acknowledged.set(agentId, Math.max(acknowledged.get(agentId)!, version));
      }
    };
    let writing = true;
    const reader = async () => {
      while (writing) {
        const agentId = pick(agents);
        const floor = acknowledged.get(agentId)!;
        const via = pick([a, b]);
        const state = await read(via, agentId);
        reads++;
        if ((state?.version ?? 0) < floor)
          violations.push(`${agentId}: read ${state?.version} after ${floor} was acknowledged`);
      }
    };
    // Meanwhile an admin flips write modes and invalidates, so reads go through every path:
    // hits, misses on tombstones, write-backs racing writes, fill locks across replicas.
    const churn = async () => {
      const modes = ["INVALIDATE", "WRITE_THROUGH"];
      for (let i = 0; writing; i++) {
        await setPolicy(pick([a, b]), "AGENT_STATE", { writeMode: modes[i % 2] });
        await pick([a, b]).query(
          `mutation I($a: ID!) { invalidateAgent(agentId: $a) }`,
          { a: pick(agents) },
          ADMIN,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const readers = Array.from({ length: 6 }, reader);
    const churning = churn();
    await Promise.all([writer(60), writer(60)]);
    writing = false;
    await Promise.all([...readers, churning]);

    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(50);
    for (const agentId of agents) {
      for (const via of [a, b]) expect((await read(via, agentId))?.version).toBe(acknowledged.get(agentId));
    }
  });
});
