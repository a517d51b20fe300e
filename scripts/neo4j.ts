/**
 * `npm run neo4j`: Neo4j 5.26 Community on this machine without Docker, the same embedded server
 * the tests run (tools/neo4j-embedded). Prints the settings for `STORE=neo4j npm start` and
 * shuts down cleanly on Ctrl-C.
 *
 *   DATA_DIR         ./data; the database lives in DATA_DIR/neo4j (NEO4J_HOME overrides)
 *   NEO4J_PORT       7687 (Bolt, on 127.0.0.1; NEO4J_HOST to listen elsewhere)
 *   NEO4J_PASSWORD   when unset, one is generated on first start and kept in <home>/mnemo-password
 *   NEO4J_HEAP       1g      (JVM heap, as docker-compose.yml)
 *   NEO4J_PAGECACHE  512m    (page cache, as docker-compose.yml)
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  NEO4J_VERSION_LINE,
  Neo4jLauncherError,
  startEmbeddedNeo4j,
} from "../tools/neo4j-embedded/launcher.js";

function passwordFor(home: string): { password: string; source: string } {
  const fromEnv = process.env.NEO4J_PASSWORD;
  if (fromEnv) return { password: fromEnv, source: "NEO4J_PASSWORD" };
  const file = path.join(home, "mnemo-password");
  if (existsSync(file)) return { password: readFileSync(file, "utf8").trim(), source: file };
  const password = randomBytes(18).toString("base64url");
  mkdirSync(home, { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return { password, source: `${file} (generated)` };
}

function port(): number {
  const raw = process.env.NEO4J_PORT ?? "7687";
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`NEO4J_PORT must be a port number (0-65535), got "${raw}"`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const home = path.resolve(process.env.NEO4J_HOME ?? path.join(process.env.DATA_DIR ?? "./data", "neo4j"));
  const { password, source } = passwordFor(home);
  if (password.length < 8) {
    console.error("NEO4J_PASSWORD needs at least 8 characters (Neo4j's minimum)");
    process.exit(2);
  }
  const server = await startEmbeddedNeo4j({
    home,
    host: process.env.NEO4J_HOST ?? "127.0.0.1",
    port: port(),
    password,
    heap: process.env.NEO4J_HEAP ?? "1g",
    pageCache: process.env.NEO4J_PAGECACHE ?? "512m",
    onOutput: (line) => console.error(`  neo4j: ${line}`),
  });
  console.log(
    [
      "",
      `  Neo4j ${NEO4J_VERSION_LINE} Community (embedded) ready in ${(server.startMs / 1000).toFixed(1)} s`,
      `  data: ${home}   password from: ${source}`,
      "",
      "  Run Mnemo on it:",
      `    STORE=neo4j NEO4J_URI=${server.uri} NEO4J_USER=neo4j NEO4J_PASSWORD='${password}' npm start`,
      "",
      `NEO4J_URI=${server.uri}`,
      "NEO4J_USER=neo4j",
      `NEO4J_PASSWORD=${password}`,
      "",
      "  Ctrl-C stops it cleanly.",
    ].join("\n"),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n  ${signal}: stopping Neo4j (checkpoint, then exit)`);
    await server.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  const code = await server.exited;
  if (!stopping) {
    console.error(`  Neo4j exited unexpectedly (${code}); its log: ${path.join(home, "logs", "debug.log")}`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error instanceof Neo4jLauncherError ? error.message : error);
  process.exit(1);
});
