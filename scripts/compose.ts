/**
 * `npm run compose`: recomposes schema/supergraph.graphql from the subgraph SDL files.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CompositionError, composeSupergraph, SUPERGRAPH_FILE } from "../gateway/supergraph.js";

try {
  const sdl = composeSupergraph();
  writeFileSync(SUPERGRAPH_FILE, sdl);
  console.log(`wrote ${fileURLToPath(SUPERGRAPH_FILE)} (${sdl.length} bytes)`);
} catch (error) {
  console.error(error instanceof CompositionError ? error.message : error);
  process.exit(1);
}
