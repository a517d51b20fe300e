import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One graphql-js for everything, the CommonJS build that Node (and so Apollo, which requires
    // it) loads. Vite would otherwise resolve the project's own `import "graphql"` to the ESM
    // build: two copies, and a schema built by one fails the other's instanceof checks.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // One real Neo4j per worker for the store suites (test/support/neo4j-server.ts).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    // A file's first hook may wait for its worker's Neo4j to finish starting (test/global-setup.ts).
    hookTimeout: 120_000,
    // Native addons (better-sqlite3) and real servers: separate processes isolate them best.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
