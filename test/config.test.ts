import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../core/config.js";

function problems(env: Record<string, string>, services?: Parameters<typeof loadConfig>[1]): string[] {
  try {
    loadConfig(env, services);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("configuration", () => {
  it("has working defaults for a single development process", () => {
    const config = loadConfig({});
    expect(config.ports).toEqual({ gateway: 4000, state: 4001, memory: 4002, "cache-admin": 4003 });
    expect(config.store).toBe("sqlite");
    expect(config.dataDir).toMatch(/data$/);
    expect(config.redis).toBeNull();
    expect(config.auth.jwtSecretGenerated).toBe(true);
    expect(config.cache.nearCacheBytes).toBe(64 * 2 ** 20);
    expect(loadConfig({ CACHE_NEAR_MAX_MB: "0" }).cache.nearCacheBytes).toBe(0);
  });

  it("reports every bad value, one sentence each", () => {
    const found = problems({
      GATEWAY_PORT: "http",
      STORE: "postgres",
      REDIS_URL: "localhost:6379",
      LOG_LEVEL: "loud",
      CACHE_NEAR_MAX_MB: "lots",
    });
    expect(found).toHaveLength(5);
    expect(found).toContain('CACHE_NEAR_MAX_MB must be an integer from 0 to 65536 (got "lots")');
    expect(found).toContain('GATEWAY_PORT must be an integer from 0 to 65535 (got "http")');
    expect(found).toContain('STORE must be one of sqlite, neo4j (got "postgres")');
    expect(found.some((p) => p.startsWith("REDIS_URL must"))).toBe(true);
  });

  it("picks the embedder: the ONNX model when one is installed (auto), USE lite otherwise", () => {
    const withModel = mkdtempSync(path.join(os.tmpdir(), "mnemo-config-model-"));
    const empty = mkdtempSync(path.join(os.tmpdir(), "mnemo-config-empty-"));
    writeFileSync(path.join(withModel, "model.onnx"), "");
    const otherModel = mkdtempSync(path.join(os.tmpdir(), "mnemo-config-model-"));
    writeFileSync(path.join(otherModel, "model.onnx"), "");
    try {
      const auto = loadConfig({ EMBEDDINGS_MODEL_PATH: withModel }).embeddings;
      expect(auto).toMatchObject({
        requested: "auto",
        provider: "onnx",
        modelPath: withModel,
        dimensions: 0,
      });
    } finally {
      rmSync(withModel, { recursive: true, force: true });
    }
    // Where EMBEDDINGS_MODEL_PATH is set it must hold a model: no silent fallback to USE lite.
    expect(problems({ EMBEDDINGS_MODEL_PATH: empty })).toEqual([
      expect.stringMatching(/^EMBEDDINGS_MODEL_PATH points to .*, which has no model\.onnx/),
    ]);
    expect(loadConfig({ EMBEDDINGS_PROVIDER: "local" }).embeddings).toMatchObject({
      provider: "local",
      dimensions: 512,
    });
    expect(problems({ EMBEDDINGS_PROVIDER: "onnx", EMBEDDINGS_MODEL_PATH: empty })).toEqual([
      expect.stringMatching(
        /^EMBEDDINGS_MODEL_PATH points to .*, which has no model\.onnx \(run `npm run models`/,
      ),
    ]);
    expect(
      problems({
        EMBEDDINGS_PROVIDER: "onnx",
        EMBEDDINGS_MODEL_PATH: otherModel,
        EMBEDDINGS_DIMENSIONS: "384",
      }),
    ).toEqual(["EMBEDDINGS_DIMENSIONS is read from the model with EMBEDDINGS_PROVIDER=onnx: leave it unset"]);
    expect(problems({ EMBEDDINGS_PROVIDER: "onnx", EMBEDDINGS_MODEL: "org/model" })).toEqual([]);
    expect(
      loadConfig({ EMBEDDINGS_PROVIDER: "onnx", EMBEDDINGS_MODEL: "org/model" }).embeddings.hubModel,
    ).toBe("org/model");
    expect(problems({ EMBEDDINGS_PROVIDER: "word2vec" })).toEqual([
      'EMBEDDINGS_PROVIDER must be one of auto, onnx, local, http, none (got "word2vec")',
    ]);
    // How much session context a vector carries: 0.5 unless set, 0 turns it off, at most 1.
    expect(loadConfig({}).embeddings.contextWeight).toBe(0.5);
    expect(loadConfig({ EMBEDDINGS_CONTEXT_WEIGHT: "0" }).embeddings.contextWeight).toBe(0);
    expect(problems({ EMBEDDINGS_CONTEXT_WEIGHT: "1.5" })).toEqual([
      'EMBEDDINGS_CONTEXT_WEIGHT must be a number from 0 to 1 (got "1.5")',
    ]);
    rmSync(otherModel, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  });

  it("refuses tokens without exp by default, in every environment, unless AUTH_ALLOW_NO_EXP=true", () => {
    expect(loadConfig({}).auth.allowNoExp).toBe(false);
    const secrets = { AUTH_JWT_SECRET: "x".repeat(32), INTERNAL_SECRET: "y".repeat(32) };
    expect(loadConfig({ NODE_ENV: "production", ...secrets }).auth.allowNoExp).toBe(false);
    expect(loadConfig({ AUTH_ALLOW_NO_EXP: "true" }).auth.allowNoExp).toBe(true);
    expect(problems({ AUTH_ALLOW_NO_EXP: "sometimes" })).toEqual([
      'AUTH_ALLOW_NO_EXP must be true or false (got "sometimes")',
    ]);
  });

  it("names what STORE=neo4j is missing", () => {
    expect(problems({ STORE: "neo4j" })).toEqual([
      "STORE=neo4j needs NEO4J_URI (e.g. neo4j://localhost:7687)",
      "STORE=neo4j needs NEO4J_PASSWORD",
    ]);
  });

  it("requires secrets in production and Redis when services run in separate processes", () => {
    expect(problems({ NODE_ENV: "production", REDIS_URL: "redis://r:6379" })).toEqual([
      "AUTH_JWT_SECRET (or AUTH_JWKS_URL) is required when NODE_ENV=production",
      expect.stringContaining("INTERNAL_SECRET is required"),
    ]);
    const alone = problems(
      { AUTH_JWT_SECRET: "x".repeat(32), INTERNAL_SECRET: "y".repeat(32) },
      { services: ["state"] },
    );
    expect(alone).toEqual([
      expect.stringContaining("running services in separate processes needs REDIS_URL"),
    ]);
  });

  it("makes `npm start` exit non-zero with the message", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "bin/start.ts"], {
      env: { ...process.env, STORE: "neo4j", NEO4J_URI: "", NEO4J_PASSWORD: "" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("STORE=neo4j needs NEO4J_URI");
  });
});
