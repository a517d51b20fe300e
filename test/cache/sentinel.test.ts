/**
 * The cache through Redis Sentinel (REDIS_SENTINELS): a master, a replica and a sentinel started
 * by the harness. After a failover the cache finds the new master by itself.
 */

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putStateVersion, stateVersion } from "../support/queries.js";
import { RedisSentinelSetup } from "../support/redis-sentinel.js";
import { redisServerAvailable } from "../support/redis-server.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const available = redisServerAvailable();
if (!available) console.warn("SKIPPED: Redis Sentinel tests need `redis-server` on PATH");

describe.skipIf(!available)("through Redis Sentinel", () => {
  let setup: RedisSentinelSetup;
  let mnemo: TestStack;

  beforeAll(async () => {
    setup = await RedisSentinelSetup.start();
    mnemo = await startTestStack({ env: { REDIS_SENTINELS: setup.sentinelsSetting } });
  }, 60_000);
  afterAll(async () => {
    await mnemo?.close();
    await setup?.close();
  });

  const write = (agentId: string, step: number) => putStateVersion(mnemo, agentId, { step });
  const read = (agentId: string) => stateVersion(mnemo, agentId);
  const stats = async () => {
    const response = await mnemo.query<{
      cacheStats: {
        degraded: boolean;
        redis: { mode: string } | null;
        byType: { type: string; hits: number }[];
      };
    }>(`{ cacheStats { degraded redis { mode } byType { type hits } } }`);
    expect(response.errors).toBeUndefined();
    const s = response.data!.cacheStats;
    return {
      degraded: s.degraded,
      mode: s.redis?.mode,
      hits: s.byType.find((t) => t.type === "AGENT_STATE")!.hits,
    };
  };

  it("caches through the master the sentinel names, and follows a failover", async () => {
    const version = await write("sen-1", 1);
    expect(await read("sen-1")).toBe(version);
    expect(await stats()).toMatchObject({ mode: "sentinel", degraded: false });
    const firstMaster = new Redis(await setup.masterPort(), "127.0.0.1");
    expect(await firstMaster.get("mnemo:v1:{sen-1}:AGENT_STATE:sen-1")).toMatch(/^\d+\|V/);
    firstMaster.disconnect();

    await setup.failover();
    // Writes and reads keep succeeding (from the store while the cache reconnects).
    let last = version;
    const deadline = Date.now() + 20_000;
    for (let step = 2; ; step++) {
      last = await write("sen-1", step);
      expect(await read("sen-1")).toBe(last);
      const now = await stats();
      if (!now.degraded && (await newMasterHas("mnemo:v1:{sen-1}:AGENT_STATE:sen-1", last))) break;
      if (Date.now() > deadline) throw new Error("the cache never came back on the new master");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const before = (await stats()).hits;
    expect(await read("sen-1")).toBe(last);
    expect((await stats()).hits).toBe(before + 1);
  });

  async function newMasterHas(key: string, version: number): Promise<boolean> {
    const master = new Redis(await setup.masterPort(), "127.0.0.1");
    try {
      const raw = await master.get(key);
      return raw?.includes(`"version":${version}`) ?? false;
    } finally {
      master.disconnect();
    }
  }
});
