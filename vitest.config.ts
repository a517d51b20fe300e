import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Native addons (better-sqlite3) and real servers: separate processes isolate them best.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
