import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  createEncryptor,
  DecryptionError,
  ENCRYPTED_PREFIX,
  keyId,
  parseEncryptionKeys,
  plaintextStorage,
} from "../../core/crypto/encryption.js";
import { startTestStack } from "../support/stack.js";

const newKey = () => randomBytes(32);

describe("AES-256-GCM encryptor", () => {
  it("round-trips, and never produces the same ciphertext twice", () => {
    const encryptor = createEncryptor([{ id: "k", key: newKey() }]);
    const a = encryptor.encrypt("secret plan", "state:a:1");
    const b = encryptor.encrypt("secret plan", "state:a:1");
    expect(a.startsWith(`${ENCRYPTED_PREFIX}k:`)).toBe(true);
    expect(a).not.toBe(b);
    expect(a).not.toContain("secret");
    expect(encryptor.decrypt(a, "state:a:1")).toBe("secret plan");
  });

  it("refuses altered ciphertext, the wrong associated data, and unknown keys", () => {
    const key = { id: "k", key: newKey() };
    const encryptor = createEncryptor([key]);
    const stored = encryptor.encrypt("balance=100", "state:a:1");
    const flipped = stored.slice(0, -2) + (stored.at(-2) === "A" ? "B" : "A") + stored.at(-1);
    expect(() => encryptor.decrypt(flipped, "state:a:1")).toThrow(DecryptionError);
    expect(() => encryptor.decrypt(stored, "state:b:1")).toThrow(/moved from another record/);
    expect(() => createEncryptor([{ id: "other", key: newKey() }]).decrypt(stored, "state:a:1")).toThrow(
      /not in ENCRYPTION_KEYS/,
    );
    expect(() => plaintextStorage.decrypt(stored)).toThrow(/no ENCRYPTION_KEY/);
  });

  it("rotates: the first key encrypts, older keys still decrypt, plaintext from before passes through", () => {
    const [oldKey, newer] = [newKey(), newKey()];
    const before = createEncryptor(parseEncryptionKeys([oldKey.toString("base64")]).keys);
    const written = before.encrypt("v1");
    const after = createEncryptor(
      parseEncryptionKeys([newer.toString("base64"), oldKey.toString("base64")]).keys,
    );
    expect(after.decrypt(written)).toBe("v1");
    expect(after.encrypt("v2")).toContain(`:${keyId(newer)}:`);
    expect(after.decrypt('{"plain":true}')).toBe('{"plain":true}');
  });

  it("explains a key of the wrong size", () => {
    expect(parseEncryptionKeys(["c2hvcnQ="]).problems).toEqual([
      "encryption key #1 must be 32 bytes encoded in base64 (got 5 bytes)",
    ]);
  });
});

describe("state encrypted at rest", () => {
  it("stores ciphertext, reads plaintext, survives key rotation, and fails clearly without the key", async () => {
    const oldKey = newKey().toString("base64");
    const secret = "launch codes 0000";
    const first = await startTestStack({ env: { ENCRYPTION_KEY: oldKey } });
    await first.query(`mutation P($d: JSON!) { putState(agentId: "vault", data: $d) { version } }`, {
      d: { secret },
    });
    await first.close({ keepData: true });

    const files = readdirSync(first.dataDir).filter((f) => f.startsWith("state.db"));
    for (const file of files) {
      expect(readFileSync(path.join(first.dataDir, file)).includes(secret), file).toBe(false);
    }
    const db = new Database(path.join(first.dataDir, "state.db"), { readonly: true });
    const row = db.prepare("SELECT data FROM state_versions WHERE agent_id = 'vault'").get() as {
      data: string;
    };
    db.close();
    expect(row.data.startsWith(ENCRYPTED_PREFIX)).toBe(true);

    const newerKey = newKey().toString("base64");
    const rotated = await startTestStack({
      dataDir: first.dataDir,
      env: { ENCRYPTION_KEYS: `${newerKey},${oldKey}` },
    });
    try {
      const read = await rotated.query<{ agent: { state: { data: { secret: string } } } }>(
        `{ agent(id: "vault") { state { data } } }`,
      );
      expect(read.data?.agent.state.data.secret).toBe(secret);
      await rotated.query(`mutation { patchState(agentId: "vault", patch: {more: 1}) { version } }`);
      const verified = await rotated.query<{ verifyHistory: { valid: boolean } }>(
        `{ verifyHistory(agentId: "vault") { valid } }`,
      );
      expect(verified.data?.verifyHistory.valid).toBe(true);
    } finally {
      await rotated.close({ keepData: true });
    }

    const keyless = await startTestStack({ dataDir: first.dataDir });
    try {
      const read = await keyless.query(`{ agent(id: "vault") { state { data } } }`);
      expect(read.errors?.[0]?.message).toMatch(/no ENCRYPTION_KEY/);
    } finally {
      await keyless.close();
    }
  });
});
