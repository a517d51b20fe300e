/**
 * Every Cypher statement of the Neo4j adapters, linted by Neo4j's language support (see
 * test/support/cypher-lint.ts). Parameters are declared per statement group with example values
 * of the right type, so an undeclared or misspelt parameter is an error.
 */
import { describe, expect, it } from "vitest";
import { AGENT_DIRECTORY_CYPHER } from "../core/agents/neo4j-directory.js";
import { AUDIT_CYPHER } from "../core/audit/neo4j-audit.js";
import { LINK_CYPHER, MEMORY_CYPHER } from "../subgraphs/memory/store/neo4j.js";
import { STATE_CYPHER } from "../subgraphs/state/store/neo4j.js";
import { lintCypher } from "./support/cypher-lint.js";

const STATE_PARAMETERS = {
  agentId: "a1",
  key: "a1#1",
  version: 1,
  data: "{}",
  createdAt: "2026-01-01T00:00:00.000Z",
  author: "sub",
  reason: "why",
  hash: "h",
  previousHash: "p",
  maxVersion: 1,
  ids: ["a1"],
  refs: [{ agentId: "a1", key: "a1#1", position: 0 }],
  before: 10,
  after: 0,
  limit: 10,
};

/** Filters are null when unset; lists, strings and booleans otherwise. */
const MEMORY_PARAMETERS = {
  agentId: "a1",
  id: "a1/00000000-0000-4000-8000-000000000000",
  ids: ["a1/00000000-0000-4000-8000-000000000000"],
  dimensions: 512,
  hash: "abc",
  fetch: 64,
  limit: 10,
  before: 100,
  after: 0,
  vector: [0.1, 0.2],
  minScore: 0.9,
  props: { id: "a1/x", agentId: "a1", content: "c" },
  sessionId: "s1",
  tags: ["t"],
  importance: 0.5,
  occurredAt: "2026-01-01T00:00:00.000Z",
  metadata: "{}",
  now: "2026-01-01T00:00:00.000Z",
  revision: 1,
  memoryId: "a1/x",
  key: "a1#ada",
  entityId: "a1/entity/x",
  name: "Ada",
  normalizedName: "ada",
  type: "PERSON",
  fromKey: "a1#ada",
  toKey: "a1#bob",
  sourceId: "a1/y",
  keep: ["a1/x"],
  updates: [{ id: "a1/x", count: 1, at: "2026-01-01T00:00:00.000Z", components: "{}" }],
  useful: 1,
  notUseful: 0,
  validUntil: "2026-01-01T00:00:00.000Z",
  inactiveSince: "2026-01-01T00:00:00.000Z",
  minImportance: 0.2,
  exclude: ["a1/x"],
  keepId: "a1/x",
  fromId: "a1/y",
  pinned: false,
  consolidation: "{}",
  config: "{}",
  query: 'agentToken:"a1" AND searchText:("x")',
  names: ["ada"],
  entityIds: ["a1/entity/x"],
  vectorsFor: ["a1/x"],
  kinds: ["EPISODIC"],
  modalities: ["TEXT"],
  occurredAfter: "2026-01-01T00:00:00.000Z",
  occurredBefore: "2026-01-01T00:00:00.000Z",
  asOf: "2026-01-01T00:00:00.000Z",
  includeInvalid: false,
  at: "2026-01-01T00:00:00.000Z",
  hashes: ["h"],
  statements: ["s"],
  frames: ["f"],
  frameMatches: 20,
  sessionIds: ["s1"],
  variants: "[]",
  items: [{ id: "a1/x", validUntil: "2026-01-01T00:00:00.000Z" }],
  pairs: [{ fromId: "a1/x", toId: "a1/y" }],
};

const GROUPS: { name: string; statements: Record<string, string>; parameters: Record<string, unknown> }[] = [
  {
    name: "agent directory",
    statements: AGENT_DIRECTORY_CYPHER,
    parameters: { id: "a1", present: true, only: ["a1"], after: "", limit: 10 },
  },
  { name: "state store", statements: STATE_CYPHER, parameters: STATE_PARAMETERS },
  { name: "memory store", statements: MEMORY_CYPHER, parameters: MEMORY_PARAMETERS },
  { name: "memory links", statements: LINK_CYPHER, parameters: MEMORY_PARAMETERS },
  {
    name: "audit log",
    statements: AUDIT_CYPHER,
    parameters: {
      at: "2026-01-01T00:00:00.000Z",
      agentId: "a1",
      actor: "sub",
      role: "admin",
      action: "state.put",
      target: "1",
      details: "{}",
      before: 10,
      limit: 10,
    },
  },
];

describe("Cypher lint", () => {
  for (const group of GROUPS) {
    it(`${group.name}: every statement lints clean`, () => {
      const diagnostics = Object.entries(group.statements).flatMap(([name, statement]) =>
        lintCypher(statement, group.parameters).map((d) => `${name}: ${d.message}`),
      );
      expect(diagnostics).toEqual([]);
    });
  }

  it("catches the mistakes it is here for", () => {
    expect(lintCypher("MATCH (a:Agent {id: $agentId}) RETURN b", { agentId: "x" }).length).toBeGreaterThan(0);
    expect(lintCypher("MATCH (a:Agent {id: $agnetId}) RETURN a", { agentId: "x" }).length).toBeGreaterThan(0);
    expect(lintCypher("CALL db.index.vector.queryNode('i', 1, [1.0])", {}).length).toBeGreaterThan(0);
    expect(lintCypher("RETURN coalese(1, 2)", {}).length).toBeGreaterThan(0);
  });
});
