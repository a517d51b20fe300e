/**
 * Cache TTL auto-tuning: the rules (grow below the target unless writes cause the misses,
 * shrink well above it or under memory pressure, hysteresis, bounds), then the real thing
 * through the admin API on a stack with Redis: a TTL grown and shrunk from observed reads,
 * visible in cachePolicies, cacheAutoTune and the audit log; left alone when an admin set it;
 * nothing at all when auto-tuning is off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { judge, nextTtl, TUNING, validateBounds } from "../../core/cache/auto-tune.js";
import { errorCodes } from "../support/graphql-client.js";
import { RedisServer } from "../support/redis-server.js";
import { startTestStack, type TestStack } from "../support/stack.js";

describe("auto-tuning rules", () => {
  const target = 0.9;
  it("grows the TTL while the hit ratio is below the target and misses are not caused by writes", () => {
    expect(judge({ hits: 50, misses: 50, writes: 0 }, target, null).verdict).toBe("grow");
    expect(judge({ hits: 50, misses: 50, writes: 60 }, target, null)).toMatchObject({
      verdict: "hold",
      reason: expect.stringMatching(/misses follow writes/),
    });
  });

  it("shrinks above target + band, holds inside the band and without enough reads", () => {
    expect(judge({ hits: 99, misses: 1, writes: 0 }, target, null).verdict).toBe("shrink");
    expect(judge({ hits: 92, misses: 8, writes: 0 }, target, null).verdict).toBe("hold");
    expect(judge({ hits: 1, misses: TUNING.minReads - 2, writes: 0 }, target, null)).toMatchObject({
      verdict: "hold",
      reason: expect.stringMatching(/only \d+ reads/),
    });
  });

  it("shrinks under Redis memory pressure whatever the hit ratio", () => {
    expect(judge({ hits: 10, misses: 90, writes: 0 }, target, 0.95)).toMatchObject({
      verdict: "shrink",
      reason: expect.stringMatching(/95% of maxmemory/),
    });
  });

  it("steps fast up and slowly down, always within the operator's bounds", () => {
    const bounds = { minTtlSeconds: 10, maxTtlSeconds: 100 };
    expect(nextTtl(30, "grow", bounds)).toBe(60);
    expect(nextTtl(60, "grow", bounds)).toBe(100);
    expect(nextTtl(40, "shrink", bounds)).toBe(30);
    expect(nextTtl(12, "shrink", bounds)).toBe(10);
    expect(nextTtl(500, "hold", bounds)).toBe(100);
    expect(validateBounds({ minTtlSeconds: 20, maxTtlSeconds: 10 })).toMatch(/above the upper bound/);
    expect(validateBounds({ minTtlSeconds: 0, maxTtlSeconds: 10 })).toMatch(/within 1-604800/);
  });
});

const POLICIES = `{ cachePolicies { type ttlSeconds isDefault updatedBy } }`;
const AUTO_TUNE = `{ cacheAutoTune { enabled targetHitRatio intervalSeconds bounds { type minTtlSeconds maxTtlSeconds }
  decisions { type verdict reason reads hitRatio ttlSeconds previousTtlSeconds } } }`;
const RUN = `mutation { runCacheAutoTune { type verdict reason reads hitRatio ttlSeconds previousTtlSeconds } }`;

interface DecisionNode {
  type: string;
  verdict: string;
  reason: string;
  reads: number;
  hitRatio: number | null;
  ttlSeconds: number;
  previousTtlSeconds: number | null;
}

describe("auto-tuning a running stack", { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let mnemo: TestStack;
  const ttlOf = async (type: string) => {
    const response = await mnemo.query<{
      cachePolicies: { type: string; ttlSeconds: number; updatedBy: string | null }[];
    }>(POLICIES);
    return response.data!.cachePolicies.find((p) => p.type === type)!;
  };
  const run = async () => {
    const response = await mnemo.query<{ runCacheAutoTune: DecisionNode[] }>(RUN);
    expect(response.errors).toBeUndefined();
    return response.data!.runCacheAutoTune;
  };
  /** Reads that all miss: agents nobody wrote (their absence is cached too, so each is read once). */
  let ghost = 0;
  /** Ten at a time: the numbers matter here, not the order. */
  const reads = async (count: number, query: () => string) => {
    for (let done = 0; done < count; done += 10) {
      const batch = Array.from({ length: Math.min(10, count - done) }, () => mnemo.query(query()));
      for (const response of await Promise.all(batch)) expect(response.errors).toBeUndefined();
    }
  };
  const missingReads = (count: number) =>
    reads(count, () => `{ agent(id: "ghost-${ghost++}") { state { version } } }`);
  const repeatedReads = (count: number) => reads(count, () => `{ agent(id: "hot") { state { version } } }`);

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({
      redisUrl: redis.url,
      env: {
        CACHE_AUTOTUNE: "true",
        // Rounds run only when the test asks (runCacheAutoTune).
        CACHE_AUTOTUNE_INTERVAL_MS: "3600000",
        CACHE_AUTOTUNE_BOUNDS: "AGENT_STATE:2-6",
        CACHE_STATS_FLUSH_MS: "100",
      },
    });
    await mnemo.query(`mutation { putState(agentId: "hot", data: {n: 1}) { version } }`);
  });

  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Waits until the entries cached under the TTL before a change are gone, then takes a fresh baseline. */
  const settle = async (previousTtlSeconds: number) => {
    await sleep(previousTtlSeconds * 1000 * TUNING.settleTtls + 300);
    expect((await run()).find((d) => d.type === "AGENT_STATE")).toBeUndefined();
  };

  it("brings a TTL into the operator's bounds, visibly in policies, status and audit", async () => {
    expect(await run()).toEqual([]); // the first round only records the counters
    const clamped = (await run()).find((d) => d.type === "AGENT_STATE")!;
    expect(clamped).toMatchObject({ verdict: "SHRINK", ttlSeconds: 6, previousTtlSeconds: 300 });
    expect(clamped.reason).toMatch(/outside the bounds 2-6 s/);
    expect(await ttlOf("AGENT_STATE")).toMatchObject({ ttlSeconds: 6, updatedBy: "auto-tune" });

    const status = await mnemo.query<{
      cacheAutoTune: { enabled: boolean; bounds: { type: string }[]; decisions: DecisionNode[] };
    }>(AUTO_TUNE);
    expect(status.data!.cacheAutoTune).toMatchObject({
      enabled: true,
      targetHitRatio: 0.9,
      intervalSeconds: 3600,
    });
    expect(status.data!.cacheAutoTune.bounds).toContainEqual({
      type: "AGENT_STATE",
      minTtlSeconds: 2,
      maxTtlSeconds: 6,
    });
    expect(status.data!.cacheAutoTune.decisions.find((d) => d.type === "AGENT_STATE")).toMatchObject({
      ttlSeconds: 6,
      previousTtlSeconds: 300,
    });
    const audit = await mnemo.query<{
      auditLog: {
        edges: {
          node: { action: string; actor: string; target: string; details: Record<string, unknown> };
        }[];
      };
    }>(`{ auditLog(agentId: "*", first: 5) { edges { node { action actor target details } } } }`);
    expect(audit.data!.auditLog.edges[0]!.node).toMatchObject({
      action: "cache.autoTune",
      actor: "auto-tune",
      target: "AGENT_STATE",
      details: { ttlSeconds: 6, previousTtlSeconds: 300, verdict: "shrink" },
    });
  });

  it("shrinks it after three rounds where nearly every read hits, once the cache has turned over", async () => {
    // Brought into the bounds, tuning restarts and settles on the new TTL.
    await settle(6);
    for (let round = 1; round < TUNING.confirmations.shrink; round++) {
      await repeatedReads(TUNING.minReads + 10);
      const early = (await run()).find((d) => d.type === "AGENT_STATE")!;
      expect(early).toMatchObject({ verdict: "SHRINK", ttlSeconds: 6, previousTtlSeconds: null });
      expect(early.hitRatio).toBeGreaterThan(0.95);
      expect((await ttlOf("AGENT_STATE")).ttlSeconds).toBe(6); // not confirmed yet
    }
    await repeatedReads(TUNING.minReads + 10);
    const confirmed = (await run()).find((d) => d.type === "AGENT_STATE")!;
    expect(confirmed).toMatchObject({ verdict: "SHRINK", ttlSeconds: 4, previousTtlSeconds: 6 });
    // Right after a change nothing is judged: the counters still show the previous TTL.
    await repeatedReads(TUNING.minReads + 10);
    expect((await run()).find((d) => d.type === "AGENT_STATE")).toBeUndefined();
  });

  it("grows it after two rounds of misses that writes do not explain, up to the bound", async () => {
    await settle(6);
    await missingReads(TUNING.minReads + 10);
    const first = (await run()).find((d) => d.type === "AGENT_STATE")!;
    expect(first).toMatchObject({ verdict: "GROW", ttlSeconds: 4 });
    expect(first.hitRatio).toBeLessThan(0.5);
    await missingReads(TUNING.minReads + 10);
    const second = (await run()).find((d) => d.type === "AGENT_STATE")!;
    expect(second).toMatchObject({ verdict: "GROW", ttlSeconds: 6, previousTtlSeconds: 4 });
    expect(await ttlOf("AGENT_STATE")).toMatchObject({ ttlSeconds: 6, updatedBy: "auto-tune" });
  });

  it("leaves a type alone once an admin set its policy", async () => {
    await mnemo.query(
      `mutation { setCachePolicy(type: AGENT_STATE, policy: { ttlSeconds: 77 }) { ttlSeconds } }`,
    );
    for (let round = 0; round < 2; round++) {
      await missingReads(TUNING.minReads + 10);
      expect((await run()).find((d) => d.type === "AGENT_STATE")).toBeUndefined();
    }
    expect(await ttlOf("AGENT_STATE")).toMatchObject({ ttlSeconds: 77, updatedBy: "test-admin" });
  });

  it("is admin only", async () => {
    const response = await mnemo.query(RUN, {}, { sub: "a", role: "agent", agents: ["*"] });
    expect(errorCodes(response)).toEqual(["FORBIDDEN"]);
  });
});

describe("auto-tuning switched off", () => {
  let redis: RedisServer;
  let mnemo: TestStack;
  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({ redisUrl: redis.url, env: { CACHE_STATS_FLUSH_MS: "100" } });
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  it("changes nothing and says so", async () => {
    for (let i = 0; i < TUNING.minReads * 2; i++)
      await mnemo.query(`{ agent(id: "cold-${i}") { state { version } } }`);
    const run = await mnemo.query(RUN);
    expect(errorCodes(run)).toEqual(["UNAVAILABLE"]);
    expect(run.errors![0]!.message).toMatch(/CACHE_AUTOTUNE=true/);
    const status = await mnemo.query<{ cacheAutoTune: { enabled: boolean; decisions: unknown[] } }>(
      AUTO_TUNE,
    );
    expect(status.data!.cacheAutoTune).toMatchObject({ enabled: false, decisions: [] });
    const policies = await mnemo.query<{ cachePolicies: { isDefault: boolean }[] }>(POLICIES);
    expect(policies.data!.cachePolicies.every((p) => p.isDefault)).toBe(true);
  });
});
