/**
 * client.memory against the real stack: remember, rememberMany, recall, forget, list.
 */
import { afterEach, describe, expect, it } from "vitest";
import { useRedisStack } from "../../../test/support/stack.js";
import { NotFoundError } from "../src/index.js";
import { ClientPool, freshAgent } from "./support.js";

describe("client.memory", () => {
  const env = useRedisStack();
  const clients = new ClientPool();
  afterEach(() => clients.closeAll());

  it("remember stores a memory (a string is its content) and merges an exact duplicate", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    const created = await client.memory.remember(agent, "Ada prefers green tea");
    expect(created.outcome).toBe("CREATED");
    expect(created.memory).toMatchObject({
      agentId: agent,
      content: "Ada prefers green tea",
      kind: "EPISODIC",
    });
    expect(created.memory.id.startsWith(`${agent}/`)).toBe(true);
    const duplicate = await client.memory.remember(agent, { content: "Ada prefers green tea" });
    expect(duplicate).toMatchObject({ outcome: "MERGED", memory: { id: created.memory.id } });
  });

  it("rememberMany stores a batch in input order, with every input field it was given", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    const results = await client.memory.rememberMany(agent, [
      { content: "The deploy token is XK-4471", kind: "SEMANTIC", importance: 0.9, tags: ["ops"] },
      {
        content: "Ada met Grace in Lisbon",
        entities: [{ name: "Ada", type: "PERSON" }],
        metadata: { src: "chat" },
      },
      "Release is due in May",
    ]);
    expect(results.map((r) => r.outcome)).toEqual(["CREATED", "CREATED", "CREATED"]);
    expect(results[0]!.memory).toMatchObject({ kind: "SEMANTIC", importance: 0.9, tags: ["ops"] });
    expect(results[1]!.memory.metadata).toEqual({ src: "chat" });
    expect(results[1]!.memory.entities).toContainEqual({ name: "Ada", type: "PERSON" });
    const page = await client.memory.list(agent, { first: 2 });
    expect(page.totalCount).toBe(3);
    expect(page.memories).toHaveLength(2);
    expect(page.hasNextPage).toBe(true);
    const rest = await client.memory.list(agent, { first: 2, after: page.endCursor });
    expect(new Set([...page.memories, ...rest.memories].map((m) => m.id))).toEqual(
      new Set(results.map((r) => r.memory.id)),
    );
  });

  it("recall ranks the memory that answers the question first, with its score components", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    await client.memory.rememberMany(agent, [
      "Ada prefers green tea in the morning",
      "The build server runs on port 8080",
      "Grace's favourite city is Lisbon",
    ]);
    const hits = await client.memory.recall(agent, "What does Ada drink?", { k: 2 });
    expect(hits).toHaveLength(2);
    expect(hits[0]!.memory.content).toBe("Ada prefers green tea in the morning");
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]!.components.lexical).toBeGreaterThan(0);
    const tagged = await client.memory.recall(agent, "Ada", { filter: { tags: ["none-such"] } });
    expect(tagged).toEqual([]);
  });

  it("forget removes a memory; forgetting it again throws NotFoundError", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    const { memory } = await client.memory.remember(agent, "Temporary note");
    expect(await client.memory.forget(memory.id)).toBe(true);
    expect((await client.memory.list(agent)).totalCount).toBe(0);
    await expect(client.memory.forget(memory.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
