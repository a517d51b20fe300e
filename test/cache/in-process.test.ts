/**
 * Without Redis (one `npm start` process): the same cache rules and admin API on the in-process
 * backend and bus.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { listCacheKeys, putStateVersion, stateVersion } from "../support/queries.js";
import { ADMIN, startTestStack, TEST_INTERNAL_SECRET, type TestStack } from "../support/stack.js";
import { collect, wsClient } from "../support/subscriptions.js";

describe("the cache without Redis", () => {
  let mnemo: TestStack;

  beforeAll(async () => {
    mnemo = await startTestStack();
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  const put = (agentId: string, data: unknown) => putStateVersion(mnemo, agentId, data);
  const read = (agentId: string) => stateVersion(mnemo, agentId);

  it("caches, invalidates, warms and lists keys in process", async () => {
    for (let i = 0; i < 12; i++) await put(`ip-${String(i).padStart(2, "0")}`, { i });
    await put("ip-00", { i: 0, again: true });
    expect(await read("ip-00")).toBe(2);

    const keys = await listCacheKeys(mnemo, "mnemo:v1:{ip-", 5);
    // 12 states and 13 versions, each listed once, in key order.
    expect(keys).toHaveLength(25);
    expect(new Set(keys).size).toBe(25);
    expect([...keys].sort()).toEqual(keys);

    const invalidated = await mnemo.query<{ invalidateAgent: number }>(
      `mutation { invalidateAgent(agentId: "ip-00") }`,
    );
    expect(invalidated.data?.invalidateAgent).toBe(3);
    const warmed = await mnemo.query<{ warmAgent: number }>(`mutation { warmAgent(agentId: "ip-00") }`);
    expect(warmed.data?.warmAgent).toBe(3);
    expect(await read("ip-00")).toBe(2);

    const stats = await mnemo.query<{
      cacheStats: {
        backend: string;
        redis: unknown;
        allReplicas: boolean;
        byType: { type: string; keys: number }[];
      };
    }>(`{ cacheStats { backend redis { mode } allReplicas byType { type keys } } }`);
    expect(stats.data?.cacheStats).toMatchObject({ backend: "in-process", redis: null, allReplicas: true });
    expect(stats.data?.cacheStats.byType.find((t) => t.type === "AGENT_STATE")?.keys).toBe(12);
  });

  it("forgets a deleted agent even after its cached state was replaced by newer ones", async () => {
    await put("ip-del", { v: 1 });
    await put("ip-del", { v: 2 });
    expect(await read("ip-del")).toBe(2);
    const deleted = await mnemo.query(`mutation { deleteAgent(id: "ip-del") }`);
    expect(deleted.errors).toBeUndefined();
    expect(await read("ip-del")).toBeNull();
  });

  it("streams cache events over the in-process bus", async () => {
    const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);
    const client = wsClient(mnemo.url("cache-admin"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const sub = collect<{ cacheEvents: { kind: string; type: string | null } }>(
      client,
      `subscription { cacheEvents { kind type } }`,
    );
    for (let i = 0; sub.events.length === 0; i++) {
      if (i > 50) throw new Error("no cache event arrived");
      await mnemo.query(
        `mutation { setCachePolicy(type: MEMORY, policy: { ttlSeconds: ${100 + i} }) { type } }`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sub.events[0]?.cacheEvents).toEqual({ kind: "POLICY_CHANGE", type: "MEMORY" });
    sub.unsubscribe();
    await client.dispose();
  });
});
