import { describe, expect, it } from "vitest";
import { composeSupergraph, readSupergraph } from "../gateway/supergraph.js";

describe("schema/supergraph.graphql", () => {
  it("composes without errors and matches the checked-in file (run `npm run compose` if not)", () => {
    const composed = composeSupergraph();
    expect(readSupergraph(), "schema/supergraph.graphql is stale: run `npm run compose`").toBe(composed);
  });
});
