/**
 * The Neo4j memory store's embedding model: which model made its vectors (on the
 * MemoryStoreMeta node, checked at every start), and re-embedding with another one.
 *
 * A re-embedding writes the target's vectors into `Memory.embeddingNext`, batch by batch
 * (resumable: what has the property is done), while recall and writes keep using
 * `Memory.embedding` and its vector index. `finish` moves every vector and records the model in
 * one transaction, then rebuilds the vector index for the new size (Neo4j runs schema changes in
 * transactions of their own): until that index is online, vector search finds nothing and recall
 * ranks by its other signals.
 */
import {
  awaitIndexesOnline,
  type Driver,
  neo4j,
  runRead,
  runWrite,
  toNumber,
} from "../../../core/store/neo4j.js";
import {
  type EmbeddingModel,
  EmbeddingModelMismatchError,
  type MemoryToEmbed,
  type ReembedStatus,
} from "../domain/store-port.js";
import { openMemoryFields } from "./field-cipher.js";

/** Every statement of this file; linted with the adapter's in `npm test`. */
export const EMBEDDING_MODEL_CYPHER = {
  readModel: `MATCH (s:MemoryStoreMeta {name: 'memory'})
RETURN s.embeddingModel AS model, s.reembedTarget AS target`,
  recordModel: `MATCH (s:MemoryStoreMeta {name: 'memory'})
SET s.embeddingModel = coalesce(s.embeddingModel, $model)
RETURN s.embeddingModel AS model`,
  counts: "MATCH (m:Memory) RETURN count(m) AS memories, count(m.embeddingNext) AS done",
  setTarget: `MATCH (s:MemoryStoreMeta {name: 'memory'})
SET s.reembedTarget = $target`,
  clearNext: "MATCH (m:Memory) WHERE m.embeddingNext IS NOT NULL REMOVE m.embeddingNext",
  // Oldest first within an agent, so a memory comes after the one it FOLLOWS (its context).
  missing: `MATCH (m:Memory) WHERE m.embeddingNext IS NULL
WITH m ORDER BY m.agentId, m.seq LIMIT $limit
OPTIONAL MATCH (m)-[:FOLLOWS]->(p:Memory)
WITH m, head(collect(p)) AS p
RETURN m.id AS id, m.content AS content, m.caption AS caption, p.id AS followsId, p.embeddingNext AS followsVector
ORDER BY m.agentId, m.seq`,
  save: `UNWIND $rows AS row
MATCH (m:Memory {id: row.id})
SET m.embeddingNext = row.vector`,
  swap: `MATCH (m:Memory)
SET m.embedding = m.embeddingNext
REMOVE m.embeddingNext`,
  recordSwitch: `MATCH (s:MemoryStoreMeta {name: 'memory'})
SET s.embeddingModel = $model, s.dimensions = $dimensions, s.reembedTarget = null`,
  dropVectorIndex: "DROP INDEX memory_embedding IF EXISTS",
};

const parse = (value: unknown): EmbeddingModel | null =>
  typeof value === "string" ? (JSON.parse(value) as EmbeddingModel) : null;

export class Neo4jEmbeddingModel {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
  ) {}

  async current(): Promise<EmbeddingModel | null> {
    const result = await runRead(this.driver, this.database, (tx) =>
      tx.run(EMBEDDING_MODEL_CYPHER.readModel),
    );
    return parse(result.records[0]?.get("model"));
  }

  /** At start: refuses a configured model other than the one the store's vectors belong to. */
  async refuseOther(configured: EmbeddingModel): Promise<void> {
    const stored = await this.current();
    if (stored && (stored.id !== configured.id || stored.dimensions !== configured.dimensions)) {
      throw new EmbeddingModelMismatchError(stored, configured);
    }
  }

  /** Records the model of a store that has none yet (new, or made before models were recorded). */
  async record(configured: EmbeddingModel): Promise<void> {
    await runWrite(this.driver, this.database, (tx) =>
      tx.run(EMBEDDING_MODEL_CYPHER.recordModel, { model: JSON.stringify(configured) }),
    );
  }

  async status(): Promise<ReembedStatus> {
    return runRead(this.driver, this.database, async (tx) => {
      const meta = await tx.run(EMBEDDING_MODEL_CYPHER.readModel);
      const counts = await tx.run(EMBEDDING_MODEL_CYPHER.counts);
      return {
        model: parse(meta.records[0]?.get("model")),
        target: parse(meta.records[0]?.get("target")),
        memories: toNumber(counts.records[0]!.get("memories")),
        done: toNumber(counts.records[0]!.get("done")),
      };
    });
  }

  async start(target: EmbeddingModel): Promise<ReembedStatus> {
    const running = (await this.status()).target;
    if (running && (running.id !== target.id || running.dimensions !== target.dimensions)) {
      throw new Error(
        `a re-embedding to "${running.id}" (${running.dimensions} d) is under way; finish it before starting another`,
      );
    }
    if (!running) {
      await runWrite(this.driver, this.database, async (tx) => {
        await tx.run(EMBEDDING_MODEL_CYPHER.clearNext);
        await tx.run(EMBEDDING_MODEL_CYPHER.setTarget, { target: JSON.stringify(target) });
      });
    }
    return this.status();
  }

  async next(limit: number, encryption: Parameters<typeof openMemoryFields>[0]): Promise<MemoryToEmbed[]> {
    const result = await runRead(this.driver, this.database, (tx) =>
      tx.run(EMBEDDING_MODEL_CYPHER.missing, { limit: neo4j.int(limit) }),
    );
    return result.records.map((row) => {
      const id = row.get("id") as string;
      const { content, caption } = openMemoryFields(encryption, id, {
        content: row.get("content") as string,
        caption: (row.get("caption") as string | null) ?? null,
        metadata: null,
        variants: null,
      });
      const followsId = row.get("followsId") as string | null;
      const followsVector = row.get("followsVector") as number[] | null;
      return {
        id,
        content,
        caption,
        follows: followsId
          ? { id: followsId, vector: followsVector ? Float32Array.from(followsVector) : null }
          : null,
      };
    });
  }

  async save(vectors: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    const target = (await this.status()).target;
    if (!target) throw new Error("no re-embedding is under way (startReembed first)");
    for (const { vector } of vectors) {
      if (vector.length !== target.dimensions) {
        throw new Error(`a ${vector.length}-d vector for a ${target.dimensions}-d re-embedding`);
      }
    }
    await runWrite(this.driver, this.database, (tx) =>
      tx.run(EMBEDDING_MODEL_CYPHER.save, {
        rows: vectors.map(({ id, vector }) => ({ id, vector: [...vector] })),
      }),
    );
  }

  /** Swaps the vectors when all are there, then rebuilds the vector index with `createIndex(size)`. */
  async finish(createIndex: (dimensions: number) => string): Promise<{
    switched: EmbeddingModel | null;
    remaining: number;
  }> {
    const outcome = await runWrite(this.driver, this.database, async (tx) => {
      const meta = await tx.run(EMBEDDING_MODEL_CYPHER.readModel);
      const target = parse(meta.records[0]?.get("target"));
      if (!target) return { switched: null, remaining: 0 };
      const counts = await tx.run(EMBEDDING_MODEL_CYPHER.counts);
      const remaining =
        toNumber(counts.records[0]!.get("memories")) - toNumber(counts.records[0]!.get("done"));
      if (remaining > 0) return { switched: null, remaining };
      await tx.run(EMBEDDING_MODEL_CYPHER.swap);
      await tx.run(EMBEDDING_MODEL_CYPHER.recordSwitch, {
        model: JSON.stringify(target),
        dimensions: neo4j.int(target.dimensions),
      });
      return { switched: target, remaining: 0 };
    });
    if (outcome.switched) {
      await runWrite(this.driver, this.database, async (tx) => {
        await tx.run(EMBEDDING_MODEL_CYPHER.dropVectorIndex);
      });
      await runWrite(this.driver, this.database, async (tx) => {
        await tx.run(createIndex(outcome.switched!.dimensions));
      });
      await awaitIndexesOnline(this.driver, this.database);
    }
    return outcome;
  }
}
