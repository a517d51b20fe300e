import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createEncryptor } from "../../core/crypto/encryption.js";
import { DimensionMismatchError } from "../../subgraphs/memory/domain/store-port.js";
import { createNeo4jMemoryStore } from "../../subgraphs/memory/store/neo4j.js";
import { createSqliteMemoryStore } from "../../subgraphs/memory/store/sqlite.js";
import {
  axisVector,
  batch,
  CONTRACT_DIMENSIONS,
  describeMemoryStoreContract,
  freshAgent,
  item,
  write,
} from "../contract/memory-store.contract.js";
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
