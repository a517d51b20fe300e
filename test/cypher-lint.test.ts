/**
 * Every Cypher statement of the Neo4j adapters, linted by Neo4j's language support (see
 * test/support/cypher-lint.ts). Parameters are declared per statement group with example values
 * of the right type, so an undeclared or misspelt parameter is an error.
 */
import { describe, expect, it } from "vitest";
import { AGENT_DIRECTORY_CYPHER } from "../core/agents/neo4j-directory.js";
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

const GROUPS: { name: string; statements: Record<string, string>; parameters: Record<string, unknown> }[] = [
  {
    name: "agent directory",
    statements: AGENT_DIRECTORY_CYPHER,
    parameters: { id: "a1", present: true, only: ["a1"], after: "", limit: 10 },
  },
  { name: "state store", statements: STATE_CYPHER, parameters: STATE_PARAMETERS },
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
