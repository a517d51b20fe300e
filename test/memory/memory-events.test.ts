/**
 * memoryAdded is published after each committed new memory (not for merges or failed writes),
 * through Redis, and served by the memory subgraph over graphql-ws to callers carrying the
 * gateway's signature.
 */
import { describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { STORES } from "../support/neo4j.js";
import { ADMIN, agentPrincipal, TEST_INTERNAL_SECRET, useRedisStack } from "../support/stack.js";
import { collect, waitForSubscriber, wsClient } from "../support/subscriptions.js";

const SUBSCRIBE = `subscription Added($agentId: ID!) { memoryAdded(agentId: $agentId) { id agentId content tags } }`;
const REMEMBER = `mutation ($agentId: ID!, $input: MemoryInput!) { remember(agentId: $agentId, input: $input) { outcome memory { id } } }`;

describe.each(STORES)("memoryAdded events (%s)", (store) => {
  const env = useRedisStack({ store });
  const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);

  it("delivers each new memory once, in order, and nothing for merges, failures or other agents", async () => {
    const client = wsClient(env.mnemo.url("memory"), { [PRINCIPAL_HEADER]: await sign(ADMIN) });
    const sub = collect<{ memoryAdded: { id: string; agentId: string; content: string; tags: string[] } }>(
      client,
      SUBSCRIBE,
      { agentId: "events-m1" },
    );
    await waitForSubscriber(env.redis.url, "memoryAdded:events-m1");

    const first = await env.mnemo.query<{ remember: { memory: { id: string } } }>(REMEMBER, {
      agentId: "events-m1",
      input: { content: "first memory", tags: ["a"] },
    });
    await env.mnemo.query(REMEMBER, { agentId: "events-m1", input: { content: "First memory!" } }); // merged
    const failed = await env.mnemo.query(REMEMBER, {
      agentId: "events-m1",
      input: { content: "x", importance: 7 },
    });
    expect(failed.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    await env.mnemo.query(REMEMBER, { agentId: "events-other", input: { content: "not for you" } });
    const batch = await env.mnemo.query(
      `mutation { rememberMany(agentId: "events-m1", inputs: [{ content: "second" }, { content: "third" }]) { outcome } }`,
    );
    expect(batch.errors).toBeUndefined();

    const events = await sub.waitFor(3);
    expect(events.map((event) => event.memoryAdded.content)).toEqual(["first memory", "second", "third"]);
    expect(events[0]!.memoryAdded).toEqual({
      id: first.data!.remember.memory.id,
      agentId: "events-m1",
      content: "first memory",
      tags: ["a"],
    });
    // A later event proves the merge, the failure and the other agent's write published nothing in between.
    await env.mnemo.query(REMEMBER, { agentId: "events-m1", input: { content: "fourth" } });
    const all = await sub.waitFor(4);
    expect(all.map((event) => event.memoryAdded.content)).toEqual([
      "first memory",
      "second",
      "third",
      "fourth",
    ]);
    sub.unsubscribe();
    await client.dispose();
  });

  it("refuses a subscription to an agent the principal may not read", async () => {
    const client = wsClient(env.mnemo.url("memory"), {
      [PRINCIPAL_HEADER]: await sign(agentPrincipal("mine")),
    });
    const sub = collect(client, SUBSCRIBE, { agentId: "not-mine" });
    await expect(sub.waitFor(1, 3000)).rejects.toThrow(/FORBIDDEN|may not read/);
    await client.dispose();
  });
});
