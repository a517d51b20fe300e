/**
 * The client's operation types are generated from schema/supergraph.graphql; this fails when
 * src/generated/operations.ts no longer matches what the generator makes from the schema and the
 * operations on disk (a changed subgraph SDL recomposed without regenerating the client).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GENERATED_FILE, generateOperations } from "../scripts/codegen.js";

describe("generated client operations", () => {
  it("match schema/supergraph.graphql and src/operations (run `npm run codegen -w @mnemo/client` if not)", async () => {
    const regenerated = await generateOperations();
    expect(
      readFileSync(GENERATED_FILE, "utf8"),
      "clients/typescript/src/generated/operations.ts is stale",
    ).toBe(regenerated);
  });

  it("type every operation against the schema: an operation on a field the schema lacks fails generation", async () => {
    // The generator validates documents against the supergraph; a mistyped field must not slip through.
    const { codegen } = await import("@graphql-codegen/core");
    const typescriptOperations = await import("@graphql-codegen/typescript-operations");
    const { buildSchema, parse } = await import("graphql");
    const { SUPERGRAPH_FILE } = await import("../scripts/codegen.js");
    const sdl = readFileSync(SUPERGRAPH_FILE, "utf8");
    const generate = () =>
      codegen({
        filename: "x.ts",
        schema: parse(sdl),
        schemaAst: buildSchema(sdl),
        documents: [
          { location: "bad.graphql", document: parse('query Bad { agent(id: "a") { noSuchField } }') },
        ],
        config: {},
        plugins: [{ typescriptOperations: {} }],
        pluginMap: { typescriptOperations },
      });
    await expect(generate()).rejects.toThrow(/noSuchField/);
  });
});
