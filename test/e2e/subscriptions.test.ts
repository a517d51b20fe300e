/**
 * Live subscriptions through the gateway: real graphql-ws clients on real WebSockets, a real
 * Redis, the whole stack in this process on port 0.
 */
import { type Client, createClient } from "graphql-ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOCK_TOLERANCE_SECONDS } from "../../core/auth/tokens.js";
import { STORES } from "../support/neo4j.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, agentPrincipal, readerPrincipal, startTestStack, type TestStack } from "../support/stack.js";
import {
  gatewayClient,
  metric,
  PubSubProbe,
  Recorder,
  stateChannel,
  waitUntil,
  wsClient,
} from "../support/subscriptions.js";
import { createTestCertificate, type TestCertificate } from "../support/tls-certificate.js";

describe.each(STORES)("subscriptions through the gateway (real Redis, real WebSockets, %s)", (store) => {
  let redis: RedisServer;
  let mnemo: TestStack;
  let probe: PubSubProbe;
  const clients: Client[] = [];

  /** A graphql-ws client on the gateway, closed after the test. */
  const connect = async (principal = ADMIN): Promise<Client> => {
    const client = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(principal)}`);
    clients.push(client);
    return client;
  };
  const putState = async (agentId: string, data: unknown) => {
    const response = await mnemo.query<{ putState: { version: number } }>(
      "mutation Put($agentId: ID!, $data: JSON!) { putState(agentId: $agentId, data: $data) { version } }",
      { agentId, data },
    );
    expect(response.errors).toBeUndefined();
    return response.data!.putState.version;
  };
  const remember = async (agentId: string, content: string) => {
    const response = await mnemo.query(
      "mutation R($agentId: ID!, $content: String!) { remember(agentId: $agentId, input: { content: $content }) { outcome } }",
      { agentId, content },
    );
    expect(response.errors).toBeUndefined();
  };
  /** The subgraph has subscribed the agent's Redis channel: a write now reaches the subscription. */
  const subscribed = (agentId: string, count = 1) =>
    waitUntil(
      async () => (await probe.subscribers(stateChannel(agentId))) >= count,
      `${agentId} is subscribed`,
    );
  const gatewayMetric = (name: string) => metric(mnemo.url("gateway"), name);
  const stateMetric = (name: string) => metric(mnemo.url("state"), name);

  beforeAll(async () => {
    redis = await RedisServer.start();
    // Hundreds of operations and connections of one principal in a second: the rate limit and the
    // connection cap have their own tests below.
    mnemo = await startTestStack({
      store,
      redisUrl: redis.url,
      env: { RATE_LIMIT_PER_MINUTE: "0", MAX_CONNECTIONS_PER_PRINCIPAL: "1000" },
    });
    probe = new PubSubProbe(redis.url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });
  afterAll(async () => {
    await probe?.close();
    await mnemo?.close();
    await redis?.close();
  });

  it("delivers agentStateChanged after putState, with a field from the memory subgraph, shaped as asked", async () => {
    await remember("sub-cross", "the deadline is Friday");
    const client = await connect();
    const watch = new Recorder(
      client,
      `subscription {
        agentStateChanged(agentId: "sub-cross") {
          v: version
          data
          agent { id memories(first: 3) { edges { node { content } } } }
        }
      }`,
    );
    await subscribed("sub-cross");

    await putState("sub-cross", { step: 1 });
    await watch.waitForEvents(1);
    expect(watch.events[0]).toEqual({
      data: {
        agentStateChanged: {
          v: 1,
          data: { step: 1 },
          agent: { id: "sub-cross", memories: { edges: [{ node: { content: "the deadline is Friday" } }] } },
        },
      },
    });

    // `rest` runs again for every event: the new memory is in the next one.
    await remember("sub-cross", "Friday moved to Monday");
    await putState("sub-cross", { step: 2 });
    await watch.waitForEvents(2);
    const second = watch.events[1]?.data?.agentStateChanged as { v: number; agent: { memories: unknown } };
    expect(second.v).toBe(2);
    expect(second.agent.memories).toEqual({
      edges: [
        { node: { content: "Friday moved to Monday" } },
        { node: { content: "the deadline is Friday" } },
      ],
    });
    expect(watch.ended).toBe(false);
  });

  it("resolves the owning subgraph's nested fields afresh for every event", async () => {
    const client = await connect();
    const watch = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-fresh") { version agent { state { version data } } } }`,
    );
    await subscribed("sub-fresh");
    // Each event's nested fields are resolved when it is delivered ("afresh"), so the next write
    // waits for it: otherwise a fast second write can already be what the first event reads.
    for (let step = 1; step <= 3; step++) {
      await putState("sub-fresh", { step });
      await watch.waitForEvents(step);
    }
    expect(watch.events.map((event) => event.data?.agentStateChanged)).toEqual([
      { version: 1, agent: { state: { version: 1, data: { step: 1 } } } },
      { version: 2, agent: { state: { version: 2, data: { step: 2 } } } },
      { version: 3, agent: { state: { version: 3, data: { step: 3 } } } },
    ]);
  });

  it("shares one upstream subscription among 100 clients subscribed to the same thing", async () => {
    const query = `subscription Watch {
      agentStateChanged(agentId: "sub-shared") { version data agent { memories { totalCount } } }
    }`;
    const watchers: Recorder[] = [];
    for (let i = 0; i < 100; i++) watchers.push(new Recorder(await connect(), query));
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscriptions_active")) === 100,
      "100 client subscriptions",
    );
    await subscribed("sub-shared");

    expect(await gatewayMetric("mnemo_websocket_connections")).toBe(100);
    expect(await gatewayMetric("mnemo_subscription_upstreams_active")).toBe(1);
    expect(await gatewayMetric("mnemo_subscription_upstream_sockets")).toBe(1);
    // Seen from the subgraph: one connection from the gateway, carrying one subscription.
    expect(await stateMetric("mnemo_websocket_connections")).toBe(1);
    expect(await stateMetric("mnemo_subscriptions_active")).toBe(1);

    // One event: one entity fetch to the memory subgraph for all 100 clients, not one each.
    const memoryFetches = () =>
      metric(mnemo.url("memory"), "mnemo_graphql_requests_total", { operation: "Watch__memory__1" });
    const fetchesBefore = await memoryFetches();
    await putState("sub-shared", { n: 1 });
    await Promise.all(watchers.map((watch) => watch.waitForEvents(1)));
    for (const watch of watchers) {
      expect(watch.events).toEqual([
        {
          data: { agentStateChanged: { version: 1, data: { n: 1 }, agent: { memories: { totalCount: 0 } } } },
        },
      ]);
    }
    expect((await memoryFetches()) - fetchesBefore).toBe(1);

    for (const watch of watchers.slice(0, 99)) watch.dispose();
    await waitUntil(async () => (await gatewayMetric("mnemo_subscriptions_active")) === 1, "99 clients left");
    // The last client still holds the shared upstream subscription and still receives events.
    expect(await gatewayMetric("mnemo_subscription_upstreams_active")).toBe(1);
    await putState("sub-shared", { n: 2 });
    await watchers[99]!.waitForEvents(2);

    watchers[99]!.dispose();
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscription_upstreams_active")) === 0,
      "no upstream",
    );
    await waitUntil(
      async () => (await probe.subscribers(stateChannel("sub-shared"))) === 0,
      "channel unsubscribed",
    );
  });

  it("shares the upstream subscription between different operations that need the same events", async () => {
    // Both plan the same primary fetch (agentStateChanged with version and the Agent key) and
    // differ only in what the memory subgraph adds to each event.
    const counts = new Recorder(
      await connect(),
      `subscription Watch { agentStateChanged(agentId: "sub-same-primary") { version agent { memories { totalCount } } } }`,
    );
    const firstMemory = new Recorder(
      await connect(),
      `subscription Watch { agentStateChanged(agentId: "sub-same-primary") { version agent { memories(first: 1) { edges { node { content } } } } } }`,
    );
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscriptions_active")) === 2,
      "2 client subscriptions",
    );
    await subscribed("sub-same-primary");
    expect(await gatewayMetric("mnemo_subscription_upstreams_active")).toBe(1);
    expect(await stateMetric("mnemo_subscriptions_active")).toBe(1);

    await remember("sub-same-primary", "shared upstream");
    await putState("sub-same-primary", { n: 1 });
    await counts.waitForEvents(1);
    await firstMemory.waitForEvents(1);
    expect(counts.events[0]).toEqual({
      data: { agentStateChanged: { version: 1, agent: { memories: { totalCount: 1 } } } },
    });
    expect(firstMemory.events[0]).toEqual({
      data: {
        agentStateChanged: {
          version: 1,
          agent: { memories: { edges: [{ node: { content: "shared upstream" } }] } },
        },
      },
    });
  });

  it("leaves no Redis channel subscription and no upstream socket behind after 1,000 subscribe/unsubscribe cycles", async () => {
    const connections = await Promise.all(Array.from({ length: 10 }, () => connect()));
    const agents = ["cycle-a", "cycle-b", "cycle-c", "cycle-d"];
    let cycles = 0;
    for (let round = 0; round < 20; round++) {
      // 50 concurrent cycles per round; each ends after 0-3 event-loop turns, so some end before
      // their upstream subscription is established, some while it is being established, some after.
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const client = connections[(round + i) % connections.length]!;
          const agentId = agents[i % agents.length]!;
          const watch = new Recorder(
            client,
            `subscription { agentStateChanged(agentId: "${agentId}") { version } }`,
          );
          for (let turn = 0; turn < i % 4; turn++) await new Promise((resolve) => setImmediate(resolve));
          watch.dispose();
          cycles++;
        }),
      );
      // One cycle per round goes all the way: subscribed, receives an event, then leaves. The
      // previous round's must be gone from Redis first, or "subscribed" below would be stale.
      await waitUntil(
        async () => (await probe.subscribers(stateChannel("cycle-live"))) === 0,
        "previous live cycle gone",
      );
      const live = new Recorder(
        connections[round % connections.length]!,
        `subscription { agentStateChanged(agentId: "cycle-live") { version } }`,
      );
      await subscribed("cycle-live");
      const version = await putState("cycle-live", { round });
      await live.waitForEvents(1);
      expect(live.events[0]).toEqual({ data: { agentStateChanged: { version } } });
      live.dispose();
      cycles++;
    }
    expect(cycles).toBe(1020);

    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscriptions_active")) === 0,
      "no client subscription",
    );
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscription_upstreams_active")) === 0,
      "no upstream subscription",
    );
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscription_upstream_sockets")) === 0,
      "no upstream socket",
    );
    await waitUntil(
      async () => (await stateMetric("mnemo_subscriptions_active")) === 0,
      "no subgraph subscription",
    );
    await waitUntil(
      async () => (await stateMetric("mnemo_websocket_connections")) === 0,
      "no subgraph connection",
    );
    await waitUntil(
      async () => (await probe.channels("mnemo:v1:event:agentStateChanged:*")).length === 0,
      "no Redis channel subscription",
    );
    for (const agentId of [...agents, "cycle-live"])
      expect(await probe.subscribers(stateChannel(agentId))).toBe(0);
  });

  it("refuses a connection without a valid token with 4403, saying whether the token is missing or invalid", async () => {
    const expired = await mnemo.token(ADMIN, { expiresIn: -120 });
    const forged =
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLXRoYXQtZG9lcy1ub3QtbWF0Y2g";
    const cases: [string | null, unknown][] = [
      [null, expect.stringMatching(/^Missing token: send \{ "authorization": "Bearer <JWT>" \}/)],
      ["Token abc", 'Malformed Authorization header: expected "Bearer <JWT>"'],
      [`Bearer ${forged}`, "Invalid token: signature verification failed"],
      [`Bearer ${expired}`, "Invalid token: it has expired"],
      ["Bearer not-a-jwt", "Invalid token: malformed JWT"],
    ];
    for (const [authorization, reason] of cases) {
      const client = gatewayClient(mnemo.url("gateway"), authorization);
      clients.push(client);
      const watch = new Recorder(
        client,
        `subscription { agentStateChanged(agentId: "sub-auth") { version } }`,
      );
      await watch.waitForEnd();
      expect(watch.events).toEqual([]);
      expect(watch.error).toMatchObject({ code: 4403, reason });
    }
    expect(await gatewayMetric("mnemo_websocket_connections")).toBe(0);
  });

  it("accepts the token as Authorization too, as GraphiQL spells the header it sends", async () => {
    const client = wsClient(mnemo.url("gateway"), { Authorization: `Bearer ${await mnemo.token(ADMIN)}` });
    clients.push(client);
    const watch = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-capital") { version } }`,
    );
    await subscribed("sub-capital");
    const version = await putState("sub-capital", { spelled: "Authorization" });
    expect(await watch.waitForEvents(1)).toEqual([{ data: { agentStateChanged: { version } } }]);
  });

  it("closes the connection with 4403 when its token expires", async () => {
    // Expired 27 s ago: still accepted for 3 s thanks to the 30 s clock tolerance, as on HTTP.
    const expiresIn = Math.floor(Date.now() / 1000) - (CLOCK_TOLERANCE_SECONDS - 3);
    const client = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(ADMIN, { expiresIn })}`);
    clients.push(client);
    const watch = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-expiry") { version } }`,
    );
    await subscribed("sub-expiry");
    await putState("sub-expiry", { before: "expiry" });
    await watch.waitForEvents(1);
    await watch.waitForEnd();
    expect(watch.error).toMatchObject({ code: 4403, reason: "Token expired" });
  });

  it("refuses a subscription to an agent the principal may not read with FORBIDDEN, at once, and keeps the socket", async () => {
    const client = await connect(readerPrincipal("sub-mine"));
    const refused = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-theirs") { version } }`,
    );
    await refused.waitForEnd();
    expect(refused.events).toEqual([]);
    expect(refused.errorCodes).toEqual(["FORBIDDEN"]);
    expect((refused.error as { message: string }[])[0]?.message).toContain('may not read agent "sub-theirs"');

    // The same connection may still subscribe to what it may read.
    const allowed = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-mine") { version } }`,
    );
    await subscribed("sub-mine");
    await putState("sub-mine", { ok: true });
    await allowed.waitForEvents(1);
    expect(allowed.events[0]).toEqual({ data: { agentStateChanged: { version: 1 } } });
    await waitUntil(
      async () => (await gatewayMetric("mnemo_subscription_upstreams_active")) === 1,
      "only the allowed upstream",
    );
  });

  it("applies variables, and reports request errors with an error message and field errors with next", async () => {
    const client = await connect(agentPrincipal("sub-vars"));
    const withVariables = new Recorder(
      client,
      `subscription Watch($agent: ID!, $first: Int) {
        agentStateChanged(agentId: $agent) { version agent { memories(first: $first) { totalCount } } }
      }`,
      { agent: "sub-vars", first: 1 },
    );

    const requestErrors: [string, Record<string, unknown> | undefined, string][] = [
      ["subscription ($agent: ID!) { agentStateChanged(agentId: $agent) { version } }", {}, "BAD_USER_INPUT"],
      [
        "subscription ($agent: ID!, $first: Int) { agentStateChanged(agentId: $agent) { agent { memories(first: $first) { totalCount } } } }",
        { agent: "sub-vars", first: "three" },
        "BAD_USER_INPUT",
      ],
      ["subscription { agentStateChanged(agentId: ", undefined, "GRAPHQL_PARSE_FAILED"],
      [
        'subscription { agentStateChanged(agentId: "sub-vars") { colour } }',
        undefined,
        "GRAPHQL_VALIDATION_FAILED",
      ],
      [
        'subscription { a: agentStateChanged(agentId: "x") { version } b: agentStateChanged(agentId: "y") { version } }',
        undefined,
        "GRAPHQL_VALIDATION_FAILED",
      ],
      [
        'subscription A { agentStateChanged(agentId: "x") { version } } query B { agents { totalCount } }',
        undefined,
        "OPERATION_RESOLUTION_FAILURE",
      ],
      // Valid GraphQL, refused by the subgraph's resolver (the agent id has a space).
      ['subscription { agentStateChanged(agentId: "not valid") { version } }', undefined, "BAD_USER_INPUT"],
    ];
    for (const [query, variables, code] of requestErrors) {
      const refused = new Recorder(client, query, variables);
      await refused.waitForEnd();
      expect(refused.events, query).toEqual([]);
      expect(refused.errorCodes, query).toEqual([code]);
    }

    // A field error inside an event arrives with the event (partial data) and the stream goes on.
    const fieldError = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "sub-vars") { version agent { stateAt(version: 0) { version } } } }`,
    );
    await waitUntil(
      async () => (await stateMetric("mnemo_subscriptions_active")) === 2,
      "both subscriptions upstream",
    );
    await subscribed("sub-vars");
    await remember("sub-vars", "a memory");
    await putState("sub-vars", { n: 1 });
    await putState("sub-vars", { n: 2 });
    await withVariables.waitForEvents(2);
    expect(withVariables.events).toEqual([
      { data: { agentStateChanged: { version: 1, agent: { memories: { totalCount: 1 } } } } },
      { data: { agentStateChanged: { version: 2, agent: { memories: { totalCount: 1 } } } } },
    ]);
    await fieldError.waitForEvents(2);
    for (const [index, event] of fieldError.events.entries()) {
      expect(event.data).toEqual({ agentStateChanged: { version: index + 1, agent: { stateAt: null } } });
      expect(event.errors).toHaveLength(1);
      expect(event.errors?.[0]).toMatchObject({
        path: ["agentStateChanged", "agent", "stateAt"],
        extensions: { code: "BAD_USER_INPUT" },
      });
    }
    expect(fieldError.ended).toBe(false);
    expect(withVariables.ended).toBe(false);
  });

  it("runs queries and mutations over the WebSocket too", async () => {
    const client = await connect();
    const mutation = new Recorder(
      client,
      `mutation { putState(agentId: "sub-ws-ops", data: { via: "ws" }) { version } }`,
    );
    await mutation.waitForEnd();
    expect(mutation.completed).toBe(true);
    expect(mutation.events).toEqual([{ data: { putState: { version: 1 } } }]);

    const query = new Recorder(
      client,
      `{ agent(id: "sub-ws-ops") { state { data } memories { totalCount } } }`,
    );
    await query.waitForEnd();
    expect(query.events).toEqual([
      { data: { agent: { state: { data: { via: "ws" } }, memories: { totalCount: 0 } } } },
    ]);

    const forbidden = new Recorder(
      await connect(readerPrincipal("sub-ws-ops")),
      `mutation { putState(agentId: "sub-ws-ops", data: {}) { version } }`,
    );
    await forbidden.waitForEnd();
    expect(forbidden.events[0]?.data).toBeNull();
    expect(forbidden.events[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("counts every WebSocket operation in the request metrics, by outcome, as HTTP requests are", async () => {
    const ws = (operation: string, outcome: string) => ({ operation, outcome, transport: "ws" });
    const requests = (url: string, labels: Record<string, string>) =>
      metric(url, "mnemo_graphql_requests_total", labels);
    const gateway = mnemo.url("gateway");
    const errorsBefore = await metric(gateway, "mnemo_graphql_errors_total", {
      code: "GRAPHQL_VALIDATION_FAILED",
    });
    const client = await connect();

    // A query: counted when its result is sent, and timed.
    const query = new Recorder(client, `query OpsCount { agents { totalCount } }`);
    await query.waitForEnd();
    expect(await requests(gateway, ws("OpsCount", "ok"))).toBe(1);
    expect(
      await metric(gateway, "mnemo_graphql_request_duration_seconds_count", {
        operation: "OpsCount",
        transport: "ws",
      }),
    ).toBe(1);

    // Refused before execution: counted at once, with its error code (named as the request
    // names it: an invalid document has no operation to take the name from).
    const refused = new Recorder(
      client,
      `subscription OpsBad { agentStateChanged(agentId: "ops") { colour } }`,
      undefined,
      "OpsBad",
    );
    await refused.waitForEnd();
    expect(await requests(gateway, ws("OpsBad", "error"))).toBe(1);
    expect(await metric(gateway, "mnemo_graphql_errors_total", { code: "GRAPHQL_VALIDATION_FAILED" })).toBe(
      errorsBefore + 1,
    );

    // Subscriptions: counted when they end, whether the client completes them or disconnects, on
    // the gateway and (for the upstream subscription) on the state subgraph; a lifetime is not
    // a latency, so they stay out of the duration histogram.
    const completed = new Recorder(
      client,
      `subscription OpsWatch { agentStateChanged(agentId: "ops") { version } }`,
    );
    await subscribed("ops");
    await putState("ops", { n: 1 });
    await completed.waitForEvents(1);
    expect(await requests(gateway, { operation: "OpsWatch" })).toBe(0);
    completed.dispose();
    await waitUntil(async () => (await requests(gateway, ws("OpsWatch", "ok"))) === 1, "OpsWatch counted");
    await waitUntil(
      async () =>
        (await requests(mnemo.url("state"), { operation: "OpsWatch__state__0", transport: "ws" })) === 1,
      "the upstream subscription counted on the state subgraph",
    );
    const otherClient = await connect();
    new Recorder(otherClient, `subscription OpsLeft { agentStateChanged(agentId: "ops") { version } }`);
    await waitUntil(async () => (await gatewayMetric("mnemo_subscriptions_active")) >= 1, "OpsLeft open");
    await otherClient.dispose();
    await waitUntil(async () => (await requests(gateway, ws("OpsLeft", "ok"))) === 1, "OpsLeft counted");
    expect(
      await metric(gateway, "mnemo_graphql_request_duration_seconds_count", { operation: "OpsWatch" }),
    ).toBe(0);
  });
});

describe("subscriptions without Redis (npm start's single process, in-process bus)", () => {
  let mnemo: TestStack;
  let client: Client | undefined;

  beforeAll(async () => {
    mnemo = await startTestStack();
  });
  afterAll(async () => {
    await client?.dispose();
    await mnemo?.close();
  });

  it("delivers events through the gateway", async () => {
    client = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(ADMIN)}`);
    const watch = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "planner") { version data agent { memories { totalCount } } } }`,
    );
    // In-process, the subgraph's subscription listens as soon as it is open.
    await waitUntil(
      async () => (await metric(mnemo.url("state"), "mnemo_subscriptions_active")) === 1,
      "subscribed",
    );
    await mnemo.query(`mutation { putState(agentId: "planner", data: { goal: "ship v1" }) { version } }`);
    expect(await watch.waitForEvents(1)).toEqual([
      {
        data: {
          agentStateChanged: {
            version: 1,
            data: { goal: "ship v1" },
            agent: { memories: { totalCount: 0 } },
          },
        },
      },
    ]);
  });
});

describe("the HTTP path's limits over the WebSocket", () => {
  let mnemo: TestStack;
  let client: Client | undefined;

  beforeAll(async () => {
    mnemo = await startTestStack({ env: { RATE_LIMIT_PER_MINUTE: "4", QUERY_MAX_DEPTH: "5" } });
  });
  afterAll(async () => {
    await client?.dispose();
    await mnemo?.close();
  });

  it("refuses an operation over the depth limit, then spends the principal's rate limit per operation", async () => {
    client = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(ADMIN)}`);
    let selection = "version";
    for (let i = 0; i < 6; i++) selection = `agent { state { ${selection} } }`;
    const deep = new Recorder(
      client,
      `subscription { agentStateChanged(agentId: "limits") { ${selection} } }`,
    );
    await deep.waitForEnd();
    expect(deep.errorCodes).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect((deep.error as { message: string }[])[0]?.message).toMatch(/depth/i);

    // The refused one counted too: 4 per minute leaves 3.
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const query = new Recorder(client, `{ agent(id: "limits") { id } }`);
      await query.waitForEnd();
      outcomes.push(query.completed ? "ok" : query.errorCodes.join());
    }
    expect(outcomes).toEqual(["ok", "ok", "ok", "RATE_LIMITED"]);
    const limited = new Recorder(client, `{ agent(id: "limits") { id } }`);
    await limited.waitForEnd();
    expect(limited.error).toEqual([
      {
        message: expect.stringMatching(/^Rate limit of 4 requests per minute exceeded; retry in \d+ s$/),
        extensions: { code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) },
      },
    ]);
  });
});

describe("the WebSocket caps", () => {
  let mnemo: TestStack;
  const others: Client[] = [];

  beforeAll(async () => {
    mnemo = await startTestStack({
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: "2", MAX_CONNECTIONS_PER_PRINCIPAL: "2" },
    });
  });
  afterAll(async () => {
    await Promise.all(others.map((other) => other.dispose()));
    await mnemo?.close();
  });

  it("caps subscriptions per connection and connections per principal", async () => {
    const principal = agentPrincipal("caps");
    const connect = async () => {
      const other = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(principal)}`);
      others.push(other);
      return other;
    };
    const first = await connect();
    const watch = (on: Client) =>
      new Recorder(on, `subscription { agentStateChanged(agentId: "caps") { version } }`);
    const open = [watch(first), watch(first)];
    const third = watch(first);
    await third.waitForEnd();
    expect(third.errorCodes).toEqual(["RATE_LIMITED"]);
    expect((third.error as { message: string }[])[0]?.message).toContain("MAX_SUBSCRIPTIONS_PER_CONNECTION");
    // Completing one makes room again.
    open[0]!.dispose();
    await waitUntil(
      async () => (await metric(mnemo.url("gateway"), "mnemo_subscriptions_active")) === 1,
      "one left",
    );
    const again = watch(first);
    await waitUntil(
      async () => (await metric(mnemo.url("gateway"), "mnemo_subscriptions_active")) === 2,
      "room again",
    );
    expect(again.ended).toBe(false);

    const second = watch(await connect());
    await waitUntil(
      async () => (await metric(mnemo.url("gateway"), "mnemo_websocket_connections")) === 2,
      "2 sockets",
    );
    const refused = watch(await connect());
    await refused.waitForEnd();
    expect(refused.error).toMatchObject({
      code: 1008,
      reason: expect.stringContaining("MAX_CONNECTIONS_PER_PRINCIPAL"),
    });
    expect(second.ended).toBe(false);
  });
});

describe("subscriptions over TLS (wss)", () => {
  let certificate: TestCertificate;
  let mnemo: TestStack;
  let client: Client | undefined;

  beforeAll(async () => {
    certificate = createTestCertificate();
    mnemo = await startTestStack({
      env: { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile },
    });
  });
  afterAll(async () => {
    await client?.dispose();
    await mnemo?.close();
    certificate?.remove();
  });

  it("serves graphql-ws on the gateway's https port", async () => {
    const ca = certificate.pem();
    /** A WebSocket that trusts the test certificate. */
    class TrustingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { ca });
      }
    }
    expect(mnemo.url("gateway").startsWith("https://")).toBe(true);
    client = createClient({
      url: mnemo.url("gateway").replace(/^https/, "wss"),
      webSocketImpl: TrustingWebSocket,
      connectionParams: { authorization: `Bearer ${await mnemo.token(ADMIN)}` },
      retryAttempts: 0,
    });
    const watch = new Recorder(client, `subscription { agentStateChanged(agentId: "wss") { version } }`);
    await waitUntil(async () => (await stateSubscriptions(mnemo)) === 1, "subscribed");
    // The write goes over the same wss connection (fetch would not trust the test certificate).
    const write = new Recorder(client, `mutation { putState(agentId: "wss", data: {}) { version } }`);
    await write.waitForEnd();
    expect(write.events).toEqual([{ data: { putState: { version: 1 } } }]);
    expect(await watch.waitForEvents(1)).toEqual([{ data: { agentStateChanged: { version: 1 } } }]);
  });
});

function stateSubscriptions(stack: TestStack): Promise<number> {
  return metric(stack.url("state"), "mnemo_subscriptions_active");
}
