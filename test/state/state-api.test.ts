/**
 * Agent state through the gateway, with a real Redis behind the cache and pub/sub.
 */

import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { errorCodes } from "../support/graphql-client.js";
import { neo4jTestDriver, STORES } from "../support/neo4j.js";
import { ADMIN, agentPrincipal, readerPrincipal, startTestStack, useRedisStack } from "../support/stack.js";

interface StateFields {
  version: number;
  data: unknown;
  reason?: string | null;
  author?: string | null;
  hash?: string;
  previousHash?: string | null;
}

const PUT = `mutation Put($agentId: ID!, $data: JSON!, $expectedVersion: Int, $reason: String) {
  putState(agentId: $agentId, data: $data, expectedVersion: $expectedVersion, reason: $reason) {
    version data reason author hash previousHash
  }
}`;
const PATCH = `mutation Patch($agentId: ID!, $patch: JSON!, $format: PatchFormat, $expectedVersion: Int) {
  patchState(agentId: $agentId, patch: $patch, format: $format, expectedVersion: $expectedVersion) { version data }
}`;
const CURRENT = `query Current($id: ID!) { agent(id: $id) { state { version data } } }`;

let agentCounter = 0;
const newAgent = (prefix = "st") => `${prefix}-${agentCounter++}`;

describe.each(STORES)("agent state through the gateway (%s)", (store) => {
  const env = useRedisStack({ store, env: { STATE_MAX_BYTES: "2048" } });

  const put = (agentId: string, data: unknown, extra: Record<string, unknown> = {}, as = ADMIN) =>
    env.mnemo.query<{ putState: StateFields }>(PUT, { agentId, data, ...extra }, as);
  const current = async (agentId: string) =>
    (await env.mnemo.query<{ agent: { state: StateFields | null } }>(CURRENT, { id: agentId })).data?.agent
      .state ?? null;

  it("creates version 1 on first write and numbers every later write", async () => {
    const agent = newAgent();
    expect(await current(agent)).toBeNull();
    const first = await put(agent, { step: 1 }, { reason: "start" });
    expect(first.errors).toBeUndefined();
    expect(first.data?.putState).toMatchObject({
      version: 1,
      data: { step: 1 },
      reason: "start",
      author: "test-admin",
    });
    expect(first.data?.putState.previousHash).toBeNull();
    const second = await put(agent, { step: 2 });
    expect(second.data?.putState.version).toBe(2);
    expect(second.data?.putState.previousHash).toBe(first.data?.putState.hash);
    expect(await current(agent)).toEqual({ version: 2, data: { step: 2 } });
  });

  it("refuses a stale expectedVersion with VERSION_CONFLICT and the current version, writing nothing", async () => {
    const agent = newAgent();
    await put(agent, { v: 1 }, { expectedVersion: 0 });
    await put(agent, { v: 2 }, { expectedVersion: 1 });
    const stale = await put(agent, { v: "lost" }, { expectedVersion: 1 });
    expect(errorCodes(stale)).toEqual(["VERSION_CONFLICT"]);
    expect(stale.errors?.[0]?.extensions?.currentVersion).toBe(2);
    expect(stale.errors?.[0]?.message).toContain("version 2, not 1");
    expect(await current(agent)).toEqual({ version: 2, data: { v: 2 } });
    const fresh = await put(newAgent(), { v: 1 }, { expectedVersion: 3 });
    expect(errorCodes(fresh)).toEqual(["VERSION_CONFLICT"]);
    expect(fresh.errors?.[0]?.extensions?.currentVersion).toBe(0);
  });

  it("loses nothing with 50 concurrent writers and no expectedVersion", async () => {
    const agent = newAgent("concurrent");
    const writes = await Promise.all(Array.from({ length: 50 }, (_, i) => put(agent, { writer: i })));
    expect(writes.flatMap((w) => w.errors ?? [])).toEqual([]);
    expect(writes.map((w) => w.data!.putState.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const history = await env.mnemo.query<{
      agent: {
        state: { version: number };
        history: { totalCount: number; edges: { node: { data: { writer: number } } }[] };
      };
    }>(
      `{ agent(id: "${agent}") { state { version } history(first: 100) { totalCount edges { node { data } } } } }`,
    );
    expect(history.data?.agent.state.version).toBe(50);
    expect(history.data?.agent.history.totalCount).toBe(50);
    const writers = new Set(history.data?.agent.history.edges.map((e) => e.node.data.writer));
    expect(writers.size).toBe(50);
  });

  it("lets exactly one of many concurrent compare-and-set writers win", async () => {
    const agent = newAgent("cas");
    await put(agent, { v: 1 });
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => put(agent, { by: i }, { expectedVersion: 1 })),
    );
    const winners = attempts.filter((a) => !a.errors);
    expect(winners).toHaveLength(1);
    expect(attempts.filter((a) => errorCodes(a)[0] === "VERSION_CONFLICT")).toHaveLength(9);
    expect((await current(agent))?.version).toBe(2);
  });

  it("applies JSON Merge Patch and JSON Patch, and refuses invalid patches without writing", async () => {
    const agent = newAgent("patch");
    await put(agent, { a: 1, b: { c: 2, d: 3 }, list: [1, 2] });
    const merged = await env.mnemo.query<{ patchState: StateFields }>(PATCH, {
      agentId: agent,
      patch: { a: null, b: { c: 20 }, e: "new" },
    });
    expect(merged.errors).toBeUndefined();
    expect(merged.data?.patchState).toEqual({
      version: 2,
      data: { b: { c: 20, d: 3 }, list: [1, 2], e: "new" },
    });

    const jsonPatch = await env.mnemo.query<{ patchState: StateFields }>(PATCH, {
      agentId: agent,
      format: "JSON_PATCH",
      patch: [
        { op: "test", path: "/e", value: "new" },
        { op: "add", path: "/list/-", value: 3 },
        { op: "remove", path: "/b/d" },
      ],
    });
    expect(jsonPatch.errors).toBeUndefined();
    expect(jsonPatch.data?.patchState).toEqual({
      version: 3,
      data: { b: { c: 20 }, list: [1, 2, 3], e: "new" },
    });

    const invalid = [
      { format: "JSON_PATCH", patch: [{ op: "remove", path: "/missing" }] },
      { format: "JSON_PATCH", patch: [{ op: "test", path: "/e", value: "old" }] },
      { format: "JSON_PATCH", patch: [{ op: "jump", path: "/a" }] },
      { format: "JSON_PATCH", patch: { op: "add" } },
      { format: "MERGE_PATCH", patch: [1, 2] },
      { format: "JSON_PATCH", patch: [{ op: "add", path: "/__proto__/polluted", value: true }] },
    ];
    for (const attempt of invalid) {
      const response = await env.mnemo.query(PATCH, { agentId: agent, ...attempt });
      expect(errorCodes(response), JSON.stringify(attempt)).toEqual(["BAD_USER_INPUT"]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await current(agent))?.version).toBe(3);

    const withCas = await env.mnemo.query(PATCH, { agentId: agent, patch: { z: 1 }, expectedVersion: 2 });
    expect(errorCodes(withCas)).toEqual(["VERSION_CONFLICT"]);
  });

  it("rolls back by writing a new version with the old data, keeping history linear", async () => {
    const agent = newAgent("rollback");
    await put(agent, { plan: "A" });
    await put(agent, { plan: "B" });
    const rolled = await env.mnemo.query<{ rollbackState: StateFields }>(
      `mutation { rollbackState(agentId: "${agent}", toVersion: 1) { version data reason } }`,
    );
    expect(rolled.data?.rollbackState).toEqual({
      version: 3,
      data: { plan: "A" },
      reason: "rollback to version 1",
    });
    const missing = await env.mnemo.query(
      `mutation { rollbackState(agentId: "${agent}", toVersion: 9) { version } }`,
    );
    expect(errorCodes(missing)).toEqual(["NOT_FOUND"]);
    const zero = await env.mnemo.query(
      `mutation { rollbackState(agentId: "${agent}", toVersion: 0) { version } }`,
    );
    expect(errorCodes(zero)).toEqual(["BAD_USER_INPUT"]);
    expect((await current(agent))?.version).toBe(3);
  });

  it("pages history newest first with cursors, and shows each version's diff", async () => {
    const agent = newAgent("history");
    for (let i = 1; i <= 5; i++) await put(agent, { count: i, fixed: true });
    const page = async (after?: string) =>
      (
        await env.mnemo.query<{
          agent: {
            history: {
              totalCount: number;
              pageInfo: { hasNextPage: boolean; endCursor: string | null };
              edges: { cursor: string; node: { version: number; diff: unknown } }[];
            };
          };
        }>(
          `query H($after: String) { agent(id: "${agent}") { history(first: 2, after: $after) {
              totalCount pageInfo { hasNextPage endCursor } edges { cursor node { version diff } } } } }`,
          { after },
        )
      ).data!.agent.history;
    const first = await page();
    expect(first.totalCount).toBe(5);
    expect(first.edges.map((e) => e.node.version)).toEqual([5, 4]);
    expect(first.edges[0]!.node.diff).toEqual([{ op: "replace", path: "/count", value: 5 }]);
    const second = await page(first.pageInfo.endCursor!);
    expect(second.edges.map((e) => e.node.version)).toEqual([3, 2]);
    const third = await page(second.pageInfo.endCursor!);
    expect(third.edges.map((e) => e.node.version)).toEqual([1]);
    expect(third.pageInfo.hasNextPage).toBe(false);
    expect(third.edges[0]!.node.diff).toEqual([{ op: "add", path: "", value: { count: 1, fixed: true } }]);

    const at = await env.mnemo.query<{ agent: { stateAt: StateFields | null; missing: StateFields | null } }>(
      `{ agent(id: "${agent}") { stateAt(version: 2) { version data } missing: stateAt(version: 99) { version } } }`,
    );
    expect(at.data?.agent).toEqual({
      stateAt: { version: 2, data: { count: 2, fixed: true } },
      missing: null,
    });
    const badCursor = await env.mnemo.query(
      `{ agent(id: "${agent}") { history(after: "nonsense") { totalCount } } }`,
    );
    expect(errorCodes(badCursor)).toEqual(["BAD_USER_INPUT"]);
    const tooMany = await env.mnemo.query(`{ agent(id: "${agent}") { history(first: 101) { totalCount } } }`);
    expect(errorCodes(tooMany)).toEqual(["BAD_USER_INPUT"]);
    const badVersion = await env.mnemo.query(
      `{ agent(id: "${agent}") { stateAt(version: -1) { version } } }`,
    );
    expect(errorCodes(badVersion)).toEqual(["BAD_USER_INPUT"]);
  });

  it("detects a version altered behind the API", async () => {
    const agent = newAgent("tamper");
    for (let i = 1; i <= 4; i++) await put(agent, { balance: i * 100 });
    const verify = async () =>
      (
        await env.mnemo.query<{
          verifyHistory: { valid: boolean; checkedVersions: number; firstBrokenVersion: number | null };
        }>(`{ verifyHistory(agentId: "${agent}") { valid checkedVersions firstBrokenVersion } }`)
      ).data!.verifyHistory;
    expect(await verify()).toEqual({ valid: true, checkedVersions: 4, firstBrokenVersion: null });

    // Behind the API: straight into the store's own files or database.
    if (store === "sqlite") {
      const db = new Database(path.join(env.mnemo.dataDir, "state.db"));
      db.prepare("UPDATE state_versions SET data = ? WHERE agent_id = ? AND version = 2").run(
        '{"balance":1000000}',
        agent,
      );
      db.close();
    } else {
      const { driver, database } = await neo4jTestDriver();
      await driver.executeQuery(
        "MATCH (v:StateVersion {agentId: $agent, version: 2}) SET v.data = $data",
        { agent, data: '{"balance":1000000}' },
        { database },
      );
      await driver.close();
    }
    expect(await verify()).toEqual({ valid: false, checkedVersions: 4, firstBrokenVersion: 2 });
  });

  it("prunes history on demand and keeps the chain verifiable", async () => {
    const agent = newAgent("prune");
    for (let i = 1; i <= 6; i++) await put(agent, { i });
    const cachedOld = await env.mnemo.query<{ agent: { stateAt: StateFields | null } }>(
      `{ agent(id: "${agent}") { stateAt(version: 2) { version } } }`,
    );
    expect(cachedOld.data?.agent.stateAt?.version).toBe(2);
    const pruned = await env.mnemo.query<{ pruneHistory: number }>(
      `mutation { pruneHistory(agentId: "${agent}", keepLast: 2) }`,
    );
    expect(pruned.data?.pruneHistory).toBe(4);
    const after = await env.mnemo.query<{
      agent: { history: { totalCount: number }; stateAt: StateFields | null };
      verifyHistory: { valid: boolean; checkedVersions: number };
    }>(`{ agent(id: "${agent}") { history { totalCount } stateAt(version: 2) { version } }
          verifyHistory(agentId: "${agent}") { valid checkedVersions } }`);
    expect(after.data).toEqual({
      agent: { history: { totalCount: 2 }, stateAt: null },
      verifyHistory: { valid: true, checkedVersions: 2 },
    });
    const zero = await env.mnemo.query(`mutation { pruneHistory(agentId: "${agent}", keepLast: 0) }`);
    expect(errorCodes(zero)).toEqual(["BAD_USER_INPUT"]);
  });

  it("enforces the size limit, depth limit and agent id rules", async () => {
    const big = await put(newAgent("size"), { blob: "x".repeat(3000) });
    expect(errorCodes(big)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(big.errors?.[0]?.message).toContain("STATE_MAX_BYTES");
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(errorCodes(await put(newAgent("deep"), deep))).toEqual(["BAD_USER_INPUT"]);

    for (const id of ["", "has space", "x".repeat(129), "semi;colon", "ünï", "a{b}"]) {
      const response = await put(id, { ok: true });
      expect(errorCodes(response), JSON.stringify(id)).toEqual(["BAD_USER_INPUT"]);
    }
    expect((await put("x".repeat(128), { ok: true })).errors).toBeUndefined();
    expect((await put("Agent_1.v2:main-x", { ok: true })).errors).toBeUndefined();
    const badId = await env.mnemo.query(`{ agent(id: "no way") { id } }`);
    expect(errorCodes(badId)).toEqual(["BAD_USER_INPUT"]);
  });

  it("refuses other agents and read-only principals, lets admins do all", async () => {
    const mine = newAgent("mine");
    const theirs = newAgent("theirs");
    await put(theirs, { secret: true });
    const me = agentPrincipal(mine);
    expect((await put(mine, { ok: 1 }, {}, me)).errors).toBeUndefined();
    expect(errorCodes(await put(theirs, { stolen: true }, {}, me))).toEqual(["FORBIDDEN"]);
    const peek = await env.mnemo.query(`{ agent(id: "${theirs}") { state { data } } }`, {}, me);
    expect(errorCodes(peek)).toEqual(["FORBIDDEN"]);
    expect(errorCodes(await env.mnemo.query(`mutation { deleteAgent(id: "${theirs}") }`, {}, me))).toEqual([
      "FORBIDDEN",
    ]);

    const reader = readerPrincipal(mine);
    const read = await env.mnemo.query<{ agent: { state: StateFields } }>(CURRENT, { id: mine }, reader);
    expect(read.data?.agent.state.data).toEqual({ ok: 1 });
    expect(errorCodes(await put(mine, { ok: 2 }, {}, reader))).toEqual(["FORBIDDEN"]);

    const listed = await env.mnemo.query<{
      agents: { totalCount: number; edges: { node: { id: string } }[] };
    }>(`{ agents(first: 100) { totalCount edges { node { id } } } }`, {}, me);
    expect(listed.data?.agents.edges.map((e) => e.node.id)).toEqual([mine]);
    expect((await current(theirs))?.data).toEqual({ secret: true });
  });

  it("reads its own write immediately, every time, with the Redis cache on", async () => {
    const agent = newAgent("ryw");
    for (let i = 1; i <= 30; i++) {
      await put(agent, { i });
      expect(await current(agent)).toEqual({ version: i, data: { i } });
    }
  });

  it("lists agents with state or memories, and deleteAgent removes state and history", async () => {
    const withState = newAgent("list-state");
    const withMemory = newAgent("list-memory");
    await put(withState, { a: 1 });
    await env.mnemo.query(
      `mutation { remember(agentId: "${withMemory}", input: { content: "only memories" }) { outcome } }`,
    );
    const ids = async () =>
      (
        await env.mnemo.query<{ agents: { edges: { node: { id: string } }[] } }>(
          `{ agents(first: 100) { edges { node { id } } } }`,
        )
      ).data!.agents.edges.map((e) => e.node.id);
    expect(await ids()).toEqual(expect.arrayContaining([withState, withMemory]));

    const deleted = await env.mnemo.query<{ deleteAgent: boolean }>(
      `mutation { deleteAgent(id: "${withState}") }`,
    );
    expect(deleted.data?.deleteAgent).toBe(true);
    const after = await env.mnemo.query<{ agent: { state: null; history: { totalCount: number } } }>(
      `{ agent(id: "${withState}") { state { version } history { totalCount } } }`,
    );
    expect(after.data?.agent).toEqual({ state: null, history: { totalCount: 0 } });
    expect(await ids()).not.toContain(withState);
    expect(
      (await env.mnemo.query<{ deleteAgent: boolean }>(`mutation { deleteAgent(id: "${withState}") }`)).data
        ?.deleteAgent,
    ).toBe(false);
    const again = await put(withState, { fresh: true });
    expect(again.data?.putState).toMatchObject({ version: 1, previousHash: null });
  });
});

describe.each(STORES)("state durability (%s)", (store) => {
  it("survives a restart of the whole stack", async () => {
    const first = await startTestStack({ store });
    await first.query(PUT, { agentId: "durable", data: { kept: true } });
    await first.query(PUT, { agentId: "durable", data: { kept: "still" } });
    await first.close({ keepData: true });

    const second = await startTestStack({ store, dataDir: first.dataDir });
    try {
      const read = await second.query<{ agent: { state: StateFields; history: { totalCount: number } } }>(
        `{ agent(id: "durable") { state { version data } history { totalCount } } }`,
      );
      expect(read.data?.agent).toEqual({
        state: { version: 2, data: { kept: "still" } },
        history: { totalCount: 2 },
      });
    } finally {
      await second.close();
    }
  });

  it("prunes on write when STATE_HISTORY_LIMIT is set", async () => {
    const mnemo = await startTestStack({ store, env: { STATE_HISTORY_LIMIT: "3" } });
    try {
      for (let i = 1; i <= 7; i++) await mnemo.query(PUT, { agentId: "limited", data: { i } });
      const read = await mnemo.query<{
        agent: { history: { totalCount: number; edges: { node: { version: number } }[] } };
        verifyHistory: { valid: boolean };
      }>(`{ agent(id: "limited") { history { totalCount edges { node { version } } } }
            verifyHistory(agentId: "limited") { valid } }`);
      expect(read.data?.agent.history.edges.map((e) => e.node.version)).toEqual([7, 6, 5]);
      expect(read.data?.verifyHistory.valid).toBe(true);
    } finally {
      await mnemo.close();
    }
  });
});
