/**
 * MAX_CONNECTIONS_PER_PRINCIPAL counted on every gateway that shares Redis
 * (gateway/subscriptions/connection-quota.ts): two real gateways, real graphql-ws clients, and the
 * quota itself against a real Redis for what a test stack cannot stage (a gateway that died, a
 * Redis that is gone).
 */
import type { Client } from "graphql-ws";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { KEY_PREFIX } from "../../core/redis.js";
import { createConnectionQuota } from "../../gateway/subscriptions/connection-quota.js";
import { RedisServer } from "../support/redis-server.js";
import { agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";
import { gatewayClient, metric, Recorder, waitUntil } from "../support/subscriptions.js";

const logger = createLogger({ logLevel: "silent" }, "test");

describe("connections per principal across two gateways sharing Redis", () => {
  let redis: RedisServer;
  let first: TestStack;
  let second: TestStack;
  const clients: Client[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { MAX_CONNECTIONS_PER_PRINCIPAL: "2", RATE_LIMIT_PER_MINUTE: "0" };
    first = await startTestStack({ redisUrl: redis.url, env });
    second = await startTestStack({ redisUrl: redis.url, env });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await first?.close();
    await second?.close();
    await redis?.close();
  });

  /** A graphql-ws client on `stack`'s gateway with one subscription (which opens the socket). */
  const watch = async (stack: TestStack) => {
    const client = gatewayClient(
      stack.url("gateway"),
      `Bearer ${await stack.token(agentPrincipal("quota"))}`,
    );
    clients.push(client);
    return {
      client,
      recorder: new Recorder(client, `subscription { agentStateChanged(agentId: "quota") { version } }`),
    };
  };
  const sockets = (stack: TestStack) => metric(stack.url("gateway"), "mnemo_websocket_connections");

  it("refuses a connection over the cap on one gateway when the others hold the rest", async () => {
    await watch(first);
    const onSecond = await watch(second);
    await waitUntil(
      async () => (await sockets(first)) === 1 && (await sockets(second)) === 1,
      "one socket each",
    );

    const refused = await watch(first);
    await refused.recorder.waitForEnd();
    expect(refused.recorder.error).toMatchObject({
      code: 1008,
      reason: expect.stringContaining("counted on every gateway"),
    });
    expect(await sockets(first)).toBe(1);

    // A connection closed on one gateway frees its slot for the other.
    await onSecond.client.dispose();
    await waitUntil(async () => (await sockets(second)) === 0, "the second gateway's socket closed");
    const admitted = await watch(first);
    await waitUntil(async () => (await sockets(first)) === 2, "admitted on the first gateway");
    expect(admitted.recorder.ended).toBe(false);
  });
});

describe("the shared connection quota", () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it("forgets the connections of a gateway that stopped renewing its lease", async () => {
    const client = new Redis(redis.url);
    // What a gateway that crashed leaves behind: its connections, and a lease that has ended.
    const tag = `${KEY_PREFIX}{ws-connections}`;
    await client.hset(`${tag}:totals`, "crashed-sub", 3);
    await client.hset(`${tag}:instance:dead-gateway`, "crashed-sub", 3);
    await client.zadd(`${tag}:instances`, Date.now() - 1, "dead-gateway");

    const quota = createConnectionQuota(client, 3, logger, 300);
    try {
      expect(await quota.acquire("crashed-sub")).toBe(false);
      await waitUntil(async () => quota.acquire("crashed-sub"), "the dead gateway's slots reaped", 5_000);
      expect(await client.zscore(`${tag}:instances`, "dead-gateway")).toBeNull();
      expect(await client.hget(`${tag}:totals`, "crashed-sub")).toBe("1");
    } finally {
      await quota.close();
    }
    // Closing gives back what this process held.
    expect(await client.hget(`${tag}:totals`, "crashed-sub")).toBeNull();
    client.disconnect();
  });

  it("counts in the process while Redis is unreachable, neither blocking clients nor lifting the cap", async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    client.on("error", () => {}); // the outage is the point
    const quota = createConnectionQuota(client, 1, logger, 300);
    try {
      await redis.stop();
      expect(await quota.acquire("outage-sub")).toBe(true);
      expect(await quota.acquire("outage-sub")).toBe(false);
      quota.release("outage-sub");
      expect(await quota.acquire("outage-sub")).toBe(true);
    } finally {
      await quota.close();
      client.disconnect();
    }
  });
});
