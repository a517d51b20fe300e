/**
 * The pair corpus through the real write algorithm on each real store: no pair that differs in
 * a fact is ever merged (0 lost facts), both wordings of every merged pair are kept, and the
 * paraphrases the rule is meant to see are merged. `npm run bench:dedup` reports the figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemoryStore } from "../../subgraphs/memory/domain/store-port.js";
import { createNeo4jMemoryStore } from "../../subgraphs/memory/store/neo4j.js";
import { createSqliteMemoryStore } from "../../subgraphs/memory/store/sqlite.js";
import { mayMerge, mustStayApart, type StatementPair } from "../fixtures/statement-pairs.js";
import { batch, item, write } from "../support/memory-writes.js";
import { neo4jTestDriver, STORES, type TestStore } from "../support/neo4j.js";

/** The categories of paraphrase the rule is built to recognise (all but "other words"). */
const RECOGNISED = new Set(
  mayMerge()
    .map((pair) => pair.category)
    .filter((category) => category !== "other words"),
);

/** Writes `first` then `second` for a fresh agent, as remember does with the default settings. */
async function writePair(store: MemoryStore, agentId: string, pair: StatementPair) {
  const outcomes = [];
  for (const content of [pair.first, pair.second]) {
    const written = await write(store, batch(agentId, [item(agentId, content)], { dedupThreshold: 0.97 }));
    outcomes.push(written.results[0]!);
  }
  return outcomes;
}

/** Every wording the agent's memories hold: their contents and the variants merged into them. */
async function wordings(store: MemoryStore, agentId: string): Promise<string[]> {
  const page = await store.listMemories(
    agentId,
    10,
    undefined,
    { includeInvalid: true },
    new Date().toISOString(),
  );
  return page.items.flatMap(({ node }) =>
    node.variants.length > 0 ? node.variants.map((variant) => variant.content) : [node.content],
  );
}

describe.each(STORES)("the statement-pair corpus on %s", (storeKind: TestStore) => {
  let store: MemoryStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    if (storeKind === "sqlite") {
      const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-pairs-"));
      const sqlite = createSqliteMemoryStore(dir, 8);
      store = sqlite;
      close = async () => {
        await sqlite.close();
        rmSync(dir, { recursive: true, force: true });
      };
    } else {
      const { driver, database } = await neo4jTestDriver();
      store = await createNeo4jMemoryStore(driver, database, 8);
      close = () => driver.close();
    }
  });
  afterAll(() => close?.());

  it("never merges two memories that differ in a fact (0 lost facts), in every category", async () => {
    const pairs = mustStayApart();
    expect(pairs.length).toBeGreaterThanOrEqual(200);
    const lost: string[] = [];
    for (const [i, pair] of pairs.entries()) {
      const agentId = `apart-${storeKind}-${i}`;
      const [, second] = await writePair(store, agentId, pair);
      if (second!.outcome === "MERGED") lost.push(`${pair.category}: "${pair.first}" / "${pair.second}"`);
      expect((await wordings(store, agentId)).sort()).toEqual([pair.first, pair.second].sort());
    }
    expect(lost).toEqual([]);
  }, 300_000);

  it("merges the paraphrases it is built to see, keeping both wordings", async () => {
    const pairs = mayMerge();
    expect(pairs.length).toBeGreaterThanOrEqual(100);
    const missed: string[] = [];
    for (const [i, pair] of pairs.entries()) {
      const agentId = `same-${storeKind}-${i}`;
      const [, second] = await writePair(store, agentId, pair);
      if (second!.outcome !== "MERGED" && RECOGNISED.has(pair.category))
        missed.push(`${pair.category}: ${pair.first}`);
      // Merged or not, nothing written is lost.
      expect((await wordings(store, agentId)).sort()).toEqual([pair.first, pair.second].sort());
    }
    expect(missed).toEqual([]);
  }, 300_000);
});
