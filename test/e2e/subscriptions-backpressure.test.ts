/**
 * Backpressure, where events could pile up in the gateway:
 * - a client that stops reading is closed with 4413 and a reason once SUBSCRIPTION_QUEUE_LIMIT
 *   events wait for it; the other clients of the same subscription miss nothing;
 * - a subscription whose events cannot be executed as fast as they come (a subgraph in `rest`
 *   stalls) ends with UNAVAILABLE once SUBSCRIPTION_QUEUE_LIMIT events wait for execution.
 */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { RedisServer } from "../support/redis-server.js";
import { ServiceProcess } from "../support/service-process.js";
import { ADMIN, startTestStack, type TestStack, testEnvironment } from "../support/stack.js";
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

describe("a subscription whose events cannot be executed as fast as they come", () => {
  let redis: RedisServer;
  let memory: ServiceProcess;
  let mnemo: TestStack;
  let client: Client | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-overload-"));
    redis = await RedisServer.start();
    // The memory subgraph in its own process, so that it can be frozen while the rest runs.
    memory = await ServiceProcess.start("memory", {
      ...process.env,
      ...testEnvironment({ redisUrl: redis.url, dataDir }),
    });
    mnemo = await startTestStack({
      redisUrl: redis.url,
      dataDir,
      services: ["gateway", "state", "cache-admin"],
      subgraphUrls: { memory: memory.url("memory") },
      env: { SUBSCRIPTION_QUEUE_LIMIT: String(QUEUE_LIMIT) },
    });
  });
  afterAll(async () => {
    await client?.dispose();
    await memory?.stop();
    await mnemo?.close();
    await redis?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("ends with UNAVAILABLE instead of queueing without bound", async () => {
    const gateway = mnemo.url("gateway");
    client = gatewayClient(gateway, `Bearer ${await mnemo.token(ADMIN)}`);
    const watch = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "stalled") { version agent { memories { totalCount } } } }`,
    );
    const probe = new PubSubProbe(redis.url);
    await waitUntil(async () => (await probe.subscribers(stateChannel("stalled"))) === 1, "subscribed");
    await probe.close();
    const put = (n: number) =>
      mnemo.query(`mutation { putState(agentId: "stalled", data: { n: ${n} }) { version } }`);
    await put(0);
    await watch.waitForEvents(1);

    // Each event needs the memory subgraph (`rest`); frozen, the first one waits and the next pile up.
    memory.pause();
    for (let n = 1; n <= QUEUE_LIMIT + 2; n++) expect((await put(n)).errors).toBeUndefined();
    await watch.waitForEnd();
    memory.resume();

    expect(watch.events).toHaveLength(1);
    expect(watch.errorCodes).toEqual(["UNAVAILABLE"]);
    expect((watch.error as { message: string }[])[0]?.message).toContain("cannot keep up");
    expect(await metric(gateway, "mnemo_subscription_overloads_total")).toBe(1);
    await waitUntil(
      async () => (await metric(gateway, "mnemo_subscription_upstreams_active")) === 0,
      "upstream closed",
    );
    await waitUntil(
      async () => (await metric(gateway, "mnemo_subscriptions_active")) === 0,
      "client released",
    );
  });
});
