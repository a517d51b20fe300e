/**
 * Backpressure: a client that stops reading is closed with 4413 and a reason once
 * SUBSCRIPTION_QUEUE_LIMIT events wait for it, instead of the gateway buffering without bound;
 * the other clients of the same subscription miss nothing.
 */
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";
import {
  gatewayClient,
  metric,
  PubSubProbe,
  Recorder,
  stateChannel,
  waitUntil,
  wsUrl,
} from "../support/subscriptions.js";

const QUEUE_LIMIT = 8;
/** Big events fill the kernel's socket buffers (several MB on loopback) in a few dozen writes. */
const BLOB = "x".repeat(256 * 1024);
/** If the gateway buffered without bound, the test gives up after this many writes. */
const MAX_WRITES = 150;

describe("a subscription client that cannot keep up", () => {
  let redis: RedisServer;
  let mnemo: TestStack;
  let probe: PubSubProbe;
  let healthyClient: Client;

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({
      redisUrl: redis.url,
      env: { SUBSCRIPTION_QUEUE_LIMIT: String(QUEUE_LIMIT) },
    });
    probe = new PubSubProbe(redis.url);
  });
  afterAll(async () => {
    await healthyClient?.dispose();
    await probe?.close();
    await mnemo?.close();
    await redis?.close();
  });

  it("is closed with 4413 and a reason, while the other clients receive every event", async () => {
    const gateway = mnemo.url("gateway");
    const token = await mnemo.token(ADMIN);
    healthyClient = gatewayClient(gateway, `Bearer ${token}`);
    const healthy = new Recorder(
      healthyClient,
      `subscription { agentStateChanged(agentId: "slow") { version } }`,
    );

    // The slow client speaks graphql-transport-ws over a raw socket, so it can stop reading.
    const slow = new WebSocket(wsUrl(gateway), "graphql-transport-ws");
    let slowEvents = 0;
    const acknowledged = new Promise<void>((resolve) => {
      slow.on("message", (data) => {
        const message = JSON.parse(String(data)) as { type: string };
        if (message.type === "connection_ack") resolve();
        if (message.type === "next") slowEvents++;
      });
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      slow.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    await new Promise((resolve) => slow.once("open", resolve));
    slow.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    await acknowledged;
    slow.send(
      JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: `subscription { agentStateChanged(agentId: "slow") { version data } }` },
      }),
    );
    await waitUntil(
      async () => (await metric(gateway, "mnemo_subscriptions_active")) === 2,
      "both subscribed",
    );
    await waitUntil(async () => (await probe.subscribers(stateChannel("slow"))) === 1, "channel subscribed");

    slow.pause();
    let writes = 0;
    while ((await metric(gateway, "mnemo_subscription_slow_consumers_total")) === 0) {
      if (writes >= MAX_WRITES)
        throw new Error(`the gateway kept buffering ${writes} events for a stalled client`);
      const response = await mnemo.query(
        'mutation Put($data: JSON!) { putState(agentId: "slow", data: $data) { version } }',
        { data: { blob: BLOB, n: writes } },
      );
      expect(response.errors).toBeUndefined();
      writes++;
    }
    slow.resume();

    expect(await closed).toEqual({
      code: 4413,
      reason: expect.stringContaining(`more than ${QUEUE_LIMIT} events`),
    });
    expect(slowEvents).toBeLessThan(writes);

    const events = await healthy.waitForEvents(writes);
    expect(
      events.map((event) => (event.data?.agentStateChanged as { version: number } | undefined)?.version),
    ).toEqual(Array.from({ length: writes }, (_, i) => i + 1));
    expect(healthy.ended).toBe(false);
    await waitUntil(
      async () => (await metric(gateway, "mnemo_subscriptions_active")) === 1,
      "slow client released",
    );
    expect(await metric(gateway, "mnemo_websocket_connections")).toBe(1);
  });
});
