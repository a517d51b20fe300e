/**
 * The StateStore contract: one suite, run against every adapter (SQLite always, Neo4j when
 * NEO4J_URI is set). It speaks only the port, so an adapter passes or fails on behaviour.
 */
import { beforeEach, describe, expect, it } from "vitest";
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
