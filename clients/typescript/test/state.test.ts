/**
 * client.state against the real stack: every method, and update()'s retry on VERSION_CONFLICT
 * with concurrent updaters on a real Redis-backed stack.
 */
import { afterEach, describe, expect, it } from "vitest";
import { agentPrincipal, useRedisStack } from "../../../test/support/stack.js";
import { ForbiddenError, VersionConflictError } from "../src/index.js";
import { ClientPool, freshAgent } from "./support.js";

describe("client.state", () => {
  const env = useRedisStack();
  const clients = new ClientPool();
  afterEach(() => clients.closeAll());

  it("get returns null before the first write, then the current version or a past one", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    expect(await client.state.get(agent)).toBeNull();
    const first = await client.state.put(agent, { step: 1 }, { reason: "start" });
    const second = await client.state.put(agent, { step: 2 });
    expect(first).toMatchObject({ version: 1, data: { step: 1 }, reason: "start", author: "test-admin" });
    expect(second.previousHash).toBe(first.hash);
    expect(await client.state.get<{ step: number }>(agent)).toEqual(second);
    expect(await client.state.get(agent, { version: 1 })).toEqual(first);
    expect(await client.state.get(agent, { version: 9 })).toBeNull();
  });

  it("put with expectedVersion is a compare-and-set: a stale one throws VersionConflictError with the current version", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    await client.state.put(agent, { a: 1 }, { expectedVersion: 0 });
    await client.state.put(agent, { a: 2 }, { expectedVersion: 1 });
    const error = await client.state.put(agent, { a: "lost" }, { expectedVersion: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(VersionConflictError);
    expect(error.currentVersion).toBe(2);
    expect((await client.state.get(agent))?.data).toEqual({ a: 2 });
  });

  it("patch merges by default and applies JSON Patch operations with format JSON_PATCH", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    await client.state.put(agent, { goal: "ship", steps: ["plan"], draft: true });
    const merged = await client.state.patch(agent, { draft: null, owner: "ada" }, { expectedVersion: 1 });
    expect(merged).toMatchObject({ version: 2, data: { goal: "ship", steps: ["plan"], owner: "ada" } });
    const patched = await client.state.patch(agent, [{ op: "add", path: "/steps/-", value: "build" }], {
      format: "JSON_PATCH",
      reason: "next step",
    });
    expect(patched).toMatchObject({
      version: 3,
      reason: "next step",
      data: { goal: "ship", steps: ["plan", "build"], owner: "ada" },
    });
  });

  it("rollback writes a new version with an old version's data; history pages newest first with diffs", async () => {
    const client = await clients.create(env.mnemo);
    const agent = freshAgent();
    for (let n = 1; n <= 4; n++) await client.state.put(agent, { n });
    const rolledBack = await client.state.rollback(agent, 2);
    expect(rolledBack).toMatchObject({ version: 5, data: { n: 2 }, reason: "rollback to version 2" });

    const page1 = await client.state.history(agent, { first: 2 });
    expect(page1.versions.map((v) => v.version)).toEqual([5, 4]);
    expect(page1).toMatchObject({ totalCount: 5, hasNextPage: true });
    expect(page1.versions[0]!.diff).toEqual([{ op: "replace", path: "/n", value: 2 }]);
    const rest = await client.state.history(agent, { first: 10, after: page1.endCursor });
    expect(rest.versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(rest.hasNextPage).toBe(false);
    expect(await client.state.history(freshAgent(), {})).toMatchObject({ versions: [], totalCount: 0 });
  });

  it("update retries on VERSION_CONFLICT with the fresh version: 12 concurrent increments lose nothing", async () => {
    const agent = freshAgent("counter");
    const writers = await Promise.all(Array.from({ length: 4 }, () => clients.create(env.mnemo)));
    await writers[0]!.state.put(agent, { count: 0 });
    let calls = 0;
    const seen: number[] = [];
    const increments = Array.from({ length: 12 }, (_, i) =>
      writers[i % writers.length]!.state.update<{ count: number }>(
        agent,
        (current, version) => {
          calls++;
          seen.push(version!.version);
          return { count: current!.count + 1 };
        },
        { maxAttempts: 50, backoff: () => new Promise((r) => setTimeout(r, Math.random() * 20)) },
      ),
    );
    const results = await Promise.all(increments);
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 2),
    );
    expect((await writers[0]!.state.get<{ count: number }>(agent))?.data).toEqual({ count: 12 });
    // Concurrent updaters conflicted, and each retry started from a version it had not seen before.
    expect(calls).toBeGreaterThan(12);
    expect(Math.max(...seen)).toBe(12);
  });

  it("update gives up after maxAttempts and throws the last VersionConflictError", async () => {
    const client = await clients.create(env.mnemo);
    const rival = await clients.create(env.mnemo);
    const agent = freshAgent();
    let calls = 0;
    const error = await client.state
      .update(
        agent,
        async (current: { n: number } | undefined) => {
          calls++;
          // Someone else writes between our read and our write, every time.
          await rival.state.put(agent, { n: -calls });
          return { n: (current?.n ?? 0) + 1 };
        },
        { maxAttempts: 3, backoff: async () => {} },
      )
      .catch((e) => e);
    expect(error).toBeInstanceOf(VersionConflictError);
    expect(calls).toBe(3);
    expect(error.currentVersion).toBe(3);
    expect((await client.state.get(agent))?.data).toEqual({ n: -3 });
  });

  it("update does not retry other errors: a reader token fails at once with ForbiddenError", async () => {
    const agent = freshAgent();
    const reader = await clients.create(env.mnemo, { sub: "r", role: "reader", agents: [agent] });
    let calls = 0;
    const error = await reader.state
      .update(agent, () => {
        calls++;
        return { n: 1 };
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(calls).toBe(1);
    const own = await clients.create(env.mnemo, agentPrincipal(agent));
    expect(await own.state.get(agent)).toBeNull();
  });
});
