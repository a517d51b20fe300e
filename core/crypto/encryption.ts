/**
 * Encryption at rest: AES-256-GCM from Node's crypto, applied by the store adapters to state
 * data and memory content (and by the cache to cached values).
 *
 * A stored value looks like `mnemo-enc:v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts).
 * The key id is a fingerprint of the key, so keys rotate by configuration alone: put the new key
 * first in ENCRYPTION_KEYS, keep the old ones after it; new writes use the first, old values
 * still decrypt. Values without the prefix were written before encryption was turned on and are
 * read as they are. Each value can be bound to where it belongs (associated data, e.g. the
 * agent and version), so a ciphertext copied to another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";

export const ENCRYPTED_PREFIX = "mnemo-enc:v1:";
const IV_BYTES = 12;

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface Encryptor {
  readonly enabled: boolean;
  encrypt(plaintext: string, associatedData?: string): string;
  decrypt(stored: string, associatedData?: string): string;
  /**
   * A deterministic fingerprint for equality lookups (e.g. exact-duplicate detection): SHA-256
   * when encryption is off; when on, HMAC-SHA-256 under a key derived from the current key, so a
   * stolen database cannot be searched by hashing guesses. Rotating the key changes fingerprints.
   */
  fingerprint(text: string): string;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

/** A key's id: the first 12 hex characters of its SHA-256, stable and safe to store. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}

/** Parses base64 (or base64url) keys; each must be exactly 32 bytes. Returns problems instead of throwing. */
export function parseEncryptionKeys(values: string[]): { keys: EncryptionKey[]; problems: string[] } {
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  values.forEach((value, index) => {
    // Node's base64 decoder accepts the URL-safe alphabet too.
    const key = Buffer.from(value.trim(), "base64");
    if (key.length !== 32) {
      problems.push(
        `encryption key #${index + 1} must be 32 bytes encoded in base64 (got ${key.length} bytes)`,
      );
      return;
    }
    keys.push({ id: keyId(key), key });
  });
  return { keys, problems };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export const plaintextStorage: Encryptor = {
  enabled: false,
  fingerprint: sha256,
  encrypt: (plaintext) => plaintext,
  decrypt: (stored) => {
    if (stored.startsWith(ENCRYPTED_PREFIX)) {
      throw new DecryptionError(
        "this value is encrypted but no ENCRYPTION_KEY / ENCRYPTION_KEYS is configured",
      );
    }
    return stored;
  },
};

export function createEncryptor(keys: readonly EncryptionKey[]): Encryptor {
  if (keys.length === 0) return plaintextStorage;
  const current = keys[0]!;
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  const fingerprintKey = Buffer.from(
    hkdfSync("sha256", current.key, Buffer.alloc(0), "mnemo fingerprint v1", 32),
  );
  return {
    enabled: true,
    fingerprint: (text) => createHmac("sha256", fingerprintKey).update(text).digest("hex"),
    encrypt(plaintext, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", current.key, iv);
      if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData));
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${ENCRYPTED_PREFIX}${current.id}:${iv.toString("base64url")}:${tag.toString("base64url")}:${ciphertext.toString("base64url")}`;
    },
    decrypt(stored, associatedData) {
      if (!stored.startsWith(ENCRYPTED_PREFIX)) return stored;
      const [id, iv, tag, ciphertext] = stored.slice(ENCRYPTED_PREFIX.length).split(":");
      const key = id ? byId.get(id) : undefined;
      if (!key || !iv || !tag || ciphertext === undefined) {
        throw new DecryptionError(
          key
            ? "malformed encrypted value"
            : `value was encrypted with key ${id}, which is not in ENCRYPTION_KEYS`,
        );
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
        if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([
          decipher.update(Buffer.from(ciphertext, "base64url")),
          decipher.final(),
        ]).toString("utf8");
      } catch {
        throw new DecryptionError(
          "encrypted value failed authentication (wrong key, altered, or moved from another record)",
        );
      }
    },
  };
}
