/**
 * The SQLite memory store's embedding model: which model made its vectors (recorded in
 * memory_meta, checked at every start), and re-embedding with another one.
 *
 * A re-embedding writes the target's vectors into `memory_embeddings_next`, batch by batch
 * (resumable: what has a row there is done), while recall and writes keep using
 * `memory_vectors` / `memory_embeddings`. `finish` swaps them in one IMMEDIATE transaction:
 * the vec0 table is created again with the target's size and filled, the exact copies and the
 * binary codes (triggers) are replaced, and the model is recorded. Readers on other connections
 * see the old vectors until that transaction commits, then the new ones.
 */
import type { Encryptor } from "../../../core/crypto/encryption.js";
import type { SqliteDatabase } from "../../../core/store/sqlite.js";
import {
  type EmbeddingModel,
  EmbeddingModelMismatchError,
  type MemoryToEmbed,
  type ReembedStatus,
} from "../domain/store-port.js";
import { openMemoryFields } from "./field-cipher.js";
import { blobVector, vectorBlob } from "./sqlite-vector-blob.js";

const MODEL_KEY = "embedding_model";
const TARGET_KEY = "reembed_target";

/** The vec0 table for vectors of `dimensions` (its size is fixed when it is created). */
export function vectorTableSql(dimensions: number): string {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 8192) {
    throw new Error(`embedding dimensions must be an integer from 1 to 8192 (got ${dimensions})`);
  }
  return `CREATE VIRTUAL TABLE memory_vectors USING vec0(
    agent_id TEXT PARTITION KEY,
    embedding float[${dimensions}] distance_metric=cosine
  )`;
}

export class SqliteEmbeddingModel {
  private readonly s;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly encryption: Encryptor,
  ) {
    this.s = {
      meta: db.prepare("SELECT value FROM memory_meta WHERE key = ?"),
      putMeta: db.prepare(
        "INSERT INTO memory_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      deleteMeta: db.prepare("DELETE FROM memory_meta WHERE key = ?"),
      memories: db.prepare("SELECT count(*) AS n FROM memories"),
      done: db.prepare("SELECT count(*) AS n FROM memory_embeddings_next"),
      missing: db.prepare(
        `SELECT m.id, m.content, m.caption, p.id AS follows_id, pn.embedding AS follows_vector
         FROM memories m
         LEFT JOIN memories p ON p.seq =
           (SELECT to_seq FROM memory_links WHERE from_seq = m.seq AND type = 'FOLLOWS' LIMIT 1)
         LEFT JOIN memory_embeddings_next pn ON pn.seq = p.seq
         WHERE NOT EXISTS (SELECT 1 FROM memory_embeddings_next n WHERE n.seq = m.seq)
         ORDER BY m.seq LIMIT ?`,
      ),
      save: db.prepare(
        "INSERT OR REPLACE INTO memory_embeddings_next (seq, embedding) SELECT seq, @embedding FROM memories WHERE id = @id",
      ),
    };
  }

  current(): EmbeddingModel | null {
    return this.read(MODEL_KEY);
  }

  /** At start: refuses a configured model other than the one the store's vectors belong to. */
  refuseOther(configured: EmbeddingModel): void {
    const stored = this.current();
    if (stored && (stored.id !== configured.id || stored.dimensions !== configured.dimensions)) {
      throw new EmbeddingModelMismatchError(stored, configured);
    }
  }

  /**
   * Records the model of a store that has none yet: a new store, or one made before models were
   * recorded (its vectors have the configured size, checked before this).
   */
  record(configured: EmbeddingModel): void {
    if (this.current() === null) this.s.putMeta.run(MODEL_KEY, JSON.stringify(configured));
  }

  status(): ReembedStatus {
    return {
      model: this.current(),
      target: this.read(TARGET_KEY),
      memories: (this.s.memories.get() as { n: number }).n,
      done: (this.s.done.get() as { n: number }).n,
    };
  }

  start(target: EmbeddingModel): ReembedStatus {
    this.db
      .transaction(() => {
        const running = this.read(TARGET_KEY);
        if (running && (running.id !== target.id || running.dimensions !== target.dimensions)) {
          throw new Error(
            `a re-embedding to "${running.id}" (${running.dimensions} d) is under way; finish it before starting another`,
          );
        }
        if (!running) {
          this.db.exec("DELETE FROM memory_embeddings_next");
          this.s.putMeta.run(TARGET_KEY, JSON.stringify(target));
        }
      })
      .immediate();
    return this.status();
  }

  next(limit: number): MemoryToEmbed[] {
    const rows = this.s.missing.all(limit) as {
      id: string;
      content: string;
      caption: string | null;
      follows_id: string | null;
      follows_vector: Buffer | null;
    }[];
    return rows.map((row) => {
      const { content, caption } = openMemoryFields(this.encryption, row.id, {
        content: row.content,
        caption: row.caption,
        metadata: null,
        variants: null,
      });
      const vector = row.follows_vector;
      return {
        id: row.id,
        content,
        caption,
        follows: row.follows_id
          ? {
              id: row.follows_id,
              vector: vector ? blobVector(vector) : null,
            }
          : null,
      };
    });
  }

  save(vectors: readonly { id: string; vector: Float32Array }[]): void {
    const target = this.read(TARGET_KEY);
    if (!target) throw new Error("no re-embedding is under way (startReembed first)");
    this.db.transaction(() => {
      for (const { id, vector } of vectors) {
        if (vector.length !== target.dimensions) {
          throw new Error(`a ${vector.length}-d vector for a ${target.dimensions}-d re-embedding`);
        }
        this.s.save.run({ id, embedding: vectorBlob(vector) });
      }
    })();
  }

  /** Swaps the vectors when all are there; `onSwitched` runs inside the transaction. */
  finish(onSwitched: (model: EmbeddingModel) => void): { switched: boolean; remaining: number } {
    return this.db
      .transaction(() => {
        const target = this.read(TARGET_KEY);
        if (!target) return { switched: false, remaining: 0 };
        const remaining = (this.s.memories.get() as { n: number }).n - (this.s.done.get() as { n: number }).n;
        if (remaining > 0) return { switched: false, remaining };
        this.db.exec("DROP TABLE memory_vectors");
        this.db.exec(vectorTableSql(target.dimensions));
        this.db.exec(
          `INSERT INTO memory_vectors (rowid, agent_id, embedding)
           SELECT n.seq, m.agent_id, n.embedding FROM memory_embeddings_next n JOIN memories m ON m.seq = n.seq`,
        );
        this.db.exec("DELETE FROM memory_embeddings");
        this.db.exec(
          "INSERT INTO memory_embeddings (seq, embedding) SELECT seq, embedding FROM memory_embeddings_next",
        );
        this.db.exec("DELETE FROM memory_embeddings_next");
        this.s.putMeta.run("dimensions", String(target.dimensions));
        this.s.putMeta.run(MODEL_KEY, JSON.stringify(target));
        this.s.deleteMeta.run(TARGET_KEY);
        onSwitched(target);
        return { switched: true, remaining: 0 };
      })
      .immediate();
  }

  private read(key: string): EmbeddingModel | null {
    const row = this.s.meta.get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as EmbeddingModel) : null;
  }
}
