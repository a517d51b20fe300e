/**
 * `npm run neo4j:build`: builds the embedded Neo4j launcher now (the test harness and
 * `npm run neo4j` would build it on first use); `.ci/run` calls it to time the build apart.
 */
import { buildEmbeddedNeo4j, Neo4jLauncherError } from "./launcher.js";

const started = Date.now();
try {
  await buildEmbeddedNeo4j((line) => console.log(`neo4j: ${line}`));
  console.log(`neo4j: launcher ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(error instanceof Neo4jLauncherError ? error.message : error);
  process.exit(1);
}
