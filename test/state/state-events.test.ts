/**
 * agentStateChanged is published after each committed write, through Redis, and served by the
 * state subgraph over graphql-ws to callers carrying the gateway's signature.
 */
import { describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { STORES } from "../support/neo4j.js";
import { ADMIN, agentPrincipal, TEST_INTERNAL_SECRET, useRedisStack } from "../support/stack.js";
import { collect, waitForSubscriber, wsClient } from "../support/subscriptions.js";

const SUBSCRIBE = `subscription Changed($agentId: ID!) { agentStateChanged(agentId: $agentId) { version data author } }`;

describe.each(STORES)("agentStateChanged events (%s)", (store) => {
  const env = useRedisStack({ store });
  const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);

  it("delivers every committed write, in order, and nothing for a failed one", async () => {
    const client = wsClient(env.mnemo.url("state"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const sub = collect<{ agentStateChanged: { version: number; data: unknown; author: string } }>(
      client,
      SUBSCRIBE,
      {
        agentId: "events-1",
      },
    );
    // The subscription is live once Redis confirms the channel; wait for it.
    await waitForSubscriber(env.redis.url, "agentStateChanged:events-1");

    await env.mnemo.query(`mutation { putState(agentId: "events-1", data: {n: 1}) { version } }`);
    const conflict = await env.mnemo.query(
      `mutation { putState(agentId: "events-1", data: {n: 9}, expectedVersion: 5) { version } }`,
    );
    expect(conflict.errors?.[0]?.extensions?.code).toBe("VERSION_CONFLICT");
    await env.mnemo.query(`mutation { patchState(agentId: "events-1", patch: {m: 2}) { version } }`);
    await env.mnemo.query(`mutation { putState(agentId: "other-agent", data: {x: 1}) { version } }`);

    const events = await sub.waitFor(2);
    expect(events).toEqual([
      { agentStateChanged: { version: 1, data: { n: 1 }, author: "test-admin" } },
      { agentStateChanged: { version: 2, data: { n: 1, m: 2 }, author: "test-admin" } },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sub.events).toHaveLength(2);
    sub.unsubscribe();
    await client.dispose();
  });

  it("delivers concurrent writes to one agent in version order", async () => {
    const client = wsClient(env.mnemo.url("state"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const sub = collect<{ agentStateChanged: { version: number } }>(client, SUBSCRIBE, {
      agentId: "events-order",
    });
    await waitForSubscriber(env.redis.url, "agentStateChanged:events-order");
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        env.mnemo.query(`mutation { putState(agentId: "events-order", data: {i: ${i}}) { version } }`),
      ),
    );
    const events = await sub.waitFor(40);
    expect(events.map((e) => e.agentStateChanged.version)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    sub.unsubscribe();
    await client.dispose();
  });

  it("refuses a subscription to an agent the principal may not read", async () => {
    const client = wsClient(env.mnemo.url("state"), {
      [PRINCIPAL_HEADER]: await sign(agentPrincipal("mine")),
    });
    const sub = collect(client, SUBSCRIBE, { agentId: "not-mine" });
    await expect(sub.waitFor(1, 3000)).rejects.toThrow(/FORBIDDEN|may not read/);
    await client.dispose();
  });

  it("refuses a connection without the gateway's signature", async () => {
    const client = wsClient(env.mnemo.url("state"), {});
    const sub = collect(client, SUBSCRIBE, { agentId: "events-1" });
    await expect(sub.waitFor(1, 3000)).rejects.toThrow(/4403|Forbidden/);
    await client.dispose();
  });
});
