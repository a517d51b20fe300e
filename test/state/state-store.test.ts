import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createEncryptor } from "../../core/crypto/encryption.js";
import { createNeo4jStateStore } from "../../subgraphs/state/store/neo4j.js";
import { createSqliteStateStore, type SqliteStateStore } from "../../subgraphs/state/store/sqlite.js";
import { appendRequest, describeStateStoreContract, freshAgent } from "../contract/state-store.contract.js";
import { neo4jTestDriver } from "../support/neo4j.js";

describeStateStoreContract("sqlite", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-state-store-"));
  const store = createSqliteStateStore(dir);
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeStateStoreContract("sqlite, encrypted at rest", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-state-store-enc-"));
  const store = createSqliteStateStore(dir, createEncryptor([{ id: "test", key: randomBytes(32) }]));
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeStateStoreContract("neo4j", async () => {
  const { driver, database } = await neo4jTestDriver();
  const store = await createNeo4jStateStore(driver, database);
  return { store, close: () => driver.close() };
});

describe("SQLite state store schema", () => {
  it("enforces version uniqueness in the schema, not only in code", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-state-unique-"));
    const store = createSqliteStateStore(dir) as SqliteStateStore;
    const agent = freshAgent();
    const { record } = await store.append(appendRequest(agent, { n: 1 }));
    const duplicate = () =>
      store.db
        .prepare(
          "INSERT INTO state_versions (agent_id, version, data, created_at, hash) VALUES (?, ?, '{}', ?, 'h')",
        )
        .run(agent, record.version, record.createdAt);
    expect(duplicate).toThrow(/UNIQUE constraint failed/);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
