/**
 * The supergraph: composed from the three subgraph SDL files by Apollo's composition library.
 * `npm run compose` writes it to schema/supergraph.graphql (checked in); a test recomposes and
 * fails when the checked-in file is stale.
 */
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { loadSubgraphSdl, SCHEMA_DIR } from "../core/service/subgraph.js";

export const SUBGRAPH_NAMES = ["state", "memory", "cache-admin"] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

export const SUPERGRAPH_FILE = new URL("supergraph.graphql", SCHEMA_DIR);

/** The routing URLs written into the checked-in file; the gateway overrides them from config. */
const DEFAULT_URLS: Record<SubgraphName, string> = {
  state: "http://localhost:4001/graphql",
  memory: "http://localhost:4002/graphql",
  "cache-admin": "http://localhost:4003/graphql",
};

export class CompositionError extends Error {
  constructor(readonly messages: string[]) {
    super(`Supergraph composition failed:\n${messages.map((m) => `  - ${m}`).join("\n")}`);
    this.name = "CompositionError";
  }
}

export function composeSupergraph(): string {
  const result = composeServices(
    SUBGRAPH_NAMES.map((name) => ({ name, url: DEFAULT_URLS[name], typeDefs: loadSubgraphSdl(name) })),
  );
  if (result.errors) throw new CompositionError(result.errors.map((error) => error.message));
  return `${result.supergraphSdl.trimEnd()}\n`;
}

export function readSupergraph(): string {
  return readFileSync(SUPERGRAPH_FILE, "utf8");
}
