/**
 * Thread checkpoints through the gateway, on SQLite and on a real Neo4j, with a real Redis: the
 * API a LangGraph checkpointer needs, with the agent's auth, isolation, limits and audit.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, agentPrincipal, readerPrincipal, startTestStack, type TestStack } from "../support/stack.js";

const CHECKPOINT_FIELDS = `threadId namespace id parentId checkpoint { type value } metadata channelVersions
  channelValues { channel version value { type value } }
  pendingWrites { taskId taskPath idx channel value { type value } }
  author createdAt`;

const PUT = `mutation Put($agentId: ID!, $input: CheckpointInput!) {
  putCheckpoint(agentId: $agentId, input: $input) { ${CHECKPOINT_FIELDS} }
}`;
const PUT_WRITES = `mutation Writes($agentId: ID!, $input: CheckpointWritesInput!) {
  putCheckpointWrites(agentId: $agentId, input: $input)
}`;
const GET = `query Get($agentId: ID!, $threadId: String!, $namespace: String, $id: String) {
  agent(id: $agentId) { checkpoint(threadId: $threadId, namespace: $namespace, id: $id) { ${CHECKPOINT_FIELDS} } }
}`;
const LIST = `query List($agentId: ID!, $threadId: String, $namespace: String, $before: String, $filter: JSON,
  $first: Int, $after: String) {
  agent(id: $agentId) {
    checkpoints(threadId: $threadId, namespace: $namespace, before: $before, filter: $filter, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { threadId namespace id } }
    }
  }
}`;
const DELETE_THREAD = `mutation Delete($agentId: ID!, $threadId: String!) { deleteThread(agentId: $agentId, threadId: $threadId) }`;

interface CheckpointFields {
  threadId: string;
  namespace: string;
  id: string;
  parentId: string | null;
  checkpoint: { type: string; value: unknown };
  metadata: Record<string, unknown>;
  channelVersions: Record<string, unknown>;
  channelValues: { channel: string; version: string; value: { type: string; value: unknown } }[];
  pendingWrites: { taskId: string; taskPath: string; idx: number; channel: string; value: unknown }[];
  author: string | null;
}

const json = (value: unknown) => ({ type: "json", value });

let counter = 0;
const newAgent = () => `cp-${counter++}`;

function input(threadId: string, id: string, extra: Record<string, unknown> = {}) {
  return {
    threadId,
    id,
    checkpoint: json({ v: 4, id, ts: "2026-01-01T00:00:00.000Z", channel_versions: {}, versions_seen: {} }),
    metadata: { source: "loop", step: 1, parents: {} },
    channelVersions: {},
    ...extra,
  };
}

describe.each(STORES)("thread checkpoints through the gateway (%s)", (store) => {
  let redis: RedisServer;
  let mnemo: TestStack;
  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({ store, redisUrl: redis.url, env: { STATE_MAX_BYTES: "4096" } });
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  const put = (agentId: string, checkpoint: Record<string, unknown>, as = ADMIN) =>
    mnemo.query<{ putCheckpoint: CheckpointFields }>(PUT, { agentId, input: checkpoint }, as);
  const get = async (agentId: string, vars: Record<string, unknown>, as = ADMIN) =>
    mnemo.query<{ agent: { checkpoint: CheckpointFields | null } }>(GET, { agentId, ...vars }, as);
  const list = async (agentId: string, vars: Record<string, unknown> = {}) => {
    const response = await mnemo.query<{
      agent: {
        checkpoints: {
          totalCount: number;
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
          edges: { node: { threadId: string; namespace: string; id: string } }[];
        };
      };
    }>(LIST, { agentId, ...vars });
    expect(response.errors).toBeUndefined();
    return response.data!.agent.checkpoints;
  };
  const listIds = async (agentId: string, vars: Record<string, unknown> = {}) =>
    (await list(agentId, vars)).edges.map((edge) => edge.node.id);

  it("saves a checkpoint with channel values and reads it back by id, or the thread's newest", async () => {
    const agent = newAgent();
    const saved = await put(
      agent,
      input("t1", "0001", {
        channelVersions: { messages: 1, count: "00002.5" },
        channelValues: [
          { channel: "messages", version: "1", value: json(["hi"]) },
          { channel: "count", version: "00002.5", value: { type: "bytes", value: "AAE=" } },
        ],
      }),
    );
    expect(saved.errors).toBeUndefined();
    expect(saved.data!.putCheckpoint).toMatchObject({
      threadId: "t1",
      namespace: "",
      id: "0001",
      parentId: null,
      author: "test-admin",
      metadata: { source: "loop", step: 1, parents: {} },
      channelVersions: { messages: 1, count: "00002.5" },
      pendingWrites: [],
    });
    await put(agent, input("t1", "0002", { parentId: "0001", channelVersions: { messages: 1 } }));

    const byId = (await get(agent, { threadId: "t1", id: "0001" })).data!.agent.checkpoint!;
    expect(byId.checkpoint).toEqual(saved.data!.putCheckpoint.checkpoint);
    expect(byId.channelValues).toEqual(
      expect.arrayContaining([
        { channel: "messages", version: "1", value: json(["hi"]) },
        { channel: "count", version: "00002.5", value: { type: "bytes", value: "AAE=" } },
      ]),
    );
    const newest = (await get(agent, { threadId: "t1" })).data!.agent.checkpoint!;
    expect(newest).toMatchObject({ id: "0002", parentId: "0001" });
    // Channel values are stored once per version: the newer checkpoint finds "messages" at version 1.
    expect(newest.channelValues).toEqual([{ channel: "messages", version: "1", value: json(["hi"]) }]);
    expect((await get(agent, { threadId: "t1", namespace: "child" })).data!.agent.checkpoint).toBeNull();
    expect((await get(agent, { threadId: "nope" })).data!.agent.checkpoint).toBeNull();
  });

  it("keeps the first regular pending write, lets a special one replace, and returns them in task order", async () => {
    const agent = newAgent();
    await put(agent, input("t", "0001"));
    const writes = (
      taskId: string,
      taskPath: string,
      list: { channel: string; idx: number; value: unknown }[],
    ) =>
      mnemo.query<{ putCheckpointWrites: number }>(PUT_WRITES, {
        agentId: agent,
        input: {
          threadId: "t",
          checkpointId: "0001",
          taskId,
          taskPath,
          writes: list.map((w) => ({ ...w, value: json(w.value) })),
        },
      });
    expect((await writes("b", "~1", [{ channel: "x", idx: 0, value: 1 }])).data?.putCheckpointWrites).toBe(1);
    const second = await writes("a", "~1", [
      { channel: "x", idx: 1, value: "a1" },
      { channel: "x", idx: 0, value: "a0" },
      { channel: "__error__", idx: -1, value: "first error" },
    ]);
    expect(second.data?.putCheckpointWrites).toBe(3);
    const again = await writes("a", "~1", [
      { channel: "x", idx: 0, value: "changed" },
      { channel: "__error__", idx: -1, value: "second error" },
    ]);
    expect(again.data?.putCheckpointWrites).toBe(1);
    await writes("z", "", [{ channel: "input", idx: 0, value: "no path sorts first" }]);

    const pending = (await get(agent, { threadId: "t", id: "0001" })).data!.agent.checkpoint!.pendingWrites;
    expect(pending.map((w) => [w.taskPath, w.taskId, w.idx, (w.value as { value: unknown }).value])).toEqual([
      ["", "z", 0, "no path sorts first"],
      ["~1", "a", -1, "second error"],
      ["~1", "a", 0, "a0"],
      ["~1", "a", 1, "a1"],
      ["~1", "b", 0, 1],
    ]);
  });

  it("lists newest first across threads, filtered by thread, namespace, before and metadata, in pages", async () => {
    const agent = newAgent();
    await put(agent, input("t1", "0001", { metadata: { source: "input", step: -1, parents: {} } }));
    await put(agent, input("t1", "0003", { metadata: { source: "loop", step: 0, parents: { "": "0001" } } }));
    await put(agent, input("t2", "0002", { metadata: { source: "loop", step: 0, parents: {} } }));
    await put(agent, input("t2", "0004", { namespace: "child", metadata: { step: 0, source: "loop" } }));

    expect(await listIds(agent)).toEqual(["0004", "0003", "0002", "0001"]);
    expect(await listIds(agent, { threadId: "t1" })).toEqual(["0003", "0001"]);
    expect(await listIds(agent, { namespace: "" })).toEqual(["0003", "0002", "0001"]);
    expect(await listIds(agent, { before: "0003" })).toEqual(["0002", "0001"]);
    expect(await listIds(agent, { filter: { source: "loop" } })).toEqual(["0004", "0003", "0002"]);
    // Members match by value, whatever the order of keys in an object.
    expect(await listIds(agent, { filter: { parents: { "": "0001" }, step: 0 } })).toEqual(["0003"]);
    expect(await listIds(agent, { filter: { source: "loop", step: 1 } })).toEqual([]);
    expect(await listIds(agent, { filter: {} })).toHaveLength(4);

    const page1 = await list(agent, { first: 3 });
    expect(page1).toMatchObject({ totalCount: 4, pageInfo: { hasNextPage: true } });
    const page2 = await list(agent, { first: 3, after: page1.pageInfo.endCursor });
    expect(page2.edges.map((e) => e.node.id)).toEqual(["0001"]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });

  it("replaces a checkpoint saved again under its id", async () => {
    const agent = newAgent();
    await put(agent, input("t", "0001"));
    const again = await put(agent, input("t", "0001", { metadata: { source: "exit", step: 2 } }));
    expect(again.errors).toBeUndefined();
    expect((await get(agent, { threadId: "t", id: "0001" })).data!.agent.checkpoint!.metadata).toEqual({
      source: "exit",
      step: 2,
    });
    expect((await list(agent)).totalCount).toBe(1);
  });

  it("scopes threads by agent: an agent token reaches its own threads only, a reader cannot write", async () => {
    const mine = newAgent();
    const theirs = newAgent();
    await put(mine, input("shared-name", "0001", { metadata: { owner: "mine" } }));
    await put(theirs, input("shared-name", "0001", { metadata: { owner: "theirs" } }));
    const me = agentPrincipal(mine);
    expect((await get(mine, { threadId: "shared-name" }, me)).data!.agent.checkpoint!.metadata).toEqual({
      owner: "mine",
    });
    expect(errorCodes(await get(theirs, { threadId: "shared-name" }, me))).toEqual(["FORBIDDEN"]);
    expect(errorCodes(await put(theirs, input("t", "0002"), me))).toEqual(["FORBIDDEN"]);
    expect(
      errorCodes(await mnemo.query(DELETE_THREAD, { agentId: theirs, threadId: "shared-name" }, me)),
    ).toEqual(["FORBIDDEN"]);
    const reader = readerPrincipal(mine);
    expect((await get(mine, { threadId: "shared-name" }, reader)).data!.agent.checkpoint).not.toBeNull();
    expect(errorCodes(await put(mine, input("t", "0003"), reader))).toEqual(["FORBIDDEN"]);
    expect(await listIds(theirs)).toEqual(["0001"]);
  });

  it("refuses bad input with BAD_USER_INPUT or PAYLOAD_TOO_LARGE and writes nothing", async () => {
    const agent = newAgent();
    const refused = [
      await put(agent, input("bad\u0000thread", "0001")),
      await put(agent, input("t", "")),
      await put(agent, input("t", "0001", { metadata: ["not", "an", "object"] })),
      await put(agent, input("t", "0001", { channelVersions: { a: true } })),
      await put(agent, input("t", "0001", { checkpoint: { type: "bytes", value: { not: "base64 text" } } })),
      await put(
        agent,
        input("t", "0001", {
          channelVersions: { a: 2 },
          channelValues: [{ channel: "a", version: "1", value: json("stale") }],
        }),
      ),
    ];
    expect(refused.map(errorCodes)).toEqual(Array.from({ length: refused.length }, () => ["BAD_USER_INPUT"]));
    expect(refused[5]!.errors![0]!.message).toContain('channel "a" is at version 2');
    const tooLarge = await put(agent, input("t", "0001", { metadata: { text: "x".repeat(5000) } }));
    expect(errorCodes(tooLarge)).toEqual(["PAYLOAD_TOO_LARGE"]);
    const badWrite = await mnemo.query(PUT_WRITES, {
      agentId: agent,
      input: { threadId: "t", checkpointId: "0001", taskId: "", writes: [] },
    });
    expect(errorCodes(badWrite)).toEqual(["BAD_USER_INPUT"]);
    expect((await list(agent)).totalCount).toBe(0);
  });

  it("deleteThread removes a thread (all namespaces) and is audited; deleteAgent removes the rest", async () => {
    const agent = newAgent();
    await put(agent, input("gone", "0001"));
    await put(agent, input("gone", "0002", { namespace: "child" }));
    await put(agent, input("kept", "0003"));
    const deleted = await mnemo.query<{ deleteThread: number }>(DELETE_THREAD, {
      agentId: agent,
      threadId: "gone",
    });
    expect(deleted.data?.deleteThread).toBe(2);
    expect(await listIds(agent)).toEqual(["0003"]);

    const audit = await mnemo.query<{ auditLog: { edges: { node: { action: string; target: string } }[] } }>(
      `query Audit($agentId: ID!) { auditLog(agentId: $agentId, first: 10) { edges { node { action target } } } }`,
      { agentId: agent },
    );
    expect(audit.data!.auditLog.edges.map((e) => e.node)).toEqual([
      { action: "checkpoint.deleteThread", target: "gone" },
      { action: "checkpoint.put", target: "kept/0003" },
      { action: "checkpoint.put", target: "gone/0002" },
      { action: "checkpoint.put", target: "gone/0001" },
    ]);

    const deleteAgent = await mnemo.query<{ deleteAgent: boolean }>(
      "mutation Del($id: ID!) { deleteAgent(id: $id) }",
      { id: agent },
    );
    expect(deleteAgent.data?.deleteAgent).toBe(true);
    expect(await listIds(agent)).toEqual([]);
  });
});

describe("thread checkpoints encrypted at rest (SQLite files)", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ env: { ENCRYPTION_KEY: Buffer.alloc(32, 9).toString("base64") } });
  });
  afterAll(() => mnemo?.close());

  it("keeps checkpoint payloads, metadata, channel values and writes out of checkpoints.db in plaintext", async () => {
    const agent = newAgent();
    const secret = "the launch code is 0000-SECRET";
    const saved = await mnemo.query(PUT, {
      agentId: agent,
      input: input("t", "0001", {
        metadata: { note: secret },
        checkpoint: json({ v: 4, secret }),
        channelVersions: { c: 1 },
        channelValues: [{ channel: "c", version: "1", value: json(secret) }],
      }),
    });
    expect(saved.errors).toBeUndefined();
    const writes = await mnemo.query(PUT_WRITES, {
      agentId: agent,
      input: {
        threadId: "t",
        checkpointId: "0001",
        taskId: "task",
        writes: [{ channel: "c", idx: 0, value: json(secret) }],
      },
    });
    expect(writes.errors).toBeUndefined();
    const read = await mnemo.query<{ agent: { checkpoint: CheckpointFields } }>(GET, {
      agentId: agent,
      threadId: "t",
    });
    expect(read.data!.agent.checkpoint.metadata).toEqual({ note: secret });
    expect(read.data!.agent.checkpoint.pendingWrites[0]!.value).toEqual(json(secret));
    const files = readdirSync(mnemo.dataDir).filter((name) => name.startsWith("checkpoints.db"));
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      expect(readFileSync(path.join(mnemo.dataDir, name)).includes(Buffer.from("0000-SECRET"))).toBe(false);
    }
  });
});
