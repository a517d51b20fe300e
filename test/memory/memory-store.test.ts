import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createEncryptor, plaintextStorage } from "../../core/crypto/encryption.js";
import { cosineSimilarity } from "../../subgraphs/memory/domain/scoring.js";
import {
  DimensionMismatchError,
  EmbeddingModelMismatchError,
} from "../../subgraphs/memory/domain/store-port.js";
import { createNeo4jMemoryStore } from "../../subgraphs/memory/store/neo4j.js";
import { createSqliteMemoryStore } from "../../subgraphs/memory/store/sqlite.js";
import { APPROXIMATE_FROM } from "../../subgraphs/memory/store/sqlite-vector-index.js";
import {
  axisVector,
  CONTRACT_DIMENSIONS,
  describeMemoryStoreContract,
  freshAgent,
} from "../contract/memory-store.contract.js";
import { batch, item, write } from "../support/memory-writes.js";
import { neo4jTestDriver } from "../support/neo4j.js";

describeMemoryStoreContract("sqlite", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-store-"));
  const store = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS);
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeMemoryStoreContract("sqlite, encrypted at rest", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-store-enc-"));
  const store = createSqliteMemoryStore(
    dir,
    CONTRACT_DIMENSIONS,
    createEncryptor([{ id: "t", key: randomBytes(32) }]),
  );
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeMemoryStoreContract("neo4j", async () => {
  const { driver, database } = await neo4jTestDriver();
  const store = await createNeo4jMemoryStore(driver, database, CONTRACT_DIMENSIONS);
  return { store, close: () => driver.close() };
});

describe("SQLite memory store", () => {
  it("records its vector size and refuses to open with another one, keeping the data", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-dims-"));
    const agent = freshAgent();
    const store = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS);
    await write(store, batch(agent, [item(agent, "kept", { embedding: axisVector(0) })]));
    await store.close();

    expect(() => createSqliteMemoryStore(dir, 16)).toThrow(DimensionMismatchError);
    expect(() => createSqliteMemoryStore(dir, 16)).toThrow(/holds 8-dimensional embeddings .* produces 16/);

    const reopened = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS);
    const hits = await reopened.vectorSearch(agent, axisVector(0), 5, {}, new Date().toISOString());
    expect(hits).toHaveLength(1);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("SQLite memory store at scale", () => {
  // 2,500 memories through the write algorithm: slow on a shared machine, hence the timeout.
  it("finds the exact nearest neighbours through the binary first pass, with exact scores, filters and deletions", {
    timeout: 180_000,
  }, async () => {
    const dimensions = 64;
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-ann-"));
    const store = createSqliteMemoryStore(dir, dimensions);
    try {
      const agent = freshAgent();
      // Clustered vectors (as real embeddings are): 50 centres, each memory near one of them.
      let seed = 12345;
      const random = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32 - 0.5;
      };
      const unit = (values: Float32Array) => values.map((v) => v / Math.hypot(...values));
      const centres = Array.from({ length: 50 }, () => Float32Array.from({ length: dimensions }, random));
      const near = (centre: Float32Array, noise: number) => unit(centre.map((v) => v + noise * random()));
      const total = APPROXIMATE_FROM + 500;
      const vectors: Float32Array[] = [];
      for (let start = 0; start < total; start += 500) {
        const items = Array.from({ length: 500 }, (_, i) => {
          const vector = near(centres[(start + i) % centres.length]!, 0.8);
          vectors.push(vector);
          return item(agent, `memory ${start + i}`, {
            embedding: vector,
            kind: (start + i) % 2 === 0 ? "EPISODIC" : "SEMANTIC",
          });
        });
        await write(store, batch(agent, items, { dedupThreshold: 1 }));
      }
      const ids = (await store.listMemories(agent, 100, undefined, {}, new Date().toISOString())).totalCount;
      expect(ids).toBe(total);
      const all = store.db
        .prepare(
          "SELECT m.id, e.embedding FROM memories m JOIN memory_embeddings e ON e.seq = m.seq WHERE m.agent_id = ?",
        )
        .all(agent) as { id: string; embedding: Buffer }[];
      const exact = (query: Float32Array, k: number, keep: (i: number) => boolean = () => true) =>
        all
          .map((row, i) => ({
            i,
            id: row.id,
            score: cosineSimilarity(
              query,
              new Float32Array(
                row.embedding.buffer.slice(
                  row.embedding.byteOffset,
                  row.embedding.byteOffset + row.embedding.byteLength,
                ),
              ),
            ),
          }))
          .filter((row) => keep(row.i))
          .sort((a, b) => b.score - a.score)
          .slice(0, k);
      let overlap = 0;
      const queries = 20;
      for (let q = 0; q < queries; q++) {
        const query = near(centres[q]!, 0.8);
        const hits = await store.vectorSearch(agent, query, 10, {}, new Date().toISOString());
        const truth = exact(query, 10);
        overlap += truth.filter((t) => hits.some((h) => h.id === t.id)).length / 10;
        for (const hit of hits) {
          const expected =
            truth.find((t) => t.id === hit.id) ?? exact(query, total).find((t) => t.id === hit.id)!;
          expect(hit.score).toBeCloseTo(expected.score, 5);
        }
      }
      expect(overlap / queries).toBeGreaterThan(0.9);

      // Filters apply to what the first pass found, widening until enough pass.
      const query = near(centres[3]!, 0.8);
      const semantic = await store.vectorSearch(
        agent,
        query,
        10,
        { kinds: ["SEMANTIC"] },
        new Date().toISOString(),
      );
      expect(semantic).toHaveLength(10);
      const records = await store.getMemories(semantic.map((hit) => hit.id));
      expect(records.every((r) => r.value?.kind === "SEMANTIC")).toBe(true);

      // A forgotten memory is never returned, even while its code is still cached.
      const [best] = await store.vectorSearch(agent, query, 1, {}, new Date().toISOString());
      await store.forget(agent, best!.id);
      const after = await store.vectorSearch(agent, query, 10, {}, new Date().toISOString());
      expect(after.map((hit) => hit.id)).not.toContain(best!.id);
      expect(after).toHaveLength(10);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SQLite memory store and its embedding model", () => {
  it("records the model of its vectors and refuses another, naming both", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-model-"));
    const plain = plaintextStorage;
    const first = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS, plain, { id: "model-a", dimensions: 8 });
    expect(await first.embeddingModel()).toEqual({ id: "model-a", dimensions: 8 });
    await first.close();
    expect(() =>
      createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS, plain, { id: "model-b", dimensions: 8 }),
    ).toThrow(EmbeddingModelMismatchError);
    expect(() => createSqliteMemoryStore(dir, 16, plain, { id: "model-c", dimensions: 16 })).toThrow(
      /made by "model-a" \(8 d\), but the configured embedder is "model-c" \(16 d\)/,
    );
    const again = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS, plain, { id: "model-a", dimensions: 8 });
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("re-embeds into vectors of another size and opens only with the new model afterwards", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-memory-reembed-"));
    const plain = plaintextStorage;
    const agent = freshAgent();
    const store = createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS, plain, { id: "model-a", dimensions: 8 });
    await write(
      store,
      batch(agent, [
        item(agent, "first", { embedding: axisVector(0) }),
        item(agent, "second", { embedding: axisVector(1) }),
      ]),
    );
    const target = { id: "model-small", dimensions: 4 };
    await store.startReembed(target);
    const todo = await store.memoriesToReembed(10);
    expect(todo.map((memory) => memory.content).sort()).toEqual(["first", "second"]);
    await expect(
      store.saveReembedded([{ id: todo[0]!.id, vector: axisVector(0) }]), // 8-d: the wrong size
    ).rejects.toThrow(/8-d vector for a 4-d re-embedding/);
    const small = (axis: number) => Float32Array.from({ length: 4 }, (_, i) => (i === axis ? 1 : 0));
    await store.saveReembedded(
      todo.map((memory) => ({ id: memory.id, vector: small(memory.content === "first" ? 2 : 3) })),
    );
    expect(await store.finishReembed()).toEqual({ switched: true, remaining: 0 });
    expect(store.dimensions).toBe(4);
    const now = new Date().toISOString();
    const [hit] = await store.vectorSearch(agent, small(3), 1, {}, now);
    expect((await store.getMemories([hit!.id]))[0]!.value!.content).toBe("second");
    await write(store, batch(agent, [item(agent, "third", { embedding: small(0) })]));
    expect((await store.vectorSearch(agent, small(0), 1, {}, now)).length).toBe(1);
    await store.close();

    expect(() =>
      createSqliteMemoryStore(dir, CONTRACT_DIMENSIONS, plain, { id: "model-a", dimensions: 8 }),
    ).toThrow(/made by "model-small" \(4 d\)/);
    const reopened = createSqliteMemoryStore(dir, 4, plain, target);
    expect((await reopened.vectorSearch(agent, small(2), 1, {}, now)).length).toBe(1);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
