/**
 * Memories encrypted at rest: content, caption and metadata are ciphertext in the store, the
 * full-text index keeps no copy of the text, recall still works, and every memory write is in
 * the audit log.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { load as loadSqliteVec } from "sqlite-vec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENCRYPTED_PREFIX } from "../../core/crypto/encryption.js";
import { neo4jTestDriver, STORES } from "../support/neo4j.js";
import { agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

const SECRET_SENTENCE = "Melanie keeps the spare key under the blue flowerpot by the shed";

describe.each(STORES)("memories encrypted at rest (%s)", (store) => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ store, env: { ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  });
  it("stores ciphertext, keeps no plaintext copy in the index, and still recalls", async () => {
    const writer = agentPrincipal("enc-agent");
    const remembered = await mnemo.query<{ remember: { memory: { id: string } } }>(
      `mutation R($input: MemoryInput!) { remember(agentId: "enc-agent", input: $input) { memory { id } } }`,
      { input: { content: SECRET_SENTENCE, metadata: { room: "garden-shed-9" } } },
      writer,
    );
    expect(remembered.errors).toBeUndefined();
    const id = remembered.data!.remember.memory.id;

    const recalled = await mnemo.query<{
      recall: { memory: { id: string; content: string; metadata: unknown } }[];
    }>(
      `{ recall(agentId: "enc-agent", query: "where is the spare key?", k: 3) { memory { id content metadata } } }`,
      {},
      writer,
    );
    expect(recalled.errors).toBeUndefined();
    expect(recalled.data!.recall[0]?.memory).toEqual({
      id,
      content: SECRET_SENTENCE,
      metadata: { room: "garden-shed-9" },
    });

    if (store === "sqlite") {
      // Close the stack so every WAL page is checkpointed into files we can read.
      await mnemo.close({ keepData: true });
      const files = readdirSync(mnemo.dataDir).filter((f) => f.startsWith("memory.db"));
      for (const file of files) {
        const bytes = readFileSync(path.join(mnemo.dataDir, file));
        expect(bytes.includes(SECRET_SENTENCE), file).toBe(false);
        expect(bytes.includes("garden-shed-9"), file).toBe(false);
      }
      const db = new Database(path.join(mnemo.dataDir, "memory.db"), { readonly: true });
      loadSqliteVec(db);
      const row = db.prepare("SELECT content, metadata FROM memories WHERE id = ?").get(id) as {
        content: string;
        metadata: string;
      };
      db.close();
      expect(row.content.startsWith(ENCRYPTED_PREFIX)).toBe(true);
      expect(row.metadata.startsWith(ENCRYPTED_PREFIX)).toBe(true);
    } else {
      await mnemo.close({ keepData: true });
      // The node as stored. Its full-text property (searchText) holds the words by design
      // (docs/security.md); content and metadata are ciphertext.
      const { driver, database } = await neo4jTestDriver();
      const { records } = await driver.executeQuery(
        "MATCH (m:Memory {id: $id}) RETURN m.content AS content, m.metadata AS metadata",
        { id },
        { database },
      );
      await driver.close();
      expect(records).toHaveLength(1);
      expect((records[0]!.get("content") as string).startsWith(ENCRYPTED_PREFIX)).toBe(true);
      expect((records[0]!.get("metadata") as string).startsWith(ENCRYPTED_PREFIX)).toBe(true);
      expect(records[0]!.get("content")).not.toContain("flowerpot");
    }
    const dataDir = mnemo.dataDir;
    mnemo = await startTestStack({ store, dataDir, env: { ENCRYPTION_KEY: "" } });
    const keyless = await mnemo.query(`{ memory(id: "${id}") { content } }`);
    expect(keyless.errors?.[0]?.message).toMatch(/no ENCRYPTION_KEY/);
    await mnemo.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe.each(STORES)("memory writes in the audit log (%s)", (store) => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ store });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("records remember, merge, forget and configure with the principal", async () => {
    const writer = agentPrincipal("audit-mem");
    const first = await mnemo.query<{ remember: { memory: { id: string } } }>(
      `mutation { remember(agentId: "audit-mem", input: { content: "Lunch is at noon" }) { memory { id } } }`,
      {},
      writer,
    );
    await mnemo.query(
      `mutation { remember(agentId: "audit-mem", input: { content: "lunch is at NOON" }) { outcome } }`,
      {},
      writer,
    );
    await mnemo.query(
      `mutation { configureMemory(agentId: "audit-mem", config: { recencyHalfLifeHours: 10 }) { recencyHalfLifeHours } }`,
      {},
      writer,
    );
    await mnemo.query(`mutation { forget(id: "${first.data!.remember.memory.id}") }`, {}, writer);
    const log = await mnemo.query<{
      auditLog: { edges: { node: { action: string; actor: string; details: unknown } }[] };
    }>(`{ auditLog(agentId: "audit-mem") { edges { node { action actor details } } } }`);
    expect(log.errors).toBeUndefined();
    expect(log.data!.auditLog.edges.map((e) => [e.node.action, e.node.actor, e.node.details])).toEqual([
      ["memory.forget", "agent:audit-mem", null],
      ["memory.configure", "agent:audit-mem", null],
      ["memory.remember", "agent:audit-mem", { outcome: "MERGED" }],
      ["memory.remember", "agent:audit-mem", { outcome: "CREATED" }],
    ]);
    expect(JSON.stringify(log.data)).not.toMatch(/noon/i);
  });
});
