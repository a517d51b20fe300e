/**
 * Subscriptions across replicas and through outages: two gateways and two state subgraphs on one
 * Redis, Redis restarted mid-stream, a state subgraph restarted or gone. Real processes' parts
 * (servers, Redis, WebSockets) in this process; outages are real stops.
 */
import type { Client } from "graphql-ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";
import {
  gatewayClient,
  metric,
  PubSubProbe,
  Recorder,
  stateChannel,
  waitUntil,
} from "../support/subscriptions.js";

const watchQuery = (agentId: string) =>
  `subscription { agentStateChanged(agentId: "${agentId}") { version data } }`;

async function putState(stack: TestStack, agentId: string, data: unknown): Promise<number> {
  const response = await stack.query<{ putState: { version: number } }>(
    "mutation Put($agentId: ID!, $data: JSON!) { putState(agentId: $agentId, data: $data) { version } }",
    { agentId, data },
  );
  expect(response.errors).toBeUndefined();
  return response.data!.putState.version;
}

describe("subscriptions across replicas and outages", () => {
  let redis: RedisServer;
  let probe: PubSubProbe;
  const clients: Client[] = [];
  const stacks: TestStack[] = [];

  const connect = async (stack: TestStack): Promise<Client> => {
    const client = gatewayClient(stack.url("gateway"), `Bearer ${await stack.token(ADMIN)}`);
    clients.push(client);
    return client;
  };
  const start = async (options: Parameters<typeof startTestStack>[0]): Promise<TestStack> => {
    const stack = await startTestStack({ redisUrl: redis.url, ...options });
    stacks.push(stack);
    return stack;
  };
  const subscribers = (agentId: string) => probe.subscribers(stateChannel(agentId));

  beforeAll(async () => {
    redis = await RedisServer.start();
    probe = new PubSubProbe(redis.url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    for (const stack of stacks.splice(0).reverse()) await stack.close();
  });
  afterAll(async () => {
    await probe?.close();
    await redis?.close();
  });

  it("delivers a write on either of two gateway + state replicas to subscribers on both", async () => {
    const a = await start({});
    // Replica B: its own gateway and state subgraph (same store, same Redis), memory from A.
    const b = await start({
      services: ["gateway", "state"],
      dataDir: a.dataDir,
      subgraphUrls: { memory: a.url("memory"), "cache-admin": a.url("cache-admin") },
    });
    const onA = new Recorder(await connect(a), watchQuery("replicated"));
    const onB = new Recorder(await connect(b), watchQuery("replicated"));
    // Each state replica subscribes the channel on its own Redis connection.
    await waitUntil(async () => (await subscribers("replicated")) === 2, "both replicas subscribed");
    expect(await metric(a.url("state"), "mnemo_subscriptions_active")).toBe(1);
    expect(await metric(b.url("state"), "mnemo_subscriptions_active")).toBe(1);

    await putState(a, "replicated", { by: "a" });
    await putState(b, "replicated", { by: "b" });
    const expected = [
      { data: { agentStateChanged: { version: 1, data: { by: "a" } } } },
      { data: { agentStateChanged: { version: 2, data: { by: "b" } } } },
    ];
    expect(await onA.waitForEvents(2)).toEqual(expected);
    expect(await onB.waitForEvents(2)).toEqual(expected);
  });

  it("resumes events after Redis restarts mid-stream, without the client noticing", async () => {
    const mnemo = await start({});
    const watch = new Recorder(await connect(mnemo), watchQuery("redis-restart"));
    await waitUntil(async () => (await subscribers("redis-restart")) === 1, "subscribed");
    await putState(mnemo, "redis-restart", { n: 1 });
    await watch.waitForEvents(1);

    await redis.stop();
    await redis.start();
    // The subgraph's subscriber connection reconnects and re-subscribes the channel by itself.
    await waitUntil(
      async () => (await subscribers("redis-restart").catch(() => 0)) === 1,
      "re-subscribed",
      20_000,
    );
    const version = await putState(mnemo, "redis-restart", { n: 2 });
    const events = await watch.waitForEvents(2);
    expect(events.at(-1)).toEqual({ data: { agentStateChanged: { version, data: { n: 2 } } } });
    expect(watch.ended).toBe(false);
  });

  it("re-establishes the upstream subscription when the state subgraph restarts, without the client noticing", async () => {
    const statePort = await freePort();
    const stateEnv = { STATE_PORT: String(statePort) };
    let state = await start({ services: ["state"], env: stateEnv });
    const gateway = await start({
      services: ["gateway", "memory", "cache-admin"],
      dataDir: state.dataDir,
      subgraphUrls: { state: state.url("state") },
    });
    const watch = new Recorder(await connect(gateway), watchQuery("subgraph-restart"));
    await waitUntil(async () => (await subscribers("subgraph-restart")) === 1, "subscribed");
    await putState(gateway, "subgraph-restart", { n: 1 });
    await watch.waitForEvents(1);

    await state.close({ keepData: true });
    stacks.splice(stacks.indexOf(state), 1);
    await waitUntil(async () => (await subscribers("subgraph-restart")) === 0, "old subgraph gone");
    state = await start({ services: ["state"], env: stateEnv, dataDir: state.dataDir });

    await waitUntil(async () => (await subscribers("subgraph-restart")) === 1, "re-subscribed", 20_000);
    const version = await putState(gateway, "subgraph-restart", { n: 2 });
    const events = await watch.waitForEvents(2);
    expect(events.at(-1)).toEqual({ data: { agentStateChanged: { version, data: { n: 2 } } } });
    expect(watch.ended).toBe(false);
    expect(await metric(gateway.url("gateway"), "mnemo_subscription_upstream_retries_total")).toBeGreaterThan(
      0,
    );
    expect(await metric(gateway.url("gateway"), "mnemo_subscription_upstream_sockets")).toBe(1);
  });

  it("fails the subscription with UNAVAILABLE when the state subgraph does not come back", async () => {
    const state = await start({ services: ["state"] });
    const gateway = await start({
      services: ["gateway", "memory", "cache-admin"],
      dataDir: state.dataDir,
      subgraphUrls: { state: state.url("state") },
      env: { SUBSCRIPTION_RETRY_ATTEMPTS: "2" },
    });
    const watch = new Recorder(await connect(gateway), watchQuery("subgraph-gone"));
    await waitUntil(async () => (await subscribers("subgraph-gone")) === 1, "subscribed");

    await state.close();
    stacks.splice(stacks.indexOf(state), 1);
    await watch.waitForEnd(20_000);
    expect(watch.errorCodes).toEqual(["UNAVAILABLE"]);
    expect((watch.error as { message: string }[])[0]?.message).toContain("state subgraph is unavailable");
    const gatewayUrl = gateway.url("gateway");
    expect(await metric(gatewayUrl, "mnemo_subscription_upstream_failures_total")).toBe(1);
    await waitUntil(
      async () => (await metric(gatewayUrl, "mnemo_subscriptions_active")) === 0,
      "client released",
    );
    expect(await metric(gatewayUrl, "mnemo_subscription_upstreams_active")).toBe(0);
  });
});
