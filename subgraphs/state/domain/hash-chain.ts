/**
 * Tamper evidence: each version's hash covers its content and its predecessor's hash, so
 * changing any stored version (or dropping one from the middle) breaks the chain from there on.
 *
 *   hash = sha256_hex((previousHash ?? "") + canonicalJson({version, data, createdAt, author, reason}))
 *
 * Canonical JSON is RFC 8785 (the `canonicalize` package): sorted keys, no whitespace, so the
 * hash does not depend on how a store happened to serialise the document.
 */
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { StateVersionRecord } from "./store-port.js";

export type HashedFields = Pick<StateVersionRecord, "version" | "data" | "createdAt" | "author" | "reason">;

export function hashVersion(fields: HashedFields, previousHash: string | null): string {
  const canonical = canonicalize({
    version: fields.version,
    data: fields.data,
    createdAt: fields.createdAt,
    author: fields.author,
    reason: fields.reason,
  });
  return createHash("sha256")
    .update(previousHash ?? "")
    .update(canonical ?? "")
    .digest("hex");
}

export interface ChainVerification {
  valid: boolean;
  checkedVersions: number;
  firstBrokenVersion: number | null;
}

/**
 * Checks versions given oldest first, possibly in chunks. The oldest kept version anchors the
 * chain (its predecessor may have been pruned), every later one must follow it exactly.
 */
export class ChainVerifier {
  private previous: StateVersionRecord | null = null;
  private checked = 0;
  private broken: number | null = null;

  add(records: readonly StateVersionRecord[]): void {
    for (const record of records) {
      this.checked++;
      if (this.broken !== null) continue;
      const follows =
        this.previous === null ||
        (record.version === this.previous.version + 1 && record.previousHash === this.previous.hash);
      if (!follows || hashVersion(record, record.previousHash) !== record.hash) this.broken = record.version;
      this.previous = record;
    }
  }

  result(): ChainVerification {
    return { valid: this.broken === null, checkedVersions: this.checked, firstBrokenVersion: this.broken };
  }
}
