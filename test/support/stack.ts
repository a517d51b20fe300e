/**
 * The whole Mnemo stack for a test: every service on port 0 in this process, SQLite files in a
 * temporary directory, and (optionally) a real Redis.
 */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type Stack, startStack } from "../../bin/stack.js";
import type { Principal } from "../../core/auth/principal.js";
import { issueToken } from "../../core/auth/tokens.js";
import { type Config, loadConfig, SERVICE_NAMES, type ServiceName } from "../../core/config.js";
import { createRuntime, type Runtime } from "../../core/runtime.js";
import { readModelDirectory } from "../../subgraphs/memory/analysis/onnx-model.js";
import { type GraphQLResponse, postGraphQL } from "./graphql-client.js";
import { neo4jTestEnvironment, type TestStore } from "./neo4j.js";
import { RedisServer } from "./redis-server.js";

export const TEST_JWT_SECRET = "test-jwt-secret-that-is-at-least-32-bytes-long";
export const TEST_INTERNAL_SECRET = "test-internal-secret-at-least-32-bytes-long!";

export interface TestStackOptions {
  /** The store of record: SQLite files in the data directory (default), or this worker's real Neo4j. */
  store?: TestStore;
  /** A Redis URL, or nothing for the in-process cache and bus. */
  redisUrl?: string;
  /** Extra environment (e.g. STATE_HISTORY_LIMIT). */
  env?: Record<string, string>;
  services?: readonly ServiceName[];
  /** Reuse a data directory (to test restarts); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Subgraph URLs for a gateway whose subgraphs run in another stack. */
  subgraphUrls?: Partial<Record<"state" | "memory" | "cache-admin", string>>;
  /** The gateway calls this stack's subgraphs over HTTP instead of in process. */
  gatewayOverHttp?: boolean;
}

export interface TestStack {
  readonly stack: Stack;
  /** The runtime of the stack's subgraphs (cache, stores); a gateway-only stack has none and throws. */
  readonly runtime: Runtime;
  readonly config: Config;
  readonly dataDir: string;
  url(service: ServiceName): string;
  token(principal: Principal, options?: { expiresIn?: string | number }): Promise<string>;
  /** POST to the gateway as this principal (admin when omitted; `null` for no token). */
  query<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    as?: Principal | null,
  ): Promise<GraphQLResponse<T>>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

export const ADMIN: Principal = { sub: "test-admin", role: "admin", agents: ["*"] };
export const agentPrincipal = (...agents: string[]): Principal => ({
  sub: `agent:${agents.join(",")}`,
  role: "agent",
  agents,
});
export const readerPrincipal = (...agents: string[]): Principal => ({
  sub: `reader:${agents.join(",")}`,
  role: "reader",
  agents,
});

/** The environment of test services: ports 0, the test secrets, quiet logs (also for child processes). */
export function testEnvironment(options: TestStackOptions & { dataDir: string }): Record<string, string> {
  return {
    NODE_ENV: "test",
    GATEWAY_PORT: "0",
    STATE_PORT: "0",
    MEMORY_PORT: "0",
    CACHE_ADMIN_PORT: "0",
    DATA_DIR: options.dataDir,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
}

export function testConfig(options: TestStackOptions & { dataDir: string }): Config {
  return loadConfig(testEnvironment(options), { services: options.services ?? SERVICE_NAMES });
}

/** The environment that selects `store` (nothing for SQLite, the default). */
export async function storeEnvironment(store: TestStore = "sqlite"): Promise<Record<string, string>> {
  return store === "neo4j" ? neo4jTestEnvironment() : {};
}

/**
 * Temporary data directories that a stack kept when it closed (`close({ keepData: true })`), so
 * that a later stack can reopen them (a restart). The stack that reopens one removes it in turn,
 * so a restart test leaves nothing behind.
 */
const keptDataDirs = new Set<string>();

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "mnemo-test-"));
  // A directory the caller made is the caller's to remove; one this harness made is ours.
  const ownsDataDir = options.dataDir === undefined || keptDataDirs.delete(dataDir);
  const services = options.services ?? SERVICE_NAMES;
  let config: Config;
  let runtime: Runtime | undefined;
  let stack: Stack;
  try {
    const env = { ...(await storeEnvironment(options.store)), ...options.env };
    config = testConfig({ ...options, env, dataDir });
    // As in production, a gateway alone builds no runtime for stores (bin/stack.ts does it).
    runtime = services.some((name) => name !== "gateway") ? await createRuntime(config) : undefined;
    stack = await startStack(config, {
      services,
      runtime,
      subgraphUrls: options.subgraphUrls,
      gatewayOverHttp: options.gatewayOverHttp,
    });
  } catch (error) {
    // Nobody gets a stack to close: release what was made so far, the data directory included.
    await runtime?.close().catch(() => {});
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const tokens = new Map<string, Promise<string>>();
  const token = (principal: Principal, tokenOptions?: { expiresIn?: string | number }) => {
    if (tokenOptions) return issueToken(config.auth, principal, tokenOptions);
    const key = JSON.stringify(principal);
    let issued = tokens.get(key);
    if (!issued) {
      issued = issueToken(config.auth, principal);
      tokens.set(key, issued);
    }
    return issued;
  };
  const url = (service: ServiceName) => {
    const running = stack.services[service];
    if (!running) throw new Error(`service ${service} is not running in this test stack`);
    return running.url;
  };
  return {
    stack,
    get runtime(): Runtime {
      if (!runtime) throw new Error("this test stack runs only the gateway: it has no subgraph runtime");
      return runtime;
    },
    config,
    dataDir,
    url,
    token,
    async query(query, variables = {}, as = ADMIN) {
      const headers: Record<string, string> =
        as === null ? {} : { authorization: `Bearer ${await token(as)}` };
      return postGraphQL(url("gateway"), query, variables, headers);
    },
    async close({ keepData = false } = {}) {
      await stack.close();
      await runtime?.close();
      if (!ownsDataDir) return;
      if (keepData) keptDataDirs.add(dataDir);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A real redis-server and a whole stack on it for one `describe` block: started in beforeAll,
 * stopped in afterAll. Read `.redis` and `.mnemo` inside tests (they are set once started).
 */
export function useRedisStack(options: Omit<TestStackOptions, "redisUrl"> = {}): {
  redis: RedisServer;
  mnemo: TestStack;
} {
  const handle = {} as { redis: RedisServer; mnemo: TestStack };
  beforeAll(async () => {
    handle.redis = await RedisServer.start();
    handle.mnemo = await startTestStack({ ...options, redisUrl: handle.redis.url });
  });
  afterAll(async () => {
    await handle.mnemo?.close();
    await handle.redis?.close();
  });
  return handle;
}

/**
 * The vector size of the default embedder (the ONNX model when `npm run models` placed it, else
 * USE lite): what client-supplied vectors must have in a default test stack.
 */
export function defaultEmbeddingDimensions(): number {
  const { embeddings } = loadConfig({});
  return embeddings.provider === "onnx"
    ? readModelDirectory(embeddings.modelPath).dimensions
    : embeddings.dimensions;
}
