/**
 * What only a real Neo4j server shows: several services creating the schema at once on an empty
 * database, many writers of one agent (and of its state and memories at once) with the driver's
 * retries, and full-text queries whose words Lucene would otherwise read as syntax.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNeo4jAgentDirectory } from "../../core/agents/neo4j-directory.js";
import { createNeo4jAuditStore } from "../../core/audit/neo4j-audit.js";
import { createNeo4jMemoryStore } from "../../subgraphs/memory/store/neo4j.js";
import { createNeo4jStateStore } from "../../subgraphs/state/store/neo4j.js";
import { emptyTestNeo4j, neo4jTestDriver } from "../support/neo4j.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";

describe("Neo4j: schema created by many services at once", () => {
  it("starts every store concurrently on an empty database, twice, without an error", async () => {
    const { driver, database } = await neo4jTestDriver();
    try {
      // An empty database (the first use in this file emptied it), then everything at once, as
      // four containers of docker-compose starting together would.
      for (let round = 0; round < 2; round++) {
        await Promise.all([
          createNeo4jMemoryStore(driver, database, 8),
          createNeo4jMemoryStore(driver, database, 8),
          createNeo4jStateStore(driver, database),
          createNeo4jStateStore(driver, database),
          createNeo4jAgentDirectory(driver, database),
          createNeo4jAuditStore(driver, database),
        ]);
      }
      const { records } = await driver.executeQuery(
        "SHOW INDEXES YIELD name, state WHERE state <> 'ONLINE' RETURN count(*) AS notOnline",
        {},
        { database },
      );
      expect(Number(records[0]!.get("notOnline"))).toBe(0);
    } finally {
      await driver.close();
      // The gateway below stores 512-dimensional vectors, not these 8.
      await emptyTestNeo4j();
    }
  }, 120_000);
});

describe("Neo4j: concurrent writers through the gateway", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ store: "neo4j", env: { RATE_LIMIT_PER_MINUTE: "0" } });
  });
  afterAll(() => mnemo?.close());

  it("loses nothing with 50 concurrent memory writes and 25 state writes to one agent", async () => {
    const agentId = "n4j-contended";
    const writes = [
      ...Array.from({ length: 50 }, (_, i) =>
        mnemo.query(
          `mutation R($c: String!) { remember(agentId: "${agentId}", input: {content: $c}) { outcome } }`,
          {
            c: `contended fact number ${i} about the agent`,
          },
        ),
      ),
      ...Array.from({ length: 25 }, (_, i) =>
        mnemo.query(`mutation P($d: JSON!) { putState(agentId: "${agentId}", data: $d) { version } }`, {
          d: { i },
        }),
      ),
    ];
    const responses = await Promise.all(writes);
    for (const response of responses) expect(response.errors).toBeUndefined();
    const read = await mnemo.query<{
      agent: {
        memories: { totalCount: number };
        history: { totalCount: number };
        state: { version: number };
      };
    }>(`{ agent(id: "${agentId}") { memories { totalCount } history { totalCount } state { version } } }`);
    expect(read.data!.agent).toEqual({
      memories: { totalCount: 50 },
      history: { totalCount: 25 },
      state: { version: 25 },
    });
  }, 120_000);

  it("answers recall queries full of Lucene syntax with the memory, never a parse error", async () => {
    const agentId = "n4j-lucene";
    await mnemo.query(
      `mutation { remember(agentId: "${agentId}", input: {content: "The AND gate feeds the NOT gate in rack C++ (row 4)"}) { outcome } }`,
    );
    for (const query of [
      'AND OR NOT "gate" +rack -row (4) [C++] {x} ~y^2 *:* \\ / && ||',
      "gate~ rack? row:4 title:gate",
      'NOT gate AND "rack',
    ]) {
      const response = await mnemo.query<{ recall: { memory: { content: string } }[] }>(
        `query Q($q: String!) { recall(agentId: "${agentId}", query: $q, k: 1) { memory { content } } }`,
        { q: query },
        ADMIN,
      );
      expect(response.errors, query).toBeUndefined();
      expect(response.data!.recall[0]?.memory.content).toContain("gate");
    }
  });
});
