/**
 * The cache, its admin API and pub/sub events against a real 3-node Redis Cluster started by
 * the test harness. Keys of one agent share a slot (hash tag); batches over many agents are
 * split per slot and pipelined per node.
 */

import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { cacheKey } from "../../core/cache/keys.js";
import type { RedisConfig } from "../../core/config.js";
import { StateService } from "../../subgraphs/state/domain/state-service.js";
import { eventually, type Replica, startReplica, tempDir, WRITER } from "../support/cache-fixture.js";
import { listCacheKeys } from "../support/queries.js";
import { RedisCluster } from "../support/redis-cluster.js";
import { redisServerAvailable } from "../support/redis-server.js";
import { ADMIN, startTestStack, TEST_INTERNAL_SECRET, type TestStack } from "../support/stack.js";
import { collect, wsClient } from "../support/subscriptions.js";

const available = redisServerAvailable();
if (!available) {
  console.warn(
    "SKIPPED: Redis Cluster tests need `redis-server` and `redis-cli` on PATH (Debian: apt-get install redis-server)",
  );
}

describe.skipIf(!available)("against a real 3-node Redis Cluster", () => {
  let cluster: RedisCluster;
  let nodes: Redis[];
  let data: ReturnType<typeof tempDir>;
  let mnemo: TestStack;
  const replicas: Replica[] = [];
  const agents = Array.from({ length: 30 }, (_, i) => `cl-${i}`);

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    nodes = cluster.servers.map((server) => new Redis(server.port, "127.0.0.1"));
    data = tempDir();
    mnemo = await startTestStack({ dataDir: data.dir, env: { REDIS_CLUSTER_NODES: cluster.nodesSetting } });
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await mnemo?.close();
    for (const node of nodes ?? []) node.disconnect();
    await cluster?.close();
    data?.remove();
  });

  const clusterConfig = (): RedisConfig => ({
    mode: "cluster",
    nodes: cluster.servers.map((server) => ({ host: "127.0.0.1", port: server.port })),
    tls: false,
  });
  const replica = async () => {
    const started = await startReplica({
      redis: clusterConfig(),
      dataDir: data.dir,
      settings: { prefetch: false },
    });
    replicas.push(started);
    return started;
  };
  /** The node serving the key's slot, if the key exists there (other nodes answer MOVED). */
  const nodeOf = async (key: string) => {
    for (const node of nodes) {
      const exists = await node.exists(key).catch(() => 0);
      if (exists === 1) return node;
    }
    return null;
  };
  const commandCalls = async (command: string) => {
    let total = 0;
    for (const node of nodes) {
      total += Number(
        new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await node.info("commandstats"))?.[1] ?? 0,
      );
    }
    return total;
  };

  it("writes and reads through the cache for agents on every node", async () => {
    for (const agentId of agents) {
      const put = await mnemo.query(
        `mutation P($a: ID!) { putState(agentId: $a, data: {on: "cluster"}) { version } }`,
        {
          a: agentId,
        },
      );
      expect(put.errors).toBeUndefined();
    }
    const read = await mnemo.query<Record<string, { state: { version: number } }>>(
      `{ ${agents.map((id, i) => `a${i}: agent(id: "${id}") { state { version } }`).join(" ")} }`,
    );
    expect(read.errors).toBeUndefined();
    expect(Object.values(read.data!).map((agent) => agent.state.version)).toEqual(agents.map(() => 1));

    const owners = new Set<Redis | null>();
    for (const agentId of agents) {
      const key = cacheKey("AGENT_STATE", StateService.currentRef(agentId));
      const owner = await nodeOf(key);
      expect(owner, key).not.toBeNull();
      owners.add(owner);
      // The agent's tag set lives in the same slot, hence on the same node.
      expect(await owner!.exists(`mnemo:v1:{${agentId}}:tags`)).toBe(1);
    }
    expect(owners.size).toBe(3);

    const stats = await mnemo.query<{
      cacheStats: {
        redis: { mode: string; nodes: number };
        byType: { type: string; keys: number; hits: number }[];
      };
    }>(`{ cacheStats { redis { mode nodes } byType { type keys hits } } }`);
    expect(stats.errors).toBeUndefined();
    expect(stats.data?.cacheStats.redis).toEqual({ mode: "cluster", nodes: 3 });
    const state = stats.data!.cacheStats.byType.find((t) => t.type === "AGENT_STATE")!;
    expect(state.keys).toBe(agents.length);
    expect(state.hits).toBe(agents.length);
  });

  it("reads a batch with one pipeline per node and one MGET per slot", async () => {
    const r = await replica();
    const slots = new Set(
      agents.map((id) => calculateSlot(cacheKey("AGENT_STATE", StateService.currentRef(id)))),
    );
    const before = await commandCalls("mget");
    r.roundTrips.length = 0;
    const loaders = r.state.createLoaders();
    const values = await Promise.all(agents.map((id) => loaders.current.load(StateService.currentRef(id))));
    expect(values.every((v) => v?.version === 1)).toBe(true);
    expect(r.roundTrips.filter((label) => label === "MGET")).toHaveLength(3);
    expect((await commandCalls("mget")) - before).toBe(slots.size);
    expect(r.store.loads).toBe(0);
  });

  it("lists keys on every master by SCAN and invalidates a type across nodes", async () => {
    const listed = await listCacheKeys(mnemo, "mnemo:v1:{cl-", 8);
    const expected = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, batch] = await node.scan(cursor, "MATCH", "mnemo:v1:{cl-*", "COUNT", 1000);
        for (const key of batch) expected.add(key);
        cursor = next;
      } while (cursor !== "0");
    }
    expect(new Set(listed)).toEqual(expected);

    const invalidated = await mnemo.query<{ invalidateType: number }>(
      `mutation { invalidateType(type: AGENT_STATE) }`,
    );
    expect(invalidated.data?.invalidateType).toBe(agents.length);
    for (const agentId of agents) {
      const key = cacheKey("AGENT_STATE", StateService.currentRef(agentId));
      expect(await (await nodeOf(key))!.get(key)).toBe("1|T");
    }
    const agent = await mnemo.query<{ invalidateAgent: number }>(
      `mutation { invalidateAgent(agentId: "cl-3") }`,
    );
    expect(agent.data?.invalidateAgent).toBe(1); // its version 1 (the state was already a tombstone)
    const warmed = await mnemo.query<{ warmAgent: number }>(`mutation { warmAgent(agentId: "cl-3") }`);
    expect(warmed.data?.warmAgent).toBe(2);
  });

  it("delivers state and cache events over pub/sub on the cluster", async () => {
    const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);
    const stateClient = wsClient(mnemo.url("state"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const stateEvents = collect<{ agentStateChanged: { version: number } }>(
      stateClient,
      `subscription { agentStateChanged(agentId: "cl-ev") { version } }`,
    );
    const cacheClient = wsClient(mnemo.url("cache-admin"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const cacheEvents = collect<{ cacheEvents: { kind: string; agentId: string | null } }>(
      cacheClient,
      `subscription { cacheEvents { kind agentId } }`,
    );
    // Both subscriptions are live once a write's events come through; then one more write.
    for (let i = 0; stateEvents.events.length === 0 || cacheEvents.events.length === 0; i++) {
      if (i > 50) throw new Error("no events over the cluster's pub/sub");
      await mnemo.query(`mutation { putState(agentId: "cl-ev", data: {}) { version } }`);
      await mnemo.query(`mutation { invalidateAgent(agentId: "cl-ev") }`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seen = stateEvents.events.length;
    const put = await mnemo.query<{ putState: { version: number } }>(
      `mutation { putState(agentId: "cl-ev", data: {last: true}) { version } }`,
    );
    const events = await stateEvents.waitFor(seen + 1);
    expect(events.at(-1)?.agentStateChanged.version).toBe(put.data?.putState.version);
    expect(
      cacheEvents.events.some(
        (e) => e.cacheEvents.kind === "INVALIDATION" && e.cacheEvents.agentId === "cl-ev",
      ),
    ).toBe(true);
    stateEvents.unsubscribe();
    cacheEvents.unsubscribe();
    await stateClient.dispose();
    await cacheClient.dispose();
  });

  it("shares a client's rate limit between gateway replicas through the cluster", async () => {
    const env = { REDIS_CLUSTER_NODES: cluster.nodesSetting, RATE_LIMIT_PER_MINUTE: "5" };
    const limited = [
      await startTestStack({ dataDir: data.dir, env }),
      await startTestStack({ dataDir: data.dir, env }),
    ];
    try {
      const principal = { sub: "rate-limited-client", role: "admin" as const, agents: ["*"] };
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await limited[i % 2]!.query(`{ cachePolicies { type } }`, {}, principal);
        codes.push(String(response.errors?.[0]?.extensions?.code ?? "OK"));
      }
      expect(codes).toEqual(["OK", "OK", "OK", "OK", "OK", "RATE_LIMITED"]);
      let counters = 0;
      for (const node of nodes) {
        const [, keys] = await node.scan("0", "MATCH", "mnemo:v1:ratelimit*", "COUNT", 1000);
        counters += keys.length;
      }
      expect(counters).toBeGreaterThanOrEqual(1);
    } finally {
      for (const stack of limited) await stack.close();
    }
  });

  it("shares policies and fill locks between replicas on the cluster", async () => {
    const [a, b] = [await replica(), await replica()];
    await a.cache.policies.update("STATE_VERSION", { ttlSeconds: 77 }, "ops");
    await eventually(() => b.cache.policies.get("STATE_VERSION").ttlSeconds === 77);

    await a.state.putState(WRITER, { agentId: "cl-herd", data: { hot: true } });
    await a.cache.admin.invalidateAgent("cl-herd");
    a.store.hold();
    b.store.hold();
    const readsA = Array.from({ length: 50 }, () =>
      a.state.createLoaders().current.load(StateService.currentRef("cl-herd")),
    );
    await eventually(() => a.store.waiting === 1);
    await eventually(async () => (await nodeOf("mnemo:v1:{cl-herd}:lock:AGENT_STATE:cl-herd")) !== null);
    const readsB = Array.from({ length: 50 }, () =>
      b.state.createLoaders().current.load(StateService.currentRef("cl-herd")),
    );
    await eventually(() => b.cache.stats("AGENT_STATE").fillWaits === 1);
    a.store.release();
    b.store.release();
    expect((await Promise.all([...readsA, ...readsB])).every((v) => v?.version === 1)).toBe(true);
    expect(a.store.loads + b.store.loads).toBe(1);
  });
});
