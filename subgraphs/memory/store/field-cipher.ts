/**
 * Encryption at rest for a memory's private fields (content, caption, metadata, and the
 * wordings merged into it), shared by both
 * store adapters. Each field is bound to its memory and name as associated data, so a ciphertext
 * moved to another memory or field does not decrypt. A no-op when encryption is off.
 *
 * What stays readable by design: embeddings, and the words the full-text index needs (SQLite's
 * contentless FTS5 keeps tokens, Neo4j's full-text index reads `searchText`). See docs/security.md.
 */
import type { Encryptor } from "../../../core/crypto/encryption.js";
import type { MemoryRecord, MemoryVariant } from "../domain/model.js";

type Field = "content" | "caption" | "metadata" | "variants";

const context = (id: string, field: Field) => `memory:${id}:${field}`;

export interface StoredMemoryFields {
  content: string;
  caption: string | null;
  /** JSON text (possibly encrypted). */
  metadata: string | null;
  /** JSON text of the variants (possibly encrypted); null when there are none (and for older rows). */
  variants: string | null;
}

export function sealMemoryFields(
  encryption: Encryptor,
  record: Pick<MemoryRecord, "id" | "content" | "caption" | "metadata" | "variants">,
): StoredMemoryFields {
  return {
    content: encryption.encrypt(record.content, context(record.id, "content")),
    caption:
      record.caption === null ? null : encryption.encrypt(record.caption, context(record.id, "caption")),
    metadata:
      record.metadata === null
        ? null
        : encryption.encrypt(JSON.stringify(record.metadata), context(record.id, "metadata")),
    variants:
      record.variants.length === 0
        ? null
        : encryption.encrypt(JSON.stringify(record.variants), context(record.id, "variants")),
  };
}

export function openMemoryFields(
  encryption: Encryptor,
  id: string,
  stored: StoredMemoryFields,
): Pick<MemoryRecord, "content" | "caption" | "metadata" | "variants"> {
  return {
    content: encryption.decrypt(stored.content, context(id, "content")),
    caption: stored.caption === null ? null : encryption.decrypt(stored.caption, context(id, "caption")),
    metadata:
      stored.metadata === null
        ? null
        : (JSON.parse(encryption.decrypt(stored.metadata, context(id, "metadata"))) as Record<
            string,
            unknown
          >),
    variants:
      stored.variants === null || stored.variants === undefined
        ? []
        : (JSON.parse(encryption.decrypt(stored.variants, context(id, "variants"))) as MemoryVariant[]),
  };
}
