/**
 * MnemoStore (LangGraph BaseStore on Mnemo memories) against the real stack with a real Redis:
 * items by namespace and key, searches by namespace prefix, value filters and recall queries,
 * namespaces listed, concurrent writers of one key.
 */
import { afterEach, describe, expect, it } from "vitest";
import { agentPrincipal, useRedisStack } from "../../../../test/support/stack.js";
import type { MnemoClient } from "../../src/index.js";
import { MnemoStore } from "../../src/langgraph/index.js";
import { ClientPool, freshAgent } from "../support.js";

describe("MnemoStore", () => {
  const env = useRedisStack();
  const clients = new ClientPool();
  afterEach(() => clients.closeAll());

  const newStore = async (
    options: { fields?: string[] } = {},
  ): Promise<{ store: MnemoStore; client: MnemoClient }> => {
    const agentId = freshAgent("store");
    const client = await clients.create(env.mnemo, agentPrincipal(agentId));
    return { store: new MnemoStore({ client, agentId, index: { fields: options.fields } }), client };
  };

  it("puts, gets, updates and deletes items by namespace and key", async () => {
    const { store } = await newStore();
    expect(await store.get(["users", "ada"], "prefs")).toBeNull();
    await store.put(["users", "ada"], "prefs", { drink: "green tea", theme: "dark" });
    await store.put(["users", "bob"], "prefs", { drink: "coffee" });
    const first = await store.get(["users", "ada"], "prefs");
    expect(first).toMatchObject({
      namespace: ["users", "ada"],
      key: "prefs",
      value: { drink: "green tea", theme: "dark" },
    });
    expect(first!.createdAt).toBeInstanceOf(Date);

    await store.put(["users", "ada"], "prefs", { drink: "oolong" });
    const updated = await store.get(["users", "ada"], "prefs");
    expect(updated!.value).toEqual({ drink: "oolong" });
    expect(updated!.createdAt).toEqual(first!.createdAt);
    expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(first!.updatedAt.getTime());
    expect((await store.get(["users", "bob"], "prefs"))!.value).toEqual({ drink: "coffee" });

    await store.delete(["users", "ada"], "prefs");
    expect(await store.get(["users", "ada"], "prefs")).toBeNull();
    expect(await store.get(["users", "bob"], "prefs")).not.toBeNull();
  });

  it("keeps one memory per item: an update replaces, identical values under other keys are not merged", async () => {
    const { store, client } = await newStore();
    await store.put(["notes"], "a", { text: "The meeting is on Friday" });
    await store.put(["notes"], "b", { text: "The meeting is on Friday" });
    await store.put(["notes"], "a", { text: "The meeting is on Friday" });
    expect((await store.get(["notes"], "a"))!.value).toEqual({ text: "The meeting is on Friday" });
    expect((await store.get(["notes"], "b"))!.value).toEqual({ text: "The meeting is on Friday" });
    expect((await client.memory.list(store.agentId)).totalCount).toBe(2);
    const pinned = (await client.memory.list(store.agentId)).memories.every((memory) => memory.pinned);
    expect(pinned).toBe(true);
  });

  it("converges on one value when writers race on a key (last writer wins)", async () => {
    const { store, client } = await newStore();
    const other = new MnemoStore({
      client: await clients.create(env.mnemo, agentPrincipal(store.agentId)),
      agentId: store.agentId,
    });
    await Promise.all([
      store.put(["race"], "k", { by: "first", n: 1 }),
      other.put(["race"], "k", { by: "second", n: 2 }),
      store.put(["race"], "k", { by: "third", n: 3 }),
    ]);
    const winner = await store.get(["race"], "k");
    expect(["first", "second", "third"]).toContain(winner!.value.by);
    expect((await client.memory.list(store.agentId)).totalCount).toBe(1);
    expect(await other.get(["race"], "k")).toEqual(winner);
  });

  it("searches by namespace prefix with value filters, limit and offset", async () => {
    const { store } = await newStore();
    await store.put(["docs", "2024"], "a", { kind: "report", pages: 10 });
    await store.put(["docs", "2025"], "b", { kind: "memo", pages: 2 });
    await store.put(["docs", "2025"], "c", { kind: "report", pages: 30 });
    await store.put(["other"], "d", { kind: "report", pages: 1 });

    const keys = (items: { key: string }[]) => items.map((item) => item.key).sort();
    expect(keys(await store.search(["docs"]))).toEqual(["a", "b", "c"]);
    expect(keys(await store.search(["docs", "2025"]))).toEqual(["b", "c"]);
    expect(keys(await store.search([]))).toEqual(["a", "b", "c", "d"]);
    expect(keys(await store.search(["docs"], { filter: { kind: "report" } }))).toEqual(["a", "c"]);
    expect(keys(await store.search(["docs"], { filter: { pages: { $gt: 5 } } }))).toEqual(["a", "c"]);
    expect(keys(await store.search(["docs"], { filter: { kind: { $in: ["memo"] } } }))).toEqual(["b"]);
    const page1 = await store.search(["docs"], { limit: 2 });
    const page2 = await store.search(["docs"], { limit: 2, offset: 2 });
    expect(page1).toHaveLength(2);
    expect(keys([...page1, ...page2])).toEqual(["a", "b", "c"]);
    expect(page1.every((item) => item.score === undefined)).toBe(true);
  });

  it("answers a search query with Mnemo's recall, ranked, with scores, over the indexed fields", async () => {
    const { store } = await newStore({ fields: ["text"] });
    await store.put(["memories", "ada"], "tea", {
      text: "Ada drinks green tea every morning",
      source: "chat",
    });
    await store.put(["memories", "ada"], "port", {
      text: "The build server listens on port 8080",
      source: "ops",
    });
    await store.put(["memories", "ada"], "city", {
      text: "Grace's favourite city is Lisbon",
      source: "chat",
    });
    await store.put(["memories", "ada"], "hidden", { text: "Ada also likes tea cakes" }, false);
    await store.put(["memories", "bob"], "tea", { text: "Bob drinks green tea too" });

    const hits = await store.search(["memories", "ada"], { query: "What does Ada drink?", limit: 2 });
    expect(hits).toHaveLength(2);
    expect(hits[0]!.key).toBe("tea");
    expect(hits[0]!.value).toEqual({ text: "Ada drinks green tea every morning", source: "chat" });
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score!);
    // Namespaced: Bob's item is outside the prefix; `index: false` items stay out of query searches.
    const all = await store.search(["memories", "ada"], { query: "tea", limit: 10 });
    expect(all.map((item) => item.key)).not.toContain("hidden");
    expect(all.every((item) => item.namespace[1] === "ada")).toBe(true);
    const filtered = await store.search(["memories"], { query: "green tea", filter: { source: "chat" } });
    expect(filtered.map((item) => item.key)).toEqual(expect.arrayContaining(["tea", "city"]));
    expect(filtered.every((item) => item.value.source === "chat")).toBe(true);
  });

  it("lists namespaces with prefix, suffix, maxDepth, limit and offset", async () => {
    const { store } = await newStore();
    await store.put(["a", "b", "c"], "k", { n: 1 });
    await store.put(["a", "b", "d"], "k", { n: 2 });
    await store.put(["a", "x"], "k", { n: 3 });
    await store.put(["z"], "k", { n: 4 });
    expect(await store.listNamespaces()).toEqual([["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["z"]]);
    expect(await store.listNamespaces({ prefix: ["a", "b"] })).toEqual([
      ["a", "b", "c"],
      ["a", "b", "d"],
    ]);
    expect(await store.listNamespaces({ prefix: ["a", "*"], suffix: ["d"] })).toEqual([["a", "b", "d"]]);
    expect(await store.listNamespaces({ maxDepth: 1 })).toEqual([["a"], ["z"]]);
    expect(await store.listNamespaces({ limit: 2, offset: 1 })).toEqual([
      ["a", "b", "d"],
      ["a", "x"],
    ]);
  });

  it("batches operations in order: a get after a put in the same batch sees it", async () => {
    const { store } = await newStore();
    const [, got, none] = await store.batch([
      { namespace: ["b"], key: "k", value: { v: 1 } },
      { namespace: ["b"], key: "k" },
      { namespace: ["b"], key: "missing" },
    ] as const);
    expect(got).toMatchObject({ key: "k", value: { v: 1 } });
    expect(none).toBeNull();
  });
});
