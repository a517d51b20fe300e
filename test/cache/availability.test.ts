/**
 * The cache's availability as one state value, against a real Redis that stops and starts:
 * healthy → degraded on the first failed call, recovering while the outage's invalidations are
 * replayed, healthy only once they all reached Redis.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheKey } from "../../core/cache/keys.js";
import { StateService } from "../../subgraphs/state/domain/state-service.js";
import { eventually, type Replica, startReplica, tempDir, WRITER } from "../support/cache-fixture.js";
import { RedisServer } from "../support/redis-server.js";

describe("cache availability (real Redis stopped and started)", () => {
  let server: RedisServer;
  let data: ReturnType<typeof tempDir>;
  let replica: Replica;

  beforeAll(async () => {
    // Keeps its data across the restart, as a partition or a failover would.
    server = await RedisServer.start({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    data = tempDir();
    // Recovery is left to the test (and the cache's own probe), not to the reconnect event.
    replica = await startReplica({
      redis: { mode: "single", url: server.url },
      dataDir: data.dir,
      recoverOnReconnect: false,
    });
  });
  afterAll(async () => {
    await replica?.close();
    await server?.close();
    data?.remove();
  });

  it("goes degraded, then recovering, then healthy only after replaying what it queued", async () => {
    const { availability } = replica.cache;
    await replica.state.putState(WRITER, { agentId: "av-1", data: { v: 1 } });
    expect(availability.state).toEqual({ phase: "healthy" });

    await server.stop();
    const before = Date.now();
    await replica.state.putState(WRITER, { agentId: "av-1", data: { v: 2 } });
    const degraded = availability.state;
    expect(degraded.phase).toBe("degraded");
    expect(degraded.phase === "degraded" && degraded.since).toBeGreaterThanOrEqual(before - 1);
    expect(availability.usable).toBe(false);
    expect(availability.pendingInvalidations).toBe(2); // AGENT_STATE and STATE_VERSION of version 2
    const down = await availability.health();
    expect(down).toMatchObject({ ok: false, pendingInvalidations: 2 });
    expect(down.degradedSince).not.toBeNull();

    await server.start();
    await eventually(() => replica.redis.status === "ready");
    expect(availability.state.phase).toBe("degraded");
    const recovery = availability.recover();
    // One value says where it is: recovering, with the same start of the outage.
    expect(availability.state).toMatchObject({
      phase: "recovering",
      since: degraded.phase === "degraded" ? degraded.since : 0,
    });
    expect(availability.recover()).toBe(recovery);
    expect(await recovery).toBe(true);
    expect(availability.state).toEqual({ phase: "healthy" });
    expect(await availability.health()).toEqual({
      ok: true,
      backend: "redis",
      degradedSince: null,
      pendingInvalidations: 0,
    });

    // Redis kept version 1's value through the outage: the replay turned it into a tombstone of
    // version 2's revision, so it is not served.
    const probe = new Redis(server.url);
    expect(await probe.get(cacheKey("AGENT_STATE", StateService.currentRef("av-1")))).toMatch(/^2\|T$/);
    probe.disconnect();
    const read = await replica.state.createLoaders().current.load(StateService.currentRef("av-1"));
    expect(read?.data).toEqual({ v: 2 });
  });

  it("recovers by itself (its probe) without anyone asking", async () => {
    const { availability } = replica.cache;
    await server.stop();
    await replica.state.putState(WRITER, { agentId: "av-2", data: { v: 1 } });
    expect(availability.state.phase).toBe("degraded");
    await server.start();
    await eventually(() => availability.state.phase === "healthy", 15_000);
    expect(availability.pendingInvalidations).toBe(0);
  });
});
