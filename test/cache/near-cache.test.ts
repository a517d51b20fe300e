/**
 * The near cache of an embedded store: two replicas sharing a real Redis and one SQLite store,
 * each serving repeated reads from its own in-process copies, checked against the store's
 * revision on every read. A replica reads what another acknowledged at once, with or without
 * Redis, and whatever the admin does.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cacheKey } from "../../core/cache/keys.js";
import { hashVersion } from "../../subgraphs/state/domain/hash-chain.js";
import { StateService } from "../../subgraphs/state/domain/state-service.js";
import { createSqliteStateStore } from "../../subgraphs/state/store/sqlite.js";
import { eventually, type Replica, startReplica, tempDir, WRITER } from "../support/cache-fixture.js";
import { pick, raceReadsAgainstWrites } from "../support/read-race.js";
import { RedisServer } from "../support/redis-server.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const current = (agentId: string) => StateService.currentRef(agentId);
const version = (agentId: string, n: number) => StateService.versionRef(agentId, n);

describe("near cache of an embedded store (two replicas, real Redis)", () => {
  let server: RedisServer;
  let admin: Redis;
  let data: ReturnType<typeof tempDir>;
  const replicas: Replica[] = [];

  const replica = async () => {
    const started = await startReplica({
      redis: { mode: "single", url: server.url },
      dataDir: data.dir,
      embedded: true,
    });
    replicas.push(started);
    return started;
  };
  const readState = (r: Replica, agentId: string) => r.state.createLoaders().current.load(current(agentId));

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.close();
  });
  beforeEach(async () => {
    data = tempDir();
    await admin.flushall(); // policies changed by a test live in Redis
  });
  afterEach(async () => {
    for (const started of replicas.splice(0)) await started.close();
    data.remove();
    await server.start(); // a test may have stopped it
  });

  it("serves a repeated read from the process: no Redis round trip, no store load, one revision probe", async () => {
    const r = await replica();
    await r.state.putState(WRITER, { agentId: "nc-1", data: { n: 1 } });
    await r.state.putState(WRITER, { agentId: "nc-2", data: { n: 2 } });
    // The first read of nc-2's previous version loads it; nc-1's current state was written through.
    await r.state.createLoaders().version.load(version("nc-2", 1));
    await r.cache.settled();

    r.roundTrips.length = 0;
    const loadsBefore = r.store.loads;
    const probesBefore = r.store.probes;
    const before = r.cache.stats("AGENT_STATE");
    const loaders = r.state.createLoaders();
    const [one, two, old] = await Promise.all([
      loaders.current.load(current("nc-1")),
      loaders.current.load(current("nc-2")),
      loaders.version.load(version("nc-2", 1)),
    ]);
    expect([one?.data, two?.data, old?.version]).toEqual([{ n: 1 }, { n: 2 }, 1]);
    expect(r.roundTrips).toEqual([]);
    expect(r.store.loads).toBe(loadsBefore);
    // One probe per type batch: the two current states together, the version alone.
    expect(r.store.probes - probesBefore).toBe(2);
    const after = r.cache.stats("AGENT_STATE");
    expect(after.hits - before.hits).toBe(2);
    expect(after.nearHits - before.nearHits).toBe(2);
    expect(after.misses - before.misses).toBe(0);
  });

  it("reads a write acknowledged on the other replica at once, in both write modes", async () => {
    const [a, b] = [await replica(), await replica()];
    for (const writeMode of ["WRITE_THROUGH", "INVALIDATE"] as const) {
      await a.cache.policies.update("AGENT_STATE", { writeMode }, "test");
      await eventually(() => b.cache.policies.get("AGENT_STATE").writeMode === writeMode);
      for (let i = 0; i < 20; i++) {
        const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
        await readState(reader, "rw-1"); // the reader holds a copy of the current version first
        const written = await writer.state.putState(WRITER, { agentId: "rw-1", data: { i, writeMode } });
        expect(await readState(reader, "rw-1")).toEqual(written);
      }
    }
  });

  it("does not depend on any message from the writer: a change made in the store alone is read at once", async () => {
    const r = await replica();
    await r.state.putState(WRITER, { agentId: "direct-1", data: { v: 1 } });
    expect((await readState(r, "direct-1"))?.data).toEqual({ v: 1 });
    expect(r.cache.stats("AGENT_STATE").nearHits).toBe(1);

    // Another process appends a version without any cache: no Redis write, no event.
    const bare = createSqliteStateStore(data.dir);
    await bare.append({
      agentId: "direct-1",
      historyLimit: 0,
      build: () => ({ data: { v: 2 }, author: "bare", reason: null }),
      seal: (input, n, previousHash) => {
        const fields = { ...input, version: n, createdAt: new Date().toISOString() };
        return { ...fields, agentId: "direct-1", hash: hashVersion(fields, previousHash), previousHash };
      },
    });
    await bare.close();
    expect((await readState(r, "direct-1"))?.data).toEqual({ v: 2 });
    expect(r.cache.stats("AGENT_STATE").nearHits).toBe(1);
  });

  it("reads the other replica's writes while Redis is down, and after it is back", async () => {
    const [a, b] = [await replica(), await replica()];
    await a.state.putState(WRITER, { agentId: "down-1", data: { step: 0 } });
    expect((await readState(b, "down-1"))?.version).toBe(1);

    await server.stop();
    for (let step = 1; step <= 5; step++) {
      const [writer, reader] = step % 2 === 0 ? [a, b] : [b, a];
      const written = await writer.state.putState(WRITER, { agentId: "down-1", data: { step } });
      expect((await readState(reader, "down-1"))?.version).toBe(written.version);
    }
    expect(a.cache.availability.state.phase).not.toBe("healthy");

    await server.start();
    await eventually(
      async () => (await a.cache.availability.recover()) && (await b.cache.availability.recover()),
    );
    for (const reader of [a, b]) expect((await readState(reader, "down-1"))?.data).toEqual({ step: 5 });
    // Recovery wrote the near copies back (revision-compared): Redis no longer holds a tombstone.
    await a.cache.settled();
    await b.cache.settled();
    expect(await a.redis.get(cacheKey("AGENT_STATE", current("down-1")))).toMatch(/^\d+\|V/);
  });

  it("forgets deleted and pruned data on every replica", async () => {
    const [a, b] = [await replica(), await replica()];
    for (let v = 1; v <= 3; v++) await a.state.putState(WRITER, { agentId: "gone-1", data: { v } });
    expect((await b.state.createLoaders().version.load(version("gone-1", 1)))?.data).toEqual({ v: 1 });
    expect((await readState(b, "gone-1"))?.version).toBe(3);

    expect(await a.state.pruneHistory(WRITER, "gone-1", 1)).toBe(2);
    expect(await b.state.createLoaders().version.load(version("gone-1", 1))).toBeNull();
    expect((await readState(b, "gone-1"))?.version).toBe(3);

    expect(await a.state.deleteAgent(WRITER, "gone-1")).toBe(true);
    expect(await readState(b, "gone-1")).toBeNull();
    expect(await b.state.createLoaders().version.load(version("gone-1", 3))).toBeNull();
  });

  it("never shows a reader a version older than one acknowledged before its read began", async () => {
    // Writers on both replicas, readers on both, an admin flipping modes, invalidating and
    // disabling the type, and a store that answers loads late.
    const [a, b] = [await replica(), await replica()];
    for (const r of [a, b]) r.store.latencyMs = 4;
    const agents = ["race-0", "race-1"];
    const { violations, reads } = await raceReadsAgainstWrites({
      replicas: [a, b],
      agents,
      read: readState,
      churn: async (round) => {
        const admin = pick([a, b]).cache;
        await admin.policies.update(
          "AGENT_STATE",
          { writeMode: round % 2 ? "WRITE_THROUGH" : "INVALIDATE", enabled: round % 5 !== 0 },
          "t",
        );
        await admin.admin.invalidateAgent(pick(agents));
      },
      writeJitterMs: 4,
      yieldAfterRead: true,
    });
    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(100);
    expect(a.cache.stats("AGENT_STATE").nearHits + b.cache.stats("AGENT_STATE").nearHits).toBeGreaterThan(0);
  });
});

describe("near cache of memories (two whole stacks on one store)", () => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDir>;
  let a: TestStack;
  let b: TestStack;
  // No embedding model: the client gives each memory its vector.
  const env = { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4" };

  beforeAll(async () => {
    redis = await RedisServer.start();
    data = tempDir();
    a = await startTestStack({ redisUrl: redis.url, dataDir: data.dir, env });
    b = await startTestStack({ redisUrl: redis.url, dataDir: data.dir, env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.close();
    data?.remove();
  });

  const readMemory = async (via: TestStack, id: string) => {
    const response = await via.query<{ memory: { content: string; entities: { name: string }[] } | null }>(
      `query M($id: ID!) { memory(id: $id) { content entities { name } } }`,
      { id },
    );
    expect(response.errors).toBeUndefined();
    return response.data!.memory;
  };

  it("reads memories and entities from the near cache, and a forget on the other replica at once", async () => {
    const remembered = await a.query<{ remember: { memory: { id: string } } }>(
      `mutation R($input: MemoryInput!) { remember(agentId: "mem-1", input: $input) { memory { id } } }`,
      {
        input: {
          content: "Ada met Grace in Lisbon",
          embedding: [1, 0, 0, 0],
          entities: [{ name: "Lisbon", type: "PLACE" }],
        },
      },
    );
    expect(remembered.errors).toBeUndefined();
    const id = remembered.data!.remember.memory.id;

    const nearHits = (type: "MEMORY" | "ENTITY") => b.runtime.cache.stats(type).nearHits;
    const first = await readMemory(b, id);
    expect(first?.content).toBe("Ada met Grace in Lisbon");
    expect(first?.entities.map((e) => e.name)).toContain("Lisbon");
    const memoryHits = nearHits("MEMORY");
    const entityHits = nearHits("ENTITY");
    expect(await readMemory(b, id)).toEqual(first);
    expect(nearHits("MEMORY")).toBe(memoryHits + 1);
    expect(nearHits("ENTITY")).toBeGreaterThan(entityHits);

    const forgotten = await a.query<{ forget: boolean }>(`mutation F($id: ID!) { forget(id: $id) }`, { id });
    expect(forgotten.data?.forget).toBe(true);
    expect(await readMemory(b, id)).toBeNull();
  });
});
