/**
 * client.subscribe against the real stack on a real Redis: events as async iterators, errors as
 * classes, and reconnection after the socket drops (a TCP proxy cuts it) or the gateway restarts
 * (a gateway stopped and started again on the same port), with the versions written meanwhile
 * delivered in order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../test/support/ports.js";
import {
  agentPrincipal,
  startTestStack,
  type TestStack,
  useRedisStack,
} from "../../../test/support/stack.js";
import { metric, waitUntil } from "../../../test/support/subscriptions.js";
import { TcpProxy } from "../../../test/support/tcp-proxy.js";
import {
  createMnemoClient,
  ForbiddenError,
  type MnemoClient,
  type StateVersion,
  UnauthenticatedError,
  UnavailableError,
} from "../src/index.js";
import { ClientPool, freshAgent, nextWithin, quickRetry, takeWithin } from "./support.js";

type Step = { step: number };
const steps = (versions: StateVersion<Step>[]) => versions.map((v) => [v.version, v.data.step]);

describe("client.subscribe", () => {
  const env = useRedisStack();
  const clients = new ClientPool();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await clients.closeAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Waits until the state subgraph serves `count` subscriptions (so no write can race the subscribe). */
  const subscriptionsActive = (count: number) =>
    waitUntil(
      async () => (await metric(env.mnemo.url("state"), "mnemo_subscriptions_active")) === count,
      `${count} active state subscriptions`,
    );

  it("stateChanged yields every new version in order, and leaving the loop ends the subscription", async () => {
    const client = await clients.create(env.mnemo, agentPrincipal("watched"), quickRetry);
    const writer = await clients.create(env.mnemo);
    const changes = client.subscribe.stateChanged<Step>("watched");
    const received = (async () => {
      const seen: StateVersion<Step>[] = [];
      for await (const version of changes) {
        seen.push(version);
        if (seen.length === 3) break;
      }
      return seen;
    })();
    await subscriptionsActive(1);
    for (let step = 1; step <= 3; step++) await writer.state.put("watched", { step });
    const seen = await received;
    expect(steps(seen)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(seen[2]!.previousHash).toBe(seen[1]!.hash);
    await subscriptionsActive(0);
  });

  it("memoryAdded yields new memories, not merges into existing ones", async () => {
    const agent = freshAgent();
    const client = await clients.create(env.mnemo, agentPrincipal(agent));
    const added = client.subscribe.memoryAdded(agent);
    const first = nextWithin(added, "the first memory");
    await waitUntil(
      async () => (await metric(env.mnemo.url("memory"), "mnemo_subscriptions_active")) === 1,
      "the memory subscription",
    );
    await client.memory.remember(agent, "Ada prefers green tea");
    await client.memory.remember(agent, "Ada prefers green tea"); // merged: no event
    await client.memory.remember(agent, "Grace lives in Lisbon");
    expect((await first).content).toBe("Ada prefers green tea");
    expect((await nextWithin(added, "the second memory")).content).toBe("Grace lives in Lisbon");
    await added.return?.();
  });

  it("a subscription the token may not read throws ForbiddenError from the iterator", async () => {
    const client = await clients.create(env.mnemo, agentPrincipal("mine"));
    const changes = client.subscribe.stateChanged("someone-else");
    await expect(changes.next()).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("a token the gateway refuses throws UnauthenticatedError once reconnecting gives up", async () => {
    const client = clients.track(
      createMnemoClient({
        url: env.mnemo.url("gateway"),
        token: "not-a-jwt",
        retryAttempts: 1,
        ...quickRetry,
      }),
    );
    const changes = client.subscribe.stateChanged("a");
    const error = await changes.next().catch((e) => e);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.message).toMatch(/4403/);
  });

  it("reconnects after the socket drops and delivers the versions written meanwhile, in order", async () => {
    const agent = freshAgent("dropped");
    const proxy = await TcpProxy.start(Number(new URL(env.mnemo.url("gateway")).port));
    cleanups.push(() => proxy.close());
    const client = await clients.create(env.mnemo, agentPrincipal(agent), {
      url: proxy.url(env.mnemo.url("gateway")),
      retryAttempts: 1000,
      ...quickRetry,
    });
    const writer = await clients.create(env.mnemo);
    const changes = client.subscribe.stateChanged<Step>(agent);
    const added = client.subscribe.memoryAdded(agent);
    const firstVersion = nextWithin(changes, "version 1");
    await subscriptionsActive(1);
    await writer.state.put(agent, { step: 1 });
    expect((await firstVersion).version).toBe(1);

    proxy.cut();
    await subscriptionsActive(0);
    for (let step = 2; step <= 4; step++) await writer.state.put(agent, { step });
    proxy.restore();

    // Versions 2-4 were written while the socket was down: read back after the reconnect.
    expect(steps(await takeWithin(changes, 3, "versions written during the outage"))).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    await subscriptionsActive(1);
    await writer.state.put(agent, { step: 5 });
    expect(steps([await nextWithin(changes, "version 5")])).toEqual([[5, 5]]);
    // The memory subscription was re-subscribed on the new socket too.
    await waitUntil(
      async () => (await metric(env.mnemo.url("memory"), "mnemo_subscriptions_active")) >= 1,
      "memory re-subscribed",
    );
    await writer.memory.remember(agent, "after the reconnect");
    expect((await nextWithin(added, "a memory after the reconnect")).content).toBe("after the reconnect");
  });

  it("fills a gap in the live stream from history (a version published while re-subscribing)", async () => {
    const agent = freshAgent("gap");
    const client = await clients.create(env.mnemo, agentPrincipal(agent));
    const writer = await clients.create(env.mnemo);
    await writer.state.put(agent, { step: 1 });
    await writer.state.put(agent, { step: 2 });
    // Resuming from version 1: version 2 was written before the subscription started.
    const changes = client.subscribe.stateChanged<Step>(agent, { afterVersion: 1 });
    const next = takeWithin(changes, 2, "versions 2 and 3");
    await subscriptionsActive(1);
    await writer.state.put(agent, { step: 3 });
    expect(steps(await next)).toEqual([
      [2, 2],
      [3, 3],
    ]);
    await changes.return?.();
  });

  describe("when the gateway restarts", () => {
    let gateway: TestStack | undefined;
    const startGateway = async (port: number) => {
      gateway = await startTestStack({
        redisUrl: env.redis.url,
        services: ["gateway"],
        env: { GATEWAY_PORT: String(port) },
        subgraphUrls: {
          state: env.mnemo.url("state"),
          memory: env.mnemo.url("memory"),
          "cache-admin": env.mnemo.url("cache-admin"),
        },
      });
      return gateway;
    };
    afterEach(async () => {
      await gateway?.close();
      gateway = undefined;
    });

    it("reconnects to the new gateway on the same port and delivers what was written while it was down", async () => {
      const agent = freshAgent("restart");
      const port = await freePort();
      const first = await startGateway(port);
      const client: MnemoClient = await clients.create(first, agentPrincipal(agent), {
        retryAttempts: 1000,
        ...quickRetry,
      });
      const writer = await clients.create(env.mnemo);
      const changes = client.subscribe.stateChanged<Step>(agent);
      const version1 = nextWithin(changes, "version 1");
      await subscriptionsActive(1);
      await writer.state.put(agent, { step: 1 });
      expect((await version1).version).toBe(1);

      await first.close();
      gateway = undefined;
      await writer.state.put(agent, { step: 2 });
      await writer.state.put(agent, { step: 3 });
      await startGateway(port);

      expect(steps(await takeWithin(changes, 2, "versions written while the gateway was down"))).toEqual([
        [2, 2],
        [3, 3],
      ]);
      await subscriptionsActive(1);
      await writer.state.put(agent, { step: 4 });
      expect((await nextWithin(changes, "version 4")).version).toBe(4);
    });

    it("throws UnavailableError when the gateway stays down past retryAttempts", async () => {
      const port = await freePort();
      const first = await startGateway(port);
      const client = await clients.create(first, agentPrincipal("gone"), { retryAttempts: 3, ...quickRetry });
      const changes = client.subscribe.stateChanged("gone");
      const ended = changes.next();
      await subscriptionsActive(1);
      await first.close();
      gateway = undefined;
      await expect(ended).rejects.toBeInstanceOf(UnavailableError);
    });
  });
});
