/**
 * The StateStore contract: one suite, run against every adapter (SQLite always, Neo4j when
 * NEO4J_URI is set). It speaks only the port, so an adapter passes or fails on behaviour.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type {
  CheckpointQuery,
  CheckpointRef,
  CheckpointStore,
  IndexedCheckpoint,
} from "../../subgraphs/state/domain/checkpoint-port.js";
import { sortKeyOf } from "../../subgraphs/state/domain/checkpoints.js";
import { hashVersion } from "../../subgraphs/state/domain/hash-chain.js";
import type { JsonValue } from "../../subgraphs/state/domain/json.js";
import {
  type AppendRequest,
  type StateStore,
  type StateVersionRecord,
  VersionConflictError,
} from "../../subgraphs/state/domain/store-port.js";

export interface StoreHarness {
  store: StateStore;
  close(): Promise<void>;
}

let agentCounter = 0;
/** A fresh agent id per test, so adapters backed by a shared database need no cleanup. */
export const freshAgent = () => `contract-${process.pid}-${Date.now()}-${agentCounter++}`;

export function appendRequest(
  agentId: string,
  data: JsonValue,
  options: Partial<Pick<AppendRequest, "expectedVersion" | "historyLimit">> = {},
): AppendRequest {
  return {
    agentId,
    expectedVersion: options.expectedVersion,
    historyLimit: options.historyLimit ?? 0,
    build: () => ({ data, author: "contract", reason: null }),
    seal: (input, version, previousHash) => {
      const fields = { ...input, version, createdAt: new Date().toISOString() };
      return { ...fields, agentId, hash: hashVersion(fields, previousHash), previousHash };
    },
  };
}

async function collect(iterable: AsyncIterable<StateVersionRecord[]>): Promise<StateVersionRecord[][]> {
  const chunks: StateVersionRecord[][] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

export function describeStateStoreContract(adapter: string, open: () => Promise<StoreHarness>): void {
  describe(`StateStore contract: ${adapter}`, () => {
    let harness: StoreHarness;
    let store: StateStore;
    let agent: string;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
      agent = freshAgent();
      return () => harness.close();
    });

    it("numbers versions from 1, links hashes, and grows the revision", async () => {
      const first = await store.append(appendRequest(agent, { n: 1 }));
      const second = await store.append(appendRequest(agent, { n: 2 }));
      expect(first.record).toMatchObject({
        agentId: agent,
        version: 1,
        data: { n: 1 },
        previousHash: null,
      });
      expect(second.record).toMatchObject({ version: 2, data: { n: 2 }, previousHash: first.record.hash });
      expect(second.revision).toBeGreaterThan(first.revision);
      const [current] = await store.currentStates([agent]);
      expect(current).toEqual({ revision: second.revision, value: second.record });
    });

    it("compare-and-set: a stale expectedVersion fails with the current version and writes nothing", async () => {
      await store.append(appendRequest(agent, { n: 1 }, { expectedVersion: 0 }));
      await store.append(appendRequest(agent, { n: 2 }, { expectedVersion: 1 }));
      const conflict = await store
        .append(appendRequest(agent, { n: 3 }, { expectedVersion: 1 }))
        .catch((e) => e);
      expect(conflict).toBeInstanceOf(VersionConflictError);
      expect(conflict).toMatchObject({ currentVersion: 2, expectedVersion: 1 });
      const [current] = await store.currentStates([agent]);
      expect(current?.value?.version).toBe(2);
      expect((await store.history(agent, 10)).totalCount).toBe(2);
    });

    it("writes nothing when building the new version throws", async () => {
      await store.append(appendRequest(agent, { n: 1 }));
      const failing: AppendRequest = {
        ...appendRequest(agent, {}),
        build: () => {
          throw new Error("invalid patch");
        },
      };
      await expect(store.append(failing)).rejects.toThrow("invalid patch");
      expect((await store.history(agent, 10)).totalCount).toBe(1);
    });

    it("serialises concurrent writers of one agent: 50 writes, versions 1..50, none lost", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.append(appendRequest(agent, { writer: i }))),
      );
      expect(results.map((r) => r.record.version).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      const chunks = await collect(store.scanVersions(agent, 7));
      const versions = chunks.flat();
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(versions.map((v) => (v.data as { writer: number }).writer)).size).toBe(50);
      expect(chunks[0]).toHaveLength(7);
    });

    it("reads current states and specific versions in batches, in request order", async () => {
      const other = freshAgent();
      await store.append(appendRequest(agent, { n: 1 }));
      await store.append(appendRequest(agent, { n: 2 }));
      await store.append(appendRequest(other, { m: 1 }));
      const current = await store.currentStates([other, "nobody-here", agent]);
      expect(current.map((c) => c.value?.data ?? null)).toEqual([{ m: 1 }, null, { n: 2 }]);
      expect(current[1]).toEqual({ revision: 0, value: null });
      const versions = await store.versions([
        { agentId: agent, version: 1 },
        { agentId: agent, version: 9 },
        { agentId: other, version: 1 },
      ]);
      expect(versions.map((v) => v.value?.data ?? null)).toEqual([{ n: 1 }, null, { m: 1 }]);
      expect(versions[0]!.revision).toBe(current[2]!.revision);
    });

    it("pages history newest first", async () => {
      for (let i = 1; i <= 5; i++) await store.append(appendRequest(agent, { i }));
      const page1 = await store.history(agent, 2);
      expect(page1.records.map((r) => r.version)).toEqual([5, 4]);
      expect(page1).toMatchObject({ hasNextPage: true, totalCount: 5 });
      const page3 = await store.history(agent, 2, 2);
      expect(page3.records.map((r) => r.version)).toEqual([1]);
      expect(page3.hasNextPage).toBe(false);
    });

    it("prunes on write with a history limit, and on demand", async () => {
      for (let i = 1; i <= 5; i++) await store.append(appendRequest(agent, { i }, { historyLimit: 3 }));
      expect((await collect(store.scanVersions(agent, 100))).flat().map((v) => v.version)).toEqual([3, 4, 5]);
      const before = (await store.currentStates([agent]))[0]!.revision;
      const pruned = await store.prune(agent, 1);
      expect(pruned.removed).toBe(2);
      expect(pruned.revision).toBeGreaterThan(before);
      expect((await store.history(agent, 10)).records.map((r) => r.version)).toEqual([5]);
      expect((await store.prune(agent, 1)).removed).toBe(0);
    });

    it("deletes an agent's state and history; numbering restarts while the revision keeps growing", async () => {
      await store.append(appendRequest(agent, { n: 1 }));
      const last = await store.append(appendRequest(agent, { n: 2 }));
      const deleted = await store.deleteAgent(agent);
      expect(deleted.deleted).toBe(true);
      expect(deleted.revision).toBeGreaterThan(last.revision);
      expect(await store.currentStates([agent])).toEqual([{ revision: deleted.revision, value: null }]);
      expect((await store.history(agent, 10)).totalCount).toBe(0);
      expect((await store.deleteAgent(agent)).deleted).toBe(false);
      expect((await store.deleteAgent(freshAgent())).deleted).toBe(false);
      const reborn = await store.append(appendRequest(agent, { n: 3 }));
      expect(reborn.record.version).toBe(1);
      expect(reborn.record.previousHash).toBeNull();
      expect(reborn.revision).toBeGreaterThan(deleted.revision);
    });

    it("round-trips JSON exactly (unicode, nesting, numbers, arrays at the top)", async () => {
      const data = { text: 'héllo 👋 \u0000 "q"', deep: { a: [1, 2.5, -3e-7, null, true] }, empty: {} };
      await store.append(appendRequest(agent, data));
      await store.append(appendRequest(agent, [1, "two", { three: 3 }]));
      const versions = (await collect(store.scanVersions(agent, 10))).flat();
      expect(versions[0]!.data).toEqual(data);
      expect(versions[1]!.data).toEqual([1, "two", { three: 3 }]);
      expect(hashVersion(versions[0]!, versions[0]!.previousHash)).toBe(versions[0]!.hash);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The CheckpointStore contract (thread checkpoints of the state subgraph: LangGraph persistence).
// ---------------------------------------------------------------------------------------------

export interface CheckpointStoreHarness {
  store: CheckpointStore;
  close(): Promise<void>;
}

/** A checkpoint as the domain hands it to a store: sort key from the domain's rule, keys as given. */
export function checkpointRecord(
  ref: CheckpointRef,
  options: Partial<Pick<IndexedCheckpoint, "parentId" | "metadata" | "metadataKeys" | "channelVersions">> & {
    payload?: unknown;
  } = {},
): IndexedCheckpoint {
  return {
    ...ref,
    parentId: options.parentId ?? null,
    checkpoint: { type: "json", value: options.payload ?? { v: 4, id: ref.checkpointId } },
    metadata: options.metadata ?? { source: "loop" },
    channelVersions: options.channelVersions ?? {},
    createdAt: new Date().toISOString(),
    author: "contract",
    sortKey: sortKeyOf(ref),
    metadataKeys: options.metadataKeys ?? [],
  };
}

const json = (value: unknown) => ({ type: "json", value });
const write = (taskId: string, idx: number, channel: string, value: unknown, taskPath = "") => ({
  taskId,
  idx,
  channel,
  taskPath,
  value: json(value),
});

export function describeCheckpointStoreContract(
  adapter: string,
  open: () => Promise<CheckpointStoreHarness>,
): void {
  describe(`CheckpointStore contract: ${adapter}`, () => {
    let harness: CheckpointStoreHarness;
    let store: CheckpointStore;
    let agent: string;
    const ref = (threadId: string, checkpointId: string, namespace = ""): CheckpointRef => ({
      agentId: agent,
      threadId,
      namespace,
      checkpointId,
    });
    const ids = (page: { records: { checkpointId: string }[] }) => page.records.map((r) => r.checkpointId);

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
      agent = freshAgent();
      return () => harness.close();
    });

    it("stores a checkpoint and reads it back by id, or the thread's latest (highest id) per namespace", async () => {
      const first = checkpointRecord(ref("t", "c1"), { channelVersions: { a: 1, b: "0002.x" } });
      await store.putCheckpoint(first, []);
      await store.putCheckpoint(checkpointRecord(ref("t", "c2"), { parentId: "c1" }), []);
      await store.putCheckpoint(checkpointRecord(ref("t", "c0", "child")), []);
      const { sortKey: _s, metadataKeys: _k, ...stored } = first;
      expect(await store.getCheckpoint({ agentId: agent, threadId: "t", namespace: "" }, "c1")).toEqual(
        stored,
      );
      expect(await store.getCheckpoint({ agentId: agent, threadId: "t", namespace: "" }, null)).toMatchObject(
        {
          checkpointId: "c2",
          parentId: "c1",
        },
      );
      expect(
        (await store.getCheckpoint({ agentId: agent, threadId: "t", namespace: "child" }, null))
          ?.checkpointId,
      ).toBe("c0");
      expect(await store.getCheckpoint({ agentId: agent, threadId: "t", namespace: "" }, "nope")).toBeNull();
      expect(
        await store.getCheckpoint({ agentId: agent, threadId: "other", namespace: "" }, null),
      ).toBeNull();
      // Another agent's thread of the same name is another thread.
      const other = freshAgent();
      expect(await store.getCheckpoint({ agentId: other, threadId: "t", namespace: "" }, null)).toBeNull();
    });

    it("replaces a checkpoint saved again under its id, but keeps a channel value already stored at a version", async () => {
      const at = ref("t", "c1");
      await store.putCheckpoint(checkpointRecord(at, { payload: { n: 1 }, channelVersions: { a: 1 } }), [
        { channel: "a", version: "1", value: json("first") },
      ]);
      await store.putCheckpoint(
        checkpointRecord(at, { payload: { n: 2 }, metadata: { step: 2 }, channelVersions: { a: 1, b: 1 } }),
        [
          { channel: "a", version: "1", value: json("second") },
          { channel: "b", version: "1", value: json("b1") },
        ],
      );
      const stored = await store.getCheckpoint(at, "c1");
      expect(stored).toMatchObject({ checkpoint: json({ n: 2 }), metadata: { step: 2 } });
      const thread = { agentId: agent, threadId: "t", namespace: "" };
      const values = await store.channelValues([
        { ...thread, channel: "b", version: "1" },
        { ...thread, channel: "a", version: "9" },
        { ...thread, channel: "a", version: "1" },
      ]);
      expect(values).toEqual([
        { channel: "b", version: "1", value: json("b1") },
        null,
        { channel: "a", version: "1", value: json("first") },
      ]);
      expect((await store.listCheckpoints({ agentId: agent, metadataKeys: [], first: 10 })).totalCount).toBe(
        1,
      );
    });

    it("keeps the first regular write of a (task, idx) and lets a special write replace", async () => {
      const at = ref("t", "c1");
      await store.putCheckpoint(checkpointRecord(at), []);
      expect(
        await store.putWrites(at, {
          keepFirst: [write("task", 0, "animals", "dog"), write("task", 1, "animals", "cat")],
          replace: [write("task", -1, "__error__", "boom")],
        }),
      ).toBe(3);
      expect(
        await store.putWrites(at, {
          keepFirst: [write("task", 0, "animals", "fish"), write("other", 0, "animals", "owl", "~1")],
          replace: [write("task", -1, "__error__", "second boom")],
        }),
      ).toBe(2);
      const [writes, none] = await store.writes([at, ref("t", "c2")]);
      const byKey = (w: { taskId: string; idx: number }) => `${w.taskId}:${w.idx}`;
      expect(writes!.sort((a, b) => byKey(a).localeCompare(byKey(b)))).toEqual([
        write("other", 0, "animals", "owl", "~1"),
        write("task", -1, "__error__", "second boom"),
        write("task", 0, "animals", "dog"),
        write("task", 1, "animals", "cat"),
      ]);
      expect(none).toEqual([]);
    });

    it("lists newest first across threads, with thread, namespace, before and metadata filters and pages", async () => {
      await store.putCheckpoint(checkpointRecord(ref("t1", "c1"), { metadataKeys: ["src=input"] }), []);
      await store.putCheckpoint(
        checkpointRecord(ref("t1", "c3"), { metadataKeys: ["src=loop", "step=1"] }),
        [],
      );
      await store.putCheckpoint(checkpointRecord(ref("t2", "c2"), { metadataKeys: ["src=loop"] }), []);
      await store.putCheckpoint(
        checkpointRecord(ref("t2", "c4", "child"), { metadataKeys: ["src=loop"] }),
        [],
      );
      await store.putCheckpoint(checkpointRecord({ ...ref("t1", "c9"), agentId: freshAgent() }), []);
      const list = (query: Partial<CheckpointQuery>) =>
        store.listCheckpoints({ agentId: agent, metadataKeys: [], first: 10, ...query });

      const all = await list({});
      expect(ids(all)).toEqual(["c4", "c3", "c2", "c1"]);
      expect(all).toMatchObject({ totalCount: 4, hasNextPage: false });
      expect(ids(await list({ threadId: "t1" }))).toEqual(["c3", "c1"]);
      expect(ids(await list({ namespace: "" }))).toEqual(["c3", "c2", "c1"]);
      expect(ids(await list({ threadId: "t2", namespace: "child" }))).toEqual(["c4"]);
      expect(ids(await list({ beforeId: "c3" }))).toEqual(["c2", "c1"]);
      expect(ids(await list({ metadataKeys: ["src=loop"] }))).toEqual(["c4", "c3", "c2"]);
      expect(ids(await list({ metadataKeys: ["src=loop", "step=1"] }))).toEqual(["c3"]);
      expect(ids(await list({ metadataKeys: ["src=none"] }))).toEqual([]);

      const page1 = await list({ first: 2 });
      expect(ids(page1)).toEqual(["c4", "c3"]);
      expect(page1).toMatchObject({ hasNextPage: true, totalCount: 4 });
      const page2 = await list({ first: 2, afterSortKey: page1.records.at(-1)!.sortKey });
      expect(ids(page2)).toEqual(["c2", "c1"]);
      expect(page2.hasNextPage).toBe(false);
    });

    it("deletes one thread (every namespace, its channel values and writes) and leaves the rest", async () => {
      const kept = ref("keep", "c1");
      for (const at of [ref("gone", "c1"), ref("gone", "c2", "child"), kept]) {
        await store.putCheckpoint(checkpointRecord(at, { channelVersions: { a: 1 } }), [
          { channel: "a", version: "1", value: json(at.threadId) },
        ]);
        await store.putWrites(at, { keepFirst: [write("task", 0, "a", 1)], replace: [] });
      }
      expect(await store.deleteThread(agent, "gone")).toBe(2);
      expect(await store.deleteThread(agent, "gone")).toBe(0);
      expect(ids(await store.listCheckpoints({ agentId: agent, metadataKeys: [], first: 10 }))).toEqual([
        "c1",
      ]);
      const thread = (threadId: string) => ({
        agentId: agent,
        threadId,
        namespace: "",
        channel: "a",
        version: "1",
      });
      expect(await store.channelValues([thread("gone"), thread("keep")])).toEqual([
        null,
        { channel: "a", version: "1", value: json("keep") },
      ]);
      expect((await store.writes([ref("gone", "c1"), kept])).map((w) => w.length)).toEqual([0, 1]);
      expect(await store.deleteAgent(agent)).toBe(1);
      expect(await store.getCheckpoint(kept, null)).toBeNull();
      expect((await store.writes([kept]))[0]).toEqual([]);
    });

    it("round-trips serialized values exactly (unicode, nesting, base64 text)", async () => {
      const at = ref("t-ü 👋", "c1", "parent:1|child:2");
      const payload = { text: 'héllo 👋 "q"', deep: { a: [1, 2.5, -3e-7, null, true] }, empty: {} };
      await store.putCheckpoint({ ...checkpointRecord(at, { payload, channelVersions: { blob: 1 } }) }, [
        { channel: "blob", version: "1", value: { type: "bytes", value: "AAEC/w==" } },
      ]);
      await store.putWrites(at, { keepFirst: [write("t", 0, "c", payload, "~a|b")], replace: [] });
      expect((await store.getCheckpoint(at, "c1"))?.checkpoint).toEqual(json(payload));
      expect((await store.channelValues([{ ...at, channel: "blob", version: "1" }]))[0]?.value).toEqual({
        type: "bytes",
        value: "AAEC/w==",
      });
      expect((await store.writes([at]))[0]).toEqual([write("t", 0, "c", payload, "~a|b")]);
    });
  });
}
