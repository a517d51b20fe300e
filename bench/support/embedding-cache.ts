/**
 * An Embedder that remembers vectors on disk (SQLite, keyed by a hash of the model and the
 * text), so repeated benchmark runs skip the model. Opt-in (`--cache`): a run without it measures
 * the whole pipeline from scratch. The cache directory is git-ignored.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Embedder, EmbedPurpose } from "../../subgraphs/memory/analysis/embedder.js";

export function cachingEmbedder(inner: Embedder, directory: string): Embedder & { close(): void } {
  mkdirSync(directory, { recursive: true });
  const db = new Database(path.join(directory, "embeddings.db"));
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID");
  const get = db.prepare("SELECT vector FROM vectors WHERE key = ?");
  const put = db.prepare("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)");
  const keyOf = (text: string) =>
    createHash("sha256").update(`${inner.modelId}\u0000${inner.dimensions}\u0000${text}`).digest("hex");

  return {
    provider: inner.provider,
    modelId: inner.modelId,
    dimensions: inner.dimensions,
    available: inner.available,
    async embed(texts: readonly string[], purpose: EmbedPurpose = "document"): Promise<Float32Array[]> {
      const keys = texts.map((text) => keyOf(`${purpose}\u0000${text}`));
      const vectors: (Float32Array | null)[] = keys.map((key) => {
        const row = get.get(key) as { vector: Buffer } | undefined;
        return row
          ? new Float32Array(
              row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.vector.byteLength),
            )
          : null;
      });
      const missing = texts.flatMap((text, i) => (vectors[i] ? [] : [{ i, text }]));
      if (missing.length > 0) {
        const embedded = await inner.embed(
          missing.map((entry) => entry.text),
          purpose,
        );
        db.transaction(() => {
          missing.forEach((entry, position) => {
            const vector = embedded[position]!;
            vectors[entry.i] = vector;
            put.run(keys[entry.i], Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
          });
        })();
      }
      return vectors as Float32Array[];
    },
    close: () => db.close(),
  };
}
