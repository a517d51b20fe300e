/**
 * Redis stopped in the middle of traffic: every request still succeeds from the store, no write
 * is lost or hidden behind an old cached value, /ready reports the degradation, and the cache
 * comes back by itself. Redis here keeps its data across the restart (AOF), as a failover or a
 * network partition would, so the old values are still there when it returns: only the replay
 * of the invalidations queued during the outage keeps them from being served.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisServer } from "../support/redis-server.js";
import { startTestStack, type TestStack } from "../support/stack.js";

interface Ready {
  status: number;
  body: { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
}

async function ready(url: string): Promise<Ready> {
  const response = await fetch(new URL("/ready", url));
  return { status: response.status, body: (await response.json()) as Ready["body"] };
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("Redis outage in the middle of traffic", () => {
  let redis: RedisServer;
  let mnemo: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    mnemo = await startTestStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  const agents = Array.from({ length: 6 }, (_, i) => `outage-${i}`);
  const acked = new Map<string, number>();
  let step = 0;

  const write = async (agentId: string) => {
    const response = await mnemo.query<{ putState: { version: number } }>(
      `mutation W($a: ID!, $d: JSON!) { putState(agentId: $a, data: $d) { version } }`,
      { a: agentId, d: { step: ++step } },
    );
    expect(response.errors, `write ${agentId}`).toBeUndefined();
    acked.set(agentId, response.data!.putState.version);
  };
  const read = async (agentId: string) => {
    const response = await mnemo.query<{
      agent: { state: { version: number; data: { step: number } } | null };
    }>(`query R($a: ID!) { agent(id: $a) { state { version data } } }`, { a: agentId });
    expect(response.errors, `read ${agentId}`).toBeUndefined();
    return response.data!.agent.state;
  };
  /** A round of traffic: every agent written and read twice; every read at least as new as its last write. */
  const traffic = async () => {
    await Promise.all(
      agents.map(async (agentId) => {
        for (let i = 0; i < 2; i++) {
          await write(agentId);
          expect((await read(agentId))?.version).toBe(acked.get(agentId));
          expect((await read(agentId))?.version).toBe(acked.get(agentId));
        }
      }),
    );
  };

  it("serves every request from the store, loses no write, and recovers by itself", async () => {
    await traffic();
    const probe = new Redis(redis.url);
    expect(await probe.get("mnemo:v1:{outage-0}:AGENT_STATE:outage-0")).toMatch(/^\d+\|V/);
    probe.disconnect();

    await redis.stop();
    await traffic();
    await traffic();
    const down = await ready(mnemo.url("state"));
    expect(down.status).toBe(503);
    expect(down.body.checks.cache).toMatchObject({ ok: false });
    expect(down.body.checks.cache?.error).toMatch(/degraded since .*invalidation\(s\) waiting for Redis/);
    expect(down.body.checks.store?.ok).toBe(true);

    // The admin API says what it can: stats from this replica, and a policy change refused whole.
    const stats = await mnemo.query<{
      cacheStats: { degraded: boolean; allReplicas: boolean; redis: unknown };
    }>(`{ cacheStats { degraded allReplicas redis { mode } } }`);
    expect(stats.data?.cacheStats).toEqual({ degraded: true, allReplicas: false, redis: null });
    const policy = await mnemo.query(
      `mutation { setCachePolicy(type: MEMORY, policy: { ttlSeconds: 9 }) { type } }`,
    );
    expect(policy.errors?.[0]?.extensions?.code).toBe("UNAVAILABLE");
    expect(policy.errors?.[0]?.message).toMatch(/nothing was changed/);
    const policies = await mnemo.query<{ cachePolicies: { type: string; ttlSeconds: number }[] }>(
      `{ cachePolicies { type ttlSeconds } }`,
    );
    expect(policies.data?.cachePolicies.find((p) => p.type === "MEMORY")?.ttlSeconds).toBe(300);

    await redis.start();
    // Redis is back with the values cached before the outage; until the replay, the store answers.
    await traffic();
    await waitFor(async () => (await ready(mnemo.url("state"))).status === 200);
    expect((await ready(mnemo.url("state"))).body.checks.cache?.ok).toBe(true);

    for (const agentId of agents) {
      const state = await read(agentId);
      expect(state?.version).toBe(acked.get(agentId));
    }
    // The cache is used again: a second read of each agent is a hit, with the newest value in Redis.
    const before = await stateStats();
    for (const agentId of agents) await read(agentId);
    const after = await stateStats();
    expect(after.hits - before.hits).toBe(agents.length);
    expect(after.degraded).toBe(false);
    const check = new Redis(redis.url);
    for (const agentId of agents) {
      const raw = await check.get(`mnemo:v1:{${agentId}}:AGENT_STATE:${agentId}`);
      expect(JSON.parse(raw!.slice(raw!.indexOf("|V") + 2)).version).toBe(acked.get(agentId));
    }
    check.disconnect();
  });

  async function stateStats() {
    const response = await mnemo.query<{
      cacheStats: { degraded: boolean; byType: { type: string; hits: number }[] };
    }>(`{ cacheStats { degraded byType { type hits } } }`);
    expect(response.errors).toBeUndefined();
    const stats = response.data!.cacheStats;
    return { degraded: stats.degraded, hits: stats.byType.find((t) => t.type === "AGENT_STATE")!.hits };
  }
});
