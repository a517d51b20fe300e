/**
 * The cache-admin API through the gateway (and cacheEvents over graphql-ws on the subgraph),
 * with a real Redis behind the cache.
 */

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { errorCodes, type GraphQLResponse } from "../support/graphql-client.js";
import { putStateVersion, stateVersion } from "../support/queries.js";
import { RedisServer } from "../support/redis-server.js";
import {
  agentPrincipal,
  readerPrincipal,
  startTestStack,
  TEST_INTERNAL_SECRET,
  type TestStack,
} from "../support/stack.js";
import { collect, wsClient } from "../support/subscriptions.js";

interface KeyNode {
  key: string;
  type: string | null;
  agentId: string | null;
  id: string | null;
  revision: number | null;
  tombstone: boolean;
  ttlMs: number | null;
}
interface KeyPage {
  cacheKeys: {
    edges: { cursor: string; node: KeyNode }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const KEYS = `query Keys($prefix: String!, $first: Int, $after: String) {
  cacheKeys(prefix: $prefix, first: $first, after: $after) {
    edges { cursor node { key type agentId id revision tombstone ttlMs } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const STATS = `{ cacheStats { hits misses hitRatio backend degraded allReplicas since
  byType { type hits misses hitRatio keys tombstones memoryBytes writes invalidations }
  redis { mode version nodes usedMemoryBytes keys connectedClients } } }`;

describe("cache-admin API", () => {
  let redis: RedisServer;
  let admin: Redis;
  let mnemo: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
    mnemo = await startTestStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await mnemo?.close();
    admin?.disconnect();
    await redis?.close();
  });

  const put = (agentId: string, data: unknown) => putStateVersion(mnemo, agentId, data);
  const readState = (agentId: string) => stateVersion(mnemo, agentId);
  const listAll = async (prefix: string, first: number) => {
    const keys: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const response: GraphQLResponse<KeyPage> = await mnemo.query<KeyPage>(KEYS, { prefix, first, after });
      expect(response.errors).toBeUndefined();
      const connection: KeyPage["cacheKeys"] = response.data!.cacheKeys;
      expect(connection.edges.length).toBeLessThanOrEqual(first);
      keys.push(...connection.edges.map((edge) => edge.node.key));
      if (!connection.pageInfo.hasNextPage) return keys;
      after = connection.pageInfo.endCursor;
    }
    throw new Error("listing did not end");
  };

  /** The newest audit entry about no one agent (agentId "*"). */
  const systemAudit = async () => {
    const response = await mnemo.query<{ auditLog: { edges: { node: Record<string, unknown> }[] } }>(
      `{ auditLog(agentId: "*", first: 1) { edges { node { agentId action actor target details } } } }`,
    );
    expect(response.errors).toBeUndefined();
    return response.data?.auditLog.edges[0]?.node;
  };

  it("is admin only: other roles get FORBIDDEN and change nothing", async () => {
    const operations = [
      STATS,
      `{ cachePolicies { type } }`,
      `{ cacheKeys(prefix: "mnemo:v1:") { edges { cursor } } }`,
      `mutation { invalidateAgent(agentId: "x") }`,
      `mutation { invalidateType(type: MEMORY) }`,
      `mutation { invalidateKey(key: "mnemo:v1:{x}:MEMORY:1") }`,
      `mutation { setCachePolicy(type: MEMORY, policy: { ttlSeconds: 5 }) { ttlSeconds } }`,
      `mutation { warmAgent(agentId: "x") }`,
    ];
    for (const principal of [agentPrincipal("*"), readerPrincipal("*")]) {
      for (const operation of operations) {
        const response = await mnemo.query(operation, {}, principal);
        expect(errorCodes(response), `${principal.role}: ${operation}`).toEqual(["FORBIDDEN"]);
        expect(response.errors?.[0]?.message).toMatch(/needs role "admin"/);
      }
    }
    const policies = await mnemo.query<{
      cachePolicies: { type: string; ttlSeconds: number; isDefault: boolean }[];
    }>(`{ cachePolicies { type ttlSeconds isDefault } }`);
    expect(policies.data?.cachePolicies.find((p) => p.type === "MEMORY")).toEqual({
      type: "MEMORY",
      ttlSeconds: 300,
      isDefault: true,
    });
  });

  it("refuses prefixes, keys, cursors and policies outside what is allowed with BAD_USER_INPUT", async () => {
    const cases: [string, RegExp][] = [
      [`{ cacheKeys(prefix: "other:") { edges { cursor } } }`, /outside the cache's namespace/],
      [`{ cacheKeys(prefix: "mnemo:v1") { edges { cursor } } }`, /must start with "mnemo:v1:"/],
      [`{ cacheKeys(prefix: "mnemo:v1:", after: "garbage") { edges { cursor } } }`, /Invalid cursor/],
      [`{ cacheKeys(prefix: "mnemo:v1:", first: 101) { edges { cursor } } }`, /"first" must be an integer/],
      [`mutation { invalidateKey(key: "session:1") }`, /outside the cache's namespace/],
      [`mutation { invalidateKey(key: "mnemo:v1:cache:policies") }`, /not a cache entry key/],
      [`mutation { invalidateAgent(agentId: "bad id!") }`, /Invalid agentId/],
      [
        `mutation { setCachePolicy(type: MEMORY, policy: { ttlSeconds: 0 }) { ttlSeconds } }`,
        /ttlSeconds must be/,
      ],
      [`mutation { warmAgent(agentId: "{x}") }`, /Invalid agentId/],
    ];
    for (const [operation, message] of cases) {
      const response = await mnemo.query(operation);
      expect(errorCodes(response), operation).toEqual(["BAD_USER_INPUT"]);
      expect(response.errors?.[0]?.message, operation).toMatch(message);
    }
    expect(await admin.hget("mnemo:v1:cache:policies", "MEMORY")).toBeNull();
  });

  it("changes a policy at run time and persists it in Redis", async () => {
    const response = await mnemo.query<{ setCachePolicy: Record<string, unknown> }>(
      `mutation { setCachePolicy(type: ENTITY, policy: { ttlSeconds: 30, writeMode: WRITE_THROUGH }) {
        type enabled ttlSeconds writeMode isDefault updatedBy updatedAt } }`,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.setCachePolicy).toMatchObject({
      type: "ENTITY",
      enabled: true,
      ttlSeconds: 30,
      writeMode: "WRITE_THROUGH",
      isDefault: false,
      updatedBy: "test-admin",
    });
    expect(JSON.parse((await admin.hget("mnemo:v1:cache:policies", "ENTITY"))!)).toMatchObject({
      ttlSeconds: 30,
    });
    const policies = await mnemo.query<{ cachePolicies: { type: string; ttlSeconds: number }[] }>(
      `{ cachePolicies { type ttlSeconds } }`,
    );
    expect(policies.data?.cachePolicies.map((p) => [p.type, p.ttlSeconds])).toEqual([
      ["AGENT_STATE", 300],
      ["STATE_VERSION", 3600],
      ["MEMORY", 300],
      ["ENTITY", 30],
      ["AGENT_DIRECTORY", 300],
    ]);
    expect(await systemAudit()).toMatchObject({
      agentId: "*",
      action: "cache.setCachePolicy",
      actor: "test-admin",
      target: "ENTITY",
      details: { ttlSeconds: 30, writeMode: "WRITE_THROUGH" },
    });
  });

  it("refuses a policy for RECALL, which is not cached (deprecated name), and changes nothing", async () => {
    const response = await mnemo.query(
      `mutation { setCachePolicy(type: RECALL, policy: { ttlSeconds: 5 }) { type } }`,
    );
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.errors?.[0]?.message).toMatch(
      /RECALL is not a cached type: recall results are not cached/,
    );
    expect(await admin.hget("mnemo:v1:cache:policies", "RECALL")).toBeNull();
    const types = await mnemo.query<{ cacheStats: { byType: { type: string }[] } }>(
      `{ cacheStats { byType { type } } }`,
    );
    expect(types.data?.cacheStats.byType.map((t) => t.type)).toEqual([
      "AGENT_STATE",
      "STATE_VERSION",
      "MEMORY",
      "ENTITY",
      "AGENT_DIRECTORY",
    ]);
  });

  it("pages through keys with SCAN (never KEYS), resuming from any edge", async () => {
    for (let i = 0; i < 45; i++) await put(`page-${String(i).padStart(2, "0")}`, { i });
    const expected = new Set<string>();
    for (const prefixKey of await scanAll(admin, "mnemo:v1:{page-*")) expected.add(prefixKey);
    expect(expected.size).toBeGreaterThanOrEqual(90);

    for (const first of [7, 40]) {
      const listed = await listAll("mnemo:v1:{page-", first);
      // Nothing missed; SCAN allows a key twice if Redis rehashed meanwhile (the rare exception).
      expect(new Set(listed)).toEqual(expected);
      expect(listed.length).toBeLessThan(expected.size + 10);
    }

    // Any edge's cursor continues right after that edge.
    const firstPage = (await mnemo.query<KeyPage>(KEYS, { prefix: "mnemo:v1:{page-", first: 10 })).data!
      .cacheKeys;
    const fourth = firstPage.edges[3]!;
    const resumed = (
      await mnemo.query<KeyPage>(KEYS, { prefix: "mnemo:v1:{page-", first: 6, after: fourth.cursor })
    ).data!.cacheKeys;
    expect(resumed.edges.map((e) => e.node.key)).toEqual(firstPage.edges.slice(4, 10).map((e) => e.node.key));

    const entry = firstPage.edges.map((e) => e.node).find((node) => node.type === "AGENT_STATE")!;
    expect(entry).toMatchObject({ tombstone: false, revision: 1 });
    expect(entry.ttlMs).toBeGreaterThan(0);
    expect(await admin.info("commandstats")).not.toMatch(/cmdstat_keys:/);
  });

  it("invalidates by agent, by type and by key, and reads stay correct", async () => {
    await put("inv-a", { v: 1 });
    await put("inv-a", { v: 2 });
    await put("inv-b", { v: 1 });
    // inv-a: state + versions 1 and 2; inv-b: state + version 1.
    const agent = await mnemo.query<{ invalidateAgent: number }>(
      `mutation { invalidateAgent(agentId: "inv-a") }`,
    );
    expect(agent.data?.invalidateAgent).toBe(3);
    expect(await admin.get("mnemo:v1:{inv-a}:AGENT_STATE:inv-a")).toBe("2|T");
    expect(await admin.get("mnemo:v1:{inv-b}:AGENT_STATE:inv-b")).toMatch(/^1\|V/);
    expect(await readState("inv-a")).toBe(2);
    const audit = await mnemo.query<{ auditLog: { edges: { node: { action: string; actor: string } }[] } }>(
      `{ auditLog(agentId: "inv-a", first: 1) { edges { node { action actor } } } }`,
    );
    expect(audit.data?.auditLog.edges[0]?.node).toEqual({
      action: "cache.invalidateAgent",
      actor: "test-admin",
    });

    const byType = await mnemo.query<{ invalidateType: number }>(
      `mutation { invalidateType(type: STATE_VERSION) }`,
    );
    expect(byType.data?.invalidateType).toBeGreaterThanOrEqual(1);
    expect(await systemAudit()).toMatchObject({
      agentId: "*",
      action: "cache.invalidateType",
      actor: "test-admin",
      target: "STATE_VERSION",
      details: { invalidated: byType.data?.invalidateType },
    });
    for (const key of await scanAll(admin, "mnemo:v1:{*}:STATE_VERSION:*")) {
      expect(await admin.get(key)).toMatch(/\|T$/);
    }
    expect(await admin.get("mnemo:v1:{inv-b}:AGENT_STATE:inv-b")).toMatch(/^1\|V/);

    const key = await mnemo.query<{ invalidateKey: boolean }>(
      `mutation { invalidateKey(key: "mnemo:v1:{inv-b}:AGENT_STATE:inv-b") }`,
    );
    expect(key.data?.invalidateKey).toBe(true);
    const again = await mnemo.query<{ invalidateKey: boolean }>(
      `mutation { invalidateKey(key: "mnemo:v1:{inv-b}:AGENT_STATE:inv-b") }`,
    );
    expect(again.data?.invalidateKey).toBe(false);
    expect(await readState("inv-b")).toBe(1);
  });

  it("warms an agent's working set after it was invalidated", async () => {
    await put("warm-1", { a: 1 });
    await put("warm-1", { a: 2 });
    await mnemo.query(`mutation { invalidateAgent(agentId: "warm-1") }`);
    const warmed = await mnemo.query<{ warmAgent: number }>(`mutation { warmAgent(agentId: "warm-1") }`);
    expect(warmed.errors).toBeUndefined();
    // The current state, and versions 1 and 2 (cached for it before).
    expect(warmed.data?.warmAgent).toBe(3);
    expect(await admin.get("mnemo:v1:{warm-1}:AGENT_STATE:warm-1")).toMatch(/^2\|V/);
    expect(await admin.get("mnemo:v1:{warm-1}:STATE_VERSION:1")).toMatch(/^2\|V/);
    const never = await mnemo.query<{ warmAgent: number }>(`mutation { warmAgent(agentId: "warm-none") }`);
    // Nothing cached and no state: its (absent) state is loaded and cached as absent.
    expect(never.data?.warmAgent).toBe(1);
  });

  it("reports hits, misses, keys, memory and Redis INFO", async () => {
    await put("stats-1", { s: 1 });
    await readState("stats-1");
    await readState("stats-missing");
    await readState("stats-missing");
    const response = await mnemo.query<{
      cacheStats: {
        hits: number;
        misses: number;
        hitRatio: number;
        backend: string;
        degraded: boolean;
        allReplicas: boolean;
        byType: {
          type: string;
          hits: number;
          misses: number;
          keys: number;
          memoryBytes: number;
          hitRatio: number;
        }[];
        redis: { mode: string; nodes: number; usedMemoryBytes: number; keys: number };
      };
    }>(STATS);
    expect(response.errors).toBeUndefined();
    const stats = response.data!.cacheStats;
    expect(stats).toMatchObject({ backend: "redis", degraded: false, allReplicas: true });
    const state = stats.byType.find((t) => t.type === "AGENT_STATE")!;
    expect(state.hits).toBeGreaterThanOrEqual(2);
    expect(state.misses).toBeGreaterThanOrEqual(1);
    expect(state.hitRatio).toBeCloseTo(state.hits / (state.hits + state.misses));
    expect(state.keys).toBe((await scanAll(admin, "mnemo:v1:{*}:AGENT_STATE:*")).length);
    expect(state.memoryBytes).toBeGreaterThan(0);
    expect(stats.hits).toBe(stats.byType.reduce((sum, t) => sum + t.hits, 0));
    expect(stats.redis).toMatchObject({ mode: "single", nodes: 1 });
    expect(stats.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(stats.redis.keys).toBe(await admin.dbsize());
  });

  it("streams invalidations and policy changes to admins over graphql-ws", async () => {
    const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);
    const client = wsClient(mnemo.url("cache-admin"), {
      [PRINCIPAL_HEADER]: await sign({ sub: "ops", role: "admin", agents: ["*"] }),
    });
    const sub = collect<{ cacheEvents: Record<string, unknown> }>(
      client,
      `subscription { cacheEvents { kind scope cause type agentId key count origin at policy { type ttlSeconds } } }`,
    );
    // Written first: a new agent also purges the cached agent listings (an event of its own).
    await put("ev-1", { e: 1 });
    // The subscription is live once a probe event comes through.
    for (let i = 0; sub.events.length === 0; i++) {
      if (i > 50) throw new Error("cacheEvents never delivered a probe event");
      await mnemo.query(`mutation { invalidateKey(key: "mnemo:v1:{probe}:MEMORY:x") }`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seen = sub.events.length;
    await mnemo.query(`mutation { invalidateAgent(agentId: "ev-1") }`);
    await mnemo.query(`mutation { setCachePolicy(type: ENTITY, policy: { ttlSeconds: 120 }) { type } }`);
    const events = (await sub.waitFor(seen + 2)).slice(seen).map((e) => e.cacheEvents);
    expect(events[0]).toMatchObject({
      kind: "INVALIDATION",
      scope: "AGENT",
      cause: "ADMIN",
      agentId: "ev-1",
      count: 2,
    });
    expect(events[1]).toMatchObject({
      kind: "POLICY_CHANGE",
      type: "ENTITY",
      policy: { type: "ENTITY", ttlSeconds: 120 },
    });
    expect(typeof events[1]!.origin).toBe("string");
    sub.unsubscribe();
    await client.dispose();

    const agentClient = wsClient(mnemo.url("cache-admin"), {
      [PRINCIPAL_HEADER]: await sign(agentPrincipal("*")),
    });
    const refused = collect(agentClient, `subscription { cacheEvents { kind } }`);
    await expect(refused.waitFor(1, 3000)).rejects.toThrow(/FORBIDDEN|needs role "admin"/);
    await agentClient.dispose();
  });
});

async function scanAll(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return [...new Set(keys)];
}
