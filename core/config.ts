/**
 * Configuration from environment variables, validated once at start.
 *
 * Every problem is collected (not just the first) so an operator fixes a bad deployment in one
 * round trip; `ConfigError.problems` holds one human sentence per bad value.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { type AutoTuneSettings, DEFAULT_TTL_BOUNDS, validateBounds } from "./cache/auto-tune.js";
import { isCacheDataType } from "./cache/policy.js";
import { type EncryptionKey, parseEncryptionKeys } from "./crypto/encryption.js";

export type ServiceName = "gateway" | "state" | "memory" | "cache-admin";
export const SERVICE_NAMES: readonly ServiceName[] = ["gateway", "state", "memory", "cache-admin"];

export type RedisConfig =
  | { mode: "single"; url: string }
  | {
      mode: "sentinel";
      sentinels: { host: string; port: number }[];
      name: string;
      password?: string;
      tls: boolean;
    }
  | { mode: "cluster"; nodes: { host: string; port: number }[]; password?: string; tls: boolean };

export interface Neo4jConfig {
  uri: string;
  user: string;
  password: string;
  database: string;
  /**
   * How long the driver retries a transaction that failed transiently (a deadlock between
   * writers, a leader switch, a lost connection) before the request fails; NEO4J_MAX_RETRY_MS,
   * default 30000 (the driver's own).
   */
  maxRetryMs?: number;
}

export interface EmbeddingsConfig {
  /**
   * `onnx`: a sentence model in ONNX (EMBEDDINGS_MODEL_PATH, or EMBEDDINGS_MODEL from Hugging
   * Face); `local`: the offline Universal Sentence Encoder lite; `http`: an OpenAI-compatible
   * endpoint; `none`: client vectors only. EMBEDDINGS_PROVIDER=auto (the default) resolves to
   * `onnx` when a model directory is at EMBEDDINGS_MODEL_PATH and to `local` otherwise.
   */
  provider: "onnx" | "local" | "http" | "none";
  /** What was asked for: `auto` when the provider was chosen by what is installed. */
  requested: "auto" | "onnx" | "local" | "http" | "none";
  url?: string;
  /** For `http`: the model name sent to the endpoint; for `onnx`: a Hugging Face model id. */
  model?: string;
  apiKey?: string;
  /** Required for `http` and `none`; `local` is always 512; `onnx` reads it from the model (0 here). */
  dimensions: number;
  /** Worker threads used by the local and ONNX embedders and entity extraction. */
  workers: number;
  /**
   * How much of its session's previous memory a model-made vector carries, 0 to 1 (0: none);
   * see subgraphs/memory/domain/session-context.ts.
   */
  contextWeight: number;
  /** For `onnx`: a model directory (model.onnx, tokenizer.json, tokenizer_config.json). */
  modelPath: string;
  /** For `onnx` with EMBEDDINGS_MODEL and no EMBEDDINGS_MODEL_PATH: the Hugging Face model id to download. */
  hubModel?: string;
  /** Where models named by EMBEDDINGS_MODEL are downloaded to. */
  cacheDir: string;
}

/** Where `npm run models` puts the default model, relative to the working directory. */
export const DEFAULT_MODEL_PATH = "models/all-minilm-l6-v2";

/** Cache layer settings (see core/cache/settings.ts and docs/cache.md). */
export interface CacheConfig {
  fillLockMs: number;
  prefetch: boolean;
  prefetchLimit: number;
  statsFlushMs: number;
  /** TTL auto-tuning (core/cache/auto-tune.ts), run by cache-admin. */
  autoTune: AutoTuneSettings;
  /** Bytes the near cache (copies kept in this process) may hold. */
  nearCacheBytes: number;
}

export interface Config {
  env: "development" | "production" | "test";
  host: string;
  ports: Record<ServiceName, number>;
  /** Where the gateway finds each subgraph's /graphql endpoint. */
  subgraphUrls: Record<Exclude<ServiceName, "gateway">, string>;
  store: "sqlite" | "neo4j";
  dataDir: string;
  redis: RedisConfig | null;
  cache: CacheConfig;
  neo4j: Neo4jConfig | null;
  auth: {
    jwtSecret: string;
    /** True when no AUTH_JWT_SECRET was given and a development secret was generated. */
    jwtSecretGenerated: boolean;
    /** HS256 tokens are accepted when a secret is set (or generated); with only a JWKS URL they are not. */
    acceptHs256: boolean;
    /** RS256/ES256 tokens are verified against this JWKS when set. */
    jwksUrl?: string;
    internalSecret: string;
    issuer?: string;
    audience?: string;
    /** Accept client tokens without `exp` (AUTH_ALLOW_NO_EXP); refused by default in every environment. */
    allowNoExp: boolean;
  };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  introspection: boolean;
  limits: {
    stateMaxBytes: number;
    stateHistoryLimit: number;
    memoryMaxBytes: number;
    requestBodyBytes: number;
  };
  /** How often agents' forgetting policies are applied, ms (0 = only on demand with runForgetting). */
  memoryForgetIntervalMs: number;
  /** How often each process sends its usage counts to Redis, ms. */
  usageFlushMs: number;
  /** Live subscriptions through the gateway. */
  subscriptions: {
    /** Events waiting to be sent to one WebSocket client before it is closed as too slow. */
    queueLimit: number;
    /** Reconnection attempts to a subgraph before a subscription fails with UNAVAILABLE. */
    upstreamRetryAttempts: number;
  };
  embeddings: EmbeddingsConfig;
  /** Keys for encryption at rest, newest (the one that encrypts) first; empty = off. */
  encryptionKeys: EncryptionKey[];
  /** Gateway protections against expensive or abusive requests. */
  protection: {
    queryMaxDepth: number;
    queryMaxAliases: number;
    queryMaxCost: number;
    queryMaxTokens: number;
    /** GraphQL operations per principal per minute, across replicas (0 = off). */
    rateLimitPerMinute: number;
    maxSubscriptionsPerConnection: number;
    maxConnectionsPerPrincipal: number;
    /** Express `trust proxy`: honour X-Forwarded-For from this many proxy hops. */
    trustProxyHops: number;
  };
  /** Serve the gateway over TLS (https/wss) with these PEM files. */
  tls: { certFile: string; keyFile: string } | null;
  /** MCP over HTTP on the gateway (/mcp). */
  mcp: {
    /** A session with no request and no open event stream for this long is closed (MCP_SESSION_IDLE_MS). */
    sessionIdleMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Reads one typed value at a time, remembering every problem instead of throwing on the first. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name} must be one of ${allowed.join(", ")} (got "${value}")`);
    return fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return parsed;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${name} must be a number from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return parsed;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off"].includes(value)) return false;
    this.problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol.replace(/:$/, ""))) {
        this.problems.push(
          `${name} must use ${protocols.map((p) => `${p}://`).join(" or ")} (got "${value}")`,
        );
      }
      return value;
    } catch {
      this.problems.push(`${name} must be a URL like ${protocols[0]}://host:port (got "${value}")`);
      return undefined;
    }
  }

  hostPorts(name: string, defaultPort: number): { host: string; port: number }[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const nodes = value.split(",").map((part) => part.trim());
    const parsed: { host: string; port: number }[] = [];
    for (const node of nodes) {
      const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(node);
      const port = match?.[2] ? Number(match[2]) : defaultPort;
      if (!match?.[1] || port < 1 || port > 65535) {
        this.problems.push(`${name} must be a comma-separated list of host:port (bad entry "${node}")`);
        continue;
      }
      parsed.push({ host: match[1], port });
    }
    return parsed;
  }
}

export interface LoadConfigOptions {
  /** Which services this process runs; decides which settings are required. */
  services: readonly ServiceName[];
}

export function loadConfig(
  env: Env = process.env,
  options: LoadConfigOptions = { services: SERVICE_NAMES },
): Config {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf("NODE_ENV", ["development", "production", "test"] as const, "development");
  const production = nodeEnv === "production";
  const host = read.string("HOST", "127.0.0.1");

  const ports = {
    gateway: read.int("GATEWAY_PORT", 4000, 0, 65535),
    state: read.int("STATE_PORT", 4001, 0, 65535),
    memory: read.int("MEMORY_PORT", 4002, 0, 65535),
    "cache-admin": read.int("CACHE_ADMIN_PORT", 4003, 0, 65535),
  };
  const local = (port: number) => `http://127.0.0.1:${port}/graphql`;
  const subgraphUrls = {
    state: read.url("STATE_URL", ["http", "https"]) ?? local(ports.state),
    memory: read.url("MEMORY_URL", ["http", "https"]) ?? local(ports.memory),
    "cache-admin": read.url("CACHE_ADMIN_URL", ["http", "https"]) ?? local(ports["cache-admin"]),
  };

  const store = read.oneOf("STORE", ["sqlite", "neo4j"] as const, "sqlite");
  const dataDir = path.resolve(read.string("DATA_DIR", "./data"));

  const neo4jUri = read.url("NEO4J_URI", ["neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"]);
  let neo4j: Neo4jConfig | null = null;
  // cache-admin writes audit entries (cache.*), which belong in the shared store too.
  const usesStore = options.services.some((s) => s !== "gateway");
  if (store === "neo4j" && usesStore) {
    const password = read.raw("NEO4J_PASSWORD");
    if (!neo4jUri) read.problems.push("STORE=neo4j needs NEO4J_URI (e.g. neo4j://localhost:7687)");
    if (!password) read.problems.push("STORE=neo4j needs NEO4J_PASSWORD");
    neo4j = {
      uri: neo4jUri ?? "",
      user: read.string("NEO4J_USER", "neo4j"),
      password: password ?? "",
      database: read.string("NEO4J_DATABASE", "neo4j"),
      maxRetryMs: read.int("NEO4J_MAX_RETRY_MS", 30_000, 0, 600_000),
    };
  }

  const redis = readRedisConfig(read);

  const multiProcess = options.services.length < SERVICE_NAMES.length;
  if (multiProcess && !redis && options.services.some((s) => s !== "gateway")) {
    read.problems.push(
      "running services in separate processes needs REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES): " +
        "the in-process cache and pub/sub only work when all services share one process (npm start)",
    );
  }

  const jwksUrl = read.url("AUTH_JWKS_URL", ["https", "http"]);
  const servesClients = options.services.includes("gateway");
  let jwtSecret = read.raw("AUTH_JWT_SECRET");
  let jwtSecretGenerated = false;
  const acceptHs256 = jwtSecret !== undefined || jwksUrl === undefined;
  if (!jwtSecret) {
    if (servesClients && !jwksUrl && (production || multiProcess)) {
      read.problems.push(
        `AUTH_JWT_SECRET (or AUTH_JWKS_URL) is required ${production ? "when NODE_ENV=production" : "when the gateway runs in its own process"}`,
      );
    }
    // Unused for verification when only JWKS is configured (acceptHs256 = false).
    jwtSecret = randomBytes(32).toString("base64url");
    jwtSecretGenerated = acceptHs256;
  } else if (Buffer.byteLength(jwtSecret) < 32) {
    read.problems.push("AUTH_JWT_SECRET must be at least 32 bytes long (HS256 needs a 256-bit key)");
  }

  let internalSecret = read.raw("INTERNAL_SECRET");
  if (!internalSecret) {
    if (production || multiProcess) {
      read.problems.push(
        "INTERNAL_SECRET is required when services run in separate processes or in production: " +
          "the gateway signs the forwarded principal with it and subgraphs check the signature",
      );
    }
    internalSecret = randomBytes(32).toString("base64url");
  } else if (Buffer.byteLength(internalSecret) < 32) {
    read.problems.push("INTERNAL_SECRET must be at least 32 bytes long");
  }

  const requestedProvider = read.oneOf(
    "EMBEDDINGS_PROVIDER",
    ["auto", "onnx", "local", "http", "none"] as const,
    "auto",
  );
  const modelPathSet = read.raw("EMBEDDINGS_MODEL_PATH") !== undefined;
  const modelPath = path.resolve(read.string("EMBEDDINGS_MODEL_PATH", DEFAULT_MODEL_PATH));
  const modelPresent = existsSync(path.join(modelPath, "model.onnx"));
  const embeddingsProvider =
    requestedProvider === "auto" ? (modelPresent ? "onnx" : "local") : requestedProvider;
  if (modelPathSet && !modelPresent && (requestedProvider === "onnx" || requestedProvider === "auto")) {
    read.problems.push(
      `EMBEDDINGS_MODEL_PATH points to ${modelPath}, which has no model.onnx ` +
        "(run `npm run models`, or point it at a directory with model.onnx, tokenizer.json and tokenizer_config.json)",
    );
  }
  if (
    requestedProvider === "onnx" &&
    !modelPathSet &&
    !modelPresent &&
    read.raw("EMBEDDINGS_MODEL") === undefined
  ) {
    read.problems.push(
      `EMBEDDINGS_PROVIDER=onnx found no model at ${modelPath}: run \`npm run models\`, ` +
        "or set EMBEDDINGS_MODEL_PATH to a model directory, or EMBEDDINGS_MODEL to a Hugging Face model id",
    );
  }
  const embeddingsUrl = read.url("EMBEDDINGS_URL", ["http", "https"]);
  if (embeddingsProvider === "http" && !embeddingsUrl) {
    read.problems.push("EMBEDDINGS_PROVIDER=http needs EMBEDDINGS_URL (an OpenAI-compatible /v1 base URL)");
  }
  const defaultDimensions = embeddingsProvider === "local" ? 512 : 0;
  const dimensions = read.int(
    "EMBEDDINGS_DIMENSIONS",
    defaultDimensions,
    embeddingsProvider === "onnx" ? 0 : 1,
    8192,
  );
  if (embeddingsProvider === "local" && dimensions !== 512) {
    read.problems.push("EMBEDDINGS_DIMENSIONS must be 512 with the local embedder (or leave it unset)");
  }
  if (embeddingsProvider === "onnx" && read.raw("EMBEDDINGS_DIMENSIONS") !== undefined) {
    read.problems.push(
      "EMBEDDINGS_DIMENSIONS is read from the model with EMBEDDINGS_PROVIDER=onnx: leave it unset",
    );
  }
  if (
    (embeddingsProvider === "http" || embeddingsProvider === "none") &&
    read.raw("EMBEDDINGS_DIMENSIONS") === undefined
  ) {
    read.problems.push(`EMBEDDINGS_PROVIDER=${embeddingsProvider} needs EMBEDDINGS_DIMENSIONS`);
  }

  const rawKeys = [
    ...(read.raw("ENCRYPTION_KEYS")?.split(",") ?? []),
    ...(read.raw("ENCRYPTION_KEY") ? [read.raw("ENCRYPTION_KEY")!] : []),
  ].filter((k) => k.trim() !== "");
  const encryption = parseEncryptionKeys(rawKeys);
  read.problems.push(...encryption.problems.map((p) => `ENCRYPTION_KEY(S): ${p}`));

  const config: Config = {
    env: nodeEnv,
    host,
    ports,
    subgraphUrls,
    store,
    dataDir,
    redis,
    cache: {
      fillLockMs: read.int("CACHE_FILL_LOCK_MS", 2000, 0, 60_000),
      prefetch: read.bool("CACHE_PREFETCH", false),
      prefetchLimit: read.int("CACHE_PREFETCH_LIMIT", 3, 1, 32),
      statsFlushMs: read.int("CACHE_STATS_FLUSH_MS", 5000, 100, 600_000),
      autoTune: {
        enabled: read.bool("CACHE_AUTOTUNE", false),
        intervalMs: read.int("CACHE_AUTOTUNE_INTERVAL_MS", 60_000, 1000, 24 * 3_600_000),
        targetHitRatio: read.number("CACHE_AUTOTUNE_TARGET_HIT_RATIO", 0.9, 0.05, 0.99),
        bounds: readTtlBounds(read),
      },
      nearCacheBytes: read.int("CACHE_NEAR_MAX_MB", 64, 0, 65_536) * 2 ** 20,
    },
    neo4j,
    auth: {
      jwtSecret,
      jwtSecretGenerated,
      acceptHs256,
      jwksUrl,
      internalSecret,
      issuer: read.raw("AUTH_ISSUER"),
      audience: read.raw("AUTH_AUDIENCE"),
      // The same default in development as in production: a token issuer that works against a
      // development server then works against a production one.
      allowNoExp: read.bool("AUTH_ALLOW_NO_EXP", false),
    },
    logLevel: read.oneOf(
      "LOG_LEVEL",
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
      nodeEnv === "test" ? "silent" : "info",
    ),
    introspection: read.bool("INTROSPECTION", !production),
    limits: {
      stateMaxBytes: read.int("STATE_MAX_BYTES", 1024 * 1024, 1, 64 * 1024 * 1024),
      stateHistoryLimit: read.int("STATE_HISTORY_LIMIT", 0, 0, 1_000_000_000),
      memoryMaxBytes: read.int("MEMORY_MAX_BYTES", 64 * 1024, 1, 16 * 1024 * 1024),
      requestBodyBytes: read.int("REQUEST_MAX_BYTES", 2 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    },
    memoryForgetIntervalMs: read.int("MEMORY_FORGET_INTERVAL_MS", 3_600_000, 0, 7 * 24 * 3_600_000),
    usageFlushMs: read.int("USAGE_FLUSH_MS", 5000, 100, 600_000),
    subscriptions: {
      queueLimit: read.int("SUBSCRIPTION_QUEUE_LIMIT", 256, 1, 1_000_000),
      upstreamRetryAttempts: read.int("SUBSCRIPTION_RETRY_ATTEMPTS", 8, 0, 1000),
    },
    embeddings: {
      provider: embeddingsProvider,
      url: embeddingsUrl,
      model: read.raw("EMBEDDINGS_MODEL"),
      apiKey: read.raw("EMBEDDINGS_API_KEY"),
      dimensions,
      // Two workers (capped at the cores) run a write's texts side by side: the default model
      // runs one text at a time, which parallelises better across texts than inside one
      // (ingest 176-237/s against 134-200/s with one worker, bench:memory on 2 cores).
      workers: read.int("EMBEDDINGS_WORKERS", 2, 1, 64),
      // The default is the weight cross-validation chose on LoCoMo (session-context.ts).
      contextWeight: read.number("EMBEDDINGS_CONTEXT_WEIGHT", 0.5, 0, 1),
      requested: requestedProvider,
      modelPath,
      hubModel: embeddingsProvider === "onnx" && !modelPathSet ? read.raw("EMBEDDINGS_MODEL") : undefined,
      cacheDir: path.resolve(read.string("EMBEDDINGS_CACHE_DIR", "models/hf")),
    },
    encryptionKeys: encryption.keys,
    protection: {
      queryMaxDepth: read.int("QUERY_MAX_DEPTH", 15, 1, 1000),
      queryMaxAliases: read.int("QUERY_MAX_ALIASES", 100, 0, 10_000),
      queryMaxCost: read.int("QUERY_MAX_COST", 20_000, 1, 10_000_000),
      queryMaxTokens: read.int("QUERY_MAX_TOKENS", 5000, 10, 1_000_000),
      rateLimitPerMinute: read.int("RATE_LIMIT_PER_MINUTE", 1200, 0, 10_000_000),
      maxSubscriptionsPerConnection: read.int("MAX_SUBSCRIPTIONS_PER_CONNECTION", 100, 1, 100_000),
      maxConnectionsPerPrincipal: read.int("MAX_CONNECTIONS_PER_PRINCIPAL", 50, 1, 1_000_000),
      trustProxyHops: read.int("TRUST_PROXY_HOPS", 0, 0, 10),
    },
    tls: readTls(read),
    mcp: {
      sessionIdleMs: read.int("MCP_SESSION_IDLE_MS", 30 * 60_000, 1000, 7 * 24 * 3_600_000),
    },
  };

  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

function readRedisConfig(read: EnvReader): RedisConfig | null {
  const url = read.url("REDIS_URL", ["redis", "rediss"]);
  const sentinels = read.hostPorts("REDIS_SENTINELS", 26379);
  const clusterNodes = read.hostPorts("REDIS_CLUSTER_NODES", 6379);
  const chosen = [url, sentinels, clusterNodes].filter((v) => v !== undefined).length;
  if (chosen > 1) {
    read.problems.push("set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES");
    return null;
  }
  const password = read.raw("REDIS_PASSWORD");
  const tls = read.bool("REDIS_TLS", false);
  if (sentinels) {
    return {
      mode: "sentinel",
      sentinels,
      name: read.string("REDIS_SENTINEL_NAME", "mymaster"),
      password,
      tls,
    };
  }
  if (clusterNodes) return { mode: "cluster", nodes: clusterNodes, password, tls };
  if (url) return { mode: "single", url };
  return null;
}

/** CACHE_AUTOTUNE_BOUNDS: `TYPE:min-max` pairs, e.g. `AGENT_STATE:30-600,MEMORY:60-3600`; the rest keep their defaults. */
function readTtlBounds(read: EnvReader): AutoTuneSettings["bounds"] {
  const bounds = { ...DEFAULT_TTL_BOUNDS };
  const value = read.raw("CACHE_AUTOTUNE_BOUNDS");
  if (value === undefined) return bounds;
  for (const entry of value.split(",").map((part) => part.trim())) {
    const match = /^([A-Z_]+):(\d+)-(\d+)$/.exec(entry);
    if (!match || !isCacheDataType(match[1])) {
      read.problems.push(
        `CACHE_AUTOTUNE_BOUNDS entries must look like MEMORY:60-3600 with a cache data type (bad entry "${entry}")`,
      );
      continue;
    }
    const entryBounds = { minTtlSeconds: Number(match[2]), maxTtlSeconds: Number(match[3]) };
    const problem = validateBounds(entryBounds);
    if (problem) read.problems.push(`CACHE_AUTOTUNE_BOUNDS ${match[1]}: ${problem}`);
    else bounds[match[1]] = entryBounds;
  }
  return bounds;
}

function readTls(read: EnvReader): Config["tls"] {
  const certFile = read.raw("TLS_CERT_FILE");
  const keyFile = read.raw("TLS_KEY_FILE");
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) {
    read.problems.push("TLS needs both TLS_CERT_FILE and TLS_KEY_FILE (PEM files)");
    return null;
  }
  for (const [name, file] of [
    ["TLS_CERT_FILE", certFile],
    ["TLS_KEY_FILE", keyFile],
  ] as const) {
    if (!existsSync(file)) read.problems.push(`${name} points to ${file}, which does not exist`);
  }
  return { certFile, keyFile };
}
