/**
 * The cache layer against a real Redis, with real state services on a shared SQLite store acting
 * as replicas (each with its own Redis connections and event bus).
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cacheKey } from "../../core/cache/keys.js";
import { createEncryptor, parseEncryptionKeys } from "../../core/crypto/encryption.js";
import { StateService } from "../../subgraphs/state/domain/state-service.js";
import {
  eventually,
  type Replica,
  type ReplicaOptions,
  startReplica,
  tempDir,
  WRITER,
} from "../support/cache-fixture.js";
import { pick, raceReadsAgainstWrites } from "../support/read-race.js";
import { RedisServer } from "../support/redis-server.js";

const current = (agentId: string) => StateService.currentRef(agentId);
const stateKey = (agentId: string) => cacheKey("AGENT_STATE", current(agentId));

describe("cache layer (real Redis)", () => {
  let server: RedisServer;
  let admin: Redis;
  let data: ReturnType<typeof tempDir>;
  const replicas: Replica[] = [];

  const replica = async (
    settings?: ReplicaOptions["settings"],
    encryption?: ReplicaOptions["encryption"],
  ) => {
    const started = await startReplica({
      redis: { mode: "single", url: server.url },
      dataDir: data.dir,
      settings,
      encryption,
    });
    replicas.push(started);
    return started;
  };
  const mgetCalls = async () =>
    Number(/cmdstat_mget:calls=(\d+)/.exec(await admin.info("commandstats"))?.[1] ?? 0);

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
    await admin.flushall();
  });
  afterEach(async () => {
    for (const started of replicas.splice(0)) await started.close();
    data.remove();
  });

  it("counts hits and misses per type, and caches absent values too", async () => {
    const r = await replica();
    await r.state.putState(WRITER, { agentId: "hm-1", data: { n: 1 } });
    const first = r.state.createLoaders();
    const values = await Promise.all(["hm-1", "hm-2", "hm-3"].map((id) => first.current.load(current(id))));
    expect(values.map((v) => v?.version ?? null)).toEqual([1, null, null]);
    expect(r.cache.stats("AGENT_STATE")).toMatchObject({ hits: 1, misses: 2, storeLoads: 1, loadedKeys: 2 });
    await r.cache.settled();

    const second = r.state.createLoaders();
    await Promise.all(["hm-1", "hm-2", "hm-3"].map((id) => second.current.load(current(id))));
    expect(r.cache.stats("AGENT_STATE")).toMatchObject({ hits: 4, misses: 2, storeLoads: 1 });
    expect(r.cache.stats("STATE_VERSION")).toMatchObject({ hits: 0, misses: 0 });
  });

  it("adds up the counters of every replica", async () => {
    const [a, b] = [await replica(), await replica()];
    await a.state.putState(WRITER, { agentId: "sum-1", data: {} });
    await a.state.createLoaders().current.load(current("sum-1"));
    await b.state.createLoaders().current.load(current("sum-1"));
    await b.state.createLoaders().current.load(current("sum-2"));
    await b.cache.flush();
    const snapshot = await a.cache.admin.statsSnapshot();
    expect(snapshot.allReplicas).toBe(true);
    expect(snapshot.since).not.toBeNull();
    expect(snapshot.byType.find((t) => t.type === "AGENT_STATE")).toMatchObject({
      hits: 2,
      misses: 1,
      writes: 1,
    });
    expect(snapshot.redis).toMatchObject({ mode: "single", nodes: 1 });
    expect(snapshot.redis?.version).toMatch(/^\d+\./);
  });

  it("reads a batch with one MGET and loads its misses with one store query", async () => {
    const r = await replica({ prefetch: false });
    const ids = Array.from({ length: 50 }, (_, i) => `batch-${i}`);
    for (const id of ids.slice(0, 25)) await r.state.putState(WRITER, { agentId: id, data: { id } });

    const loadsBefore = r.store.loads;
    const mgetBefore = await mgetCalls();
    r.roundTrips.length = 0;
    const loaders = r.state.createLoaders();
    const values = await Promise.all(ids.map((id) => loaders.current.load(current(id))));
    expect(values.filter((v) => v !== null)).toHaveLength(25);
    expect((await mgetCalls()) - mgetBefore).toBe(1);
    expect(r.roundTrips.filter((label) => label === "MGET")).toHaveLength(1);
    expect(r.store.loads - loadsBefore).toBe(1);
    expect(r.store.loadedKeys).toBe(25);
  });

  it("refuses a late write-back of an older version (value, tombstone and purge floor)", async () => {
    const r = await replica({ prefetch: false });
    await r.state.putState(WRITER, { agentId: "late-1", data: { v: 1 } });
    await r.cache.admin.invalidateAgent("late-1");

    // A reader loads version 1 and stalls before its write-back; meanwhile version 2 is written.
    r.store.hold();
    const slow = r.state.createLoaders().current.load(current("late-1"));
    await eventually(() => r.store.waiting === 1);
    await r.state.putState(WRITER, { agentId: "late-1", data: { v: 2 } });
    r.store.release();
    expect((await slow)?.version).toBe(1);
    await r.cache.settled();
    expect(await admin.get(stateKey("late-1"))).toMatch(/^2\|V/);
    const loadsBefore = r.store.loads;
    expect((await r.state.createLoaders().current.load(current("late-1")))?.version).toBe(2);
    expect(r.store.loads).toBe(loadsBefore);

    // INVALIDATE: the write leaves a tombstone of its revision, which refuses the old value too.
    await r.cache.policies.update("AGENT_STATE", { writeMode: "INVALIDATE" }, "test");
    await r.cache.admin.invalidateAgent("late-1");
    r.store.hold();
    const slow2 = r.state.createLoaders().current.load(current("late-1"));
    await eventually(() => r.store.waiting === 1);
    await r.state.putState(WRITER, { agentId: "late-1", data: { v: 3 } });
    r.store.release();
    expect((await slow2)?.version).toBe(2);
    await r.cache.settled();
    expect(await admin.get(stateKey("late-1"))).toMatch(/^3\|T$/);
    expect((await r.state.createLoaders().current.load(current("late-1")))?.version).toBe(3);

    // A delete purges the agent and raises a floor: a reader from before cannot bring it back.
    await r.cache.settled();
    await r.cache.admin.invalidateAgent("late-1");
    r.store.hold();
    const slow3 = r.state.createLoaders().current.load(current("late-1"));
    await eventually(() => r.store.waiting === 1);
    await r.state.deleteAgent(WRITER, "late-1");
    r.store.release();
    expect((await slow3)?.version).toBe(3);
    await r.cache.settled();
    expect(await admin.get(stateKey("late-1"))).toBeNull();
    expect(await r.state.createLoaders().current.load(current("late-1"))).toBeNull();
  });

  it("loads a key once for 100 concurrent misses in one process", async () => {
    // Without the cross-process fill lock, so only in-process single-flight is at work.
    const r = await replica({ prefetch: false, fillLockMs: 0 });
    await r.state.putState(WRITER, { agentId: "herd-1", data: { hot: true } });
    await r.cache.admin.invalidateAgent("herd-1");
    const loadsBefore = r.store.loads;
    const missesBefore = r.cache.stats("AGENT_STATE").misses;
    r.store.hold();
    const reads = Array.from({ length: 100 }, () => r.state.createLoaders().current.load(current("herd-1")));
    await eventually(() => r.store.waiting === 1);
    // Every read has had its MGET answered (and so joined the load) before the load ends.
    await eventually(() => r.cache.stats("AGENT_STATE").misses - missesBefore === 100);
    r.store.release();
    const values = await Promise.all(reads);
    expect(values.every((v) => v?.version === 1)).toBe(true);
    expect(r.store.loads - loadsBefore).toBe(1);
  });

  it("makes a second process wait for the first one's load instead of loading (fill lock)", async () => {
    const [a, b] = [await replica({ prefetch: false }), await replica({ prefetch: false })];
    await a.state.putState(WRITER, { agentId: "herd-2", data: { hot: true } });
    await a.cache.admin.invalidateAgent("herd-2");
    a.store.hold();
    b.store.hold();
    const readsA = Array.from({ length: 100 }, () => a.state.createLoaders().current.load(current("herd-2")));
    // A is loading and has taken the fill lock...
    await eventually(() => a.store.waiting === 1);
    await eventually(async () => (await admin.exists("mnemo:v1:{herd-2}:lock:AGENT_STATE:herd-2")) === 1);
    // ...so B's 100 concurrent misses wait for A's fill: one wait, no store load.
    const readsB = Array.from({ length: 100 }, () => b.state.createLoaders().current.load(current("herd-2")));
    await eventually(() => b.cache.stats("AGENT_STATE").fillWaits === 1);
    a.store.release();
    b.store.release();
    const values = await Promise.all([...readsA, ...readsB]);
    expect(values.every((v) => v?.version === 1)).toBe(true);
    expect(a.store.loads).toBe(1);
    expect(b.store.loads).toBe(0);
    expect(await admin.exists("mnemo:v1:{herd-2}:lock:AGENT_STATE:herd-2")).toBe(0);
  });

  it("never shows a reader a version older than one acknowledged before its read began", async () => {
    // Slow store answers, two replicas, writers, readers and an admin flipping write modes and
    // invalidating: late write-backs, joins of running loads, fill-lock waits and prefetch all race.
    const [a, b] = [await replica({ prefetch: true }), await replica({ prefetch: true })];
    for (const r of [a, b]) r.store.latencyMs = 8;
    const agents = ["race-0", "race-1"];
    const { violations, reads } = await raceReadsAgainstWrites({
      replicas: [a, b],
      agents,
      read: (r, agentId) => r.state.createLoaders().current.load(current(agentId)),
      churn: async (round) => {
        await pick([a, b]).cache.policies.update(
          "AGENT_STATE",
          { writeMode: round % 2 ? "WRITE_THROUGH" : "INVALIDATE" },
          "t",
        );
        await pick([a, b]).cache.admin.invalidateAgent(pick(agents));
      },
      writeJitterMs: 6,
    });
    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(100);
  });

  it("prefetches what an agent usually reads next, learned on another replica", async () => {
    const learner = await replica({ prefetch: true });
    for (let v = 1; v <= 3; v++) await learner.state.putState(WRITER, { agentId: "co-1", data: { v } });
    // The agent reads its state, then version 2, three times over.
    for (let i = 0; i < 3; i++) {
      await learner.state.createLoaders().current.load(current("co-1"));
      await learner.state.createLoaders().version.load(StateService.versionRef("co-1", 2));
    }
    await learner.cache.settled();
    await learner.cache.flush();
    await learner.cache.admin.invalidateAgent("co-1");
    const versionKey = cacheKey("STATE_VERSION", StateService.versionRef("co-1", 2));
    expect(await admin.get(versionKey)).toMatch(/\|T$/);

    const other = await replica({ prefetch: true });
    await other.state.createLoaders().current.load(current("co-1"));
    await other.cache.settled();
    expect(await admin.get(versionKey)).toMatch(/\|V/);
    expect(other.cache.stats("STATE_VERSION").prefetched).toBe(1);

    const loadsBefore = other.store.loads;
    expect(
      (await other.state.createLoaders().version.load(StateService.versionRef("co-1", 2)))?.data,
    ).toEqual({
      v: 2,
    });
    expect(other.store.loads).toBe(loadsBefore);
    expect(other.cache.stats("STATE_VERSION").hits).toBe(1);
  });

  it("applies a policy change on every replica, and a replica started later reads it", async () => {
    const [a, b] = [await replica(), await replica()];
    const changed = await a.cache.policies.update("MEMORY", { ttlSeconds: 42, enabled: false }, "ops");
    expect(changed).toMatchObject({
      type: "MEMORY",
      ttlSeconds: 42,
      enabled: false,
      isDefault: false,
      updatedBy: "ops",
    });
    await eventually(() => b.cache.policies.get("MEMORY").ttlSeconds === 42);
    expect(b.cache.policies.get("MEMORY")).toEqual({
      enabled: false,
      ttlSeconds: 42,
      writeMode: "INVALIDATE",
    });

    const late = await replica();
    expect(late.cache.policies.get("MEMORY")).toEqual({
      enabled: false,
      ttlSeconds: 42,
      writeMode: "INVALIDATE",
    });
    expect(late.cache.policies.records().find((p) => p.type === "MEMORY")?.updatedBy).toBe("ops");

    expect(await a.cache.policies.update("MEMORY", { ttlSeconds: 0 }, "ops")).toEqual([
      "ttlSeconds must be an integer from 1 to 604800 (got 0)",
    ]);
    expect(a.cache.policies.get("MEMORY").ttlSeconds).toBe(42);
  });

  it("keeps cached values encrypted when encryption at rest is on", async () => {
    const { keys } = parseEncryptionKeys([Buffer.alloc(32, 7).toString("base64")]);
    const r = await replica({ prefetch: false }, createEncryptor(keys));
    await r.state.putState(WRITER, { agentId: "enc-1", data: { secret: "launch code 1234" } });
    const raw = await admin.get(stateKey("enc-1"));
    expect(raw).toMatch(/^1\|Vmnemo-enc:v1:/);
    expect(raw).not.toContain("launch code");
    expect((await r.state.createLoaders().current.load(current("enc-1")))?.data).toEqual({
      secret: "launch code 1234",
    });
    expect(r.cache.stats("AGENT_STATE")).toMatchObject({ hits: 1, misses: 0 });

    // Bound to its key: copied under another agent's key it does not decrypt, and is not served.
    await admin.set(stateKey("enc-2"), raw!);
    expect(await r.state.createLoaders().current.load(current("enc-2"))).toBeNull();
    expect(r.cache.stats("AGENT_STATE")).toMatchObject({ hits: 1, misses: 1 });
  });

  it("re-seeds policies into a Redis that lost them", async () => {
    const a = await replica();
    await a.cache.policies.update("ENTITY", { ttlSeconds: 7 }, "ops");
    await admin.flushall();
    await a.cache.policies.reload();
    expect(JSON.parse((await admin.hget("mnemo:v1:cache:policies", "ENTITY")) ?? "{}")).toMatchObject({
      ttlSeconds: 7,
    });
    const late = await replica();
    expect(late.cache.policies.get("ENTITY").ttlSeconds).toBe(7);
  });
});
