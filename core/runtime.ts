/**
 * The shared infrastructure of one process: Redis connections, the event bus, the cache layer,
 * the agent directory, the audit log and the Neo4j driver. Services receive a runtime instead of
 * creating their own connections, so `npm start` (four services, one process) opens each only
 * once, while a test can build two runtimes to act as two replicas.
 *
 * A process that runs only the gateway builds only what the gateway uses (config, logger, the
 * Redis command connection for rate limits and connection quotas): no cache layer, no event
 * bus, no store connections, no agent directory or audit files.
 */

import { cachedAgentDirectory } from "./agents/cached-directory.js";
import type { AgentDirectory } from "./agents/directory.js";
import { createNeo4jAgentDirectory } from "./agents/neo4j-directory.js";
import { createSqliteAgentDirectory } from "./agents/sqlite-directory.js";
import { AuditLog, type AuditStore } from "./audit/audit-log.js";
import { createNeo4jAuditStore } from "./audit/neo4j-audit.js";
import { createSqliteAuditStore } from "./audit/sqlite-audit.js";
import { type CacheLayer, createCacheLayer } from "./cache/index.js";
import type { Config } from "./config.js";
import { createEncryptor, type Encryptor } from "./crypto/encryption.js";
import { createInProcessEventBus, createRedisEventBus, type EventBus } from "./events.js";
import { createLogger, type Logger } from "./logger.js";
import { closeRedis, createRedisClient, pingRedis, type RedisClient, waitForRedis } from "./redis.js";
import type { ReadinessChecks } from "./service/readiness.js";
import { createNeo4jDriver, type Driver } from "./store/neo4j.js";
import { UsageRecorder } from "./usage/recorder.js";
import { createInProcessUsageStore, createRedisUsageStore } from "./usage/store.js";

/** What every process has, the gateway's included. */
export interface ProcessRuntime {
  readonly config: Config;
  readonly logger: Logger;
  /** The command connection, or null when Redis is off. */
  readonly redis: RedisClient | null;
  /** Readiness checks for what the runtime owns (Redis; the cache and Neo4j in a subgraph's). */
  readiness(): ReadinessChecks;
  close(): Promise<void>;
}

/** What a process running subgraphs has besides. */
export interface Runtime extends ProcessRuntime {
  readonly events: EventBus;
  readonly cache: CacheLayer;
  readonly agents: AgentDirectory;
  /** The Neo4j driver (STORE=neo4j only). */
  readonly neo4j: Driver | null;
  /** Encryption at rest for state data, memory content and cached values (a no-op when off). */
  readonly encryption: Encryptor;
  /** Who changed what, for every write (admin-readable). */
  readonly audit: AuditLog;
  /** Usage analytics per agent and principal, shared by replicas through Redis (admin `usage`). */
  readonly usage: UsageRecorder;
}

/** How long start-up waits for Redis before continuing degraded (reads fall back to the store). */
const REDIS_START_WAIT_MS = 5000;

/** The runtime of a process that runs only the gateway. */
export async function createGatewayRuntime(
  config: Config,
  options: { logger?: Logger } = {},
): Promise<ProcessRuntime> {
  const logger = options.logger ?? createLogger(config, "mnemo");
  const redis = config.redis ? createRedisClient(config.redis, "command", logger) : null;
  if (redis && !(await waitForRedis(redis, REDIS_START_WAIT_MS))) {
    logger.warn(
      "Redis is not reachable yet; rate limits and connection quotas count in this process meanwhile",
    );
  }
  return {
    config,
    logger,
    redis,
    readiness: () => redisReadiness(redis),
    async close() {
      if (redis) await closeRedis(redis);
    },
  };
}

/** The runtime of a process that runs one or more subgraphs (and maybe the gateway too). */
export async function createRuntime(config: Config, options: { logger?: Logger } = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config, "mnemo");
  let redis: RedisClient | null = null;
  let publisher: RedisClient | null = null;
  let subscriber: RedisClient | null = null;
  let events: EventBus;
  let cache: CacheLayer;
  const encryption = createEncryptor(config.encryptionKeys);

  if (config.redis) {
    redis = createRedisClient(config.redis, "command", logger);
    publisher = createRedisClient(config.redis, "publisher", logger);
    subscriber = createRedisClient(config.redis, "subscriber", logger);
    events = createRedisEventBus(publisher, subscriber);
    cache = createCacheLayer({
      redis,
      redisMode: config.redis.mode,
      events,
      logger,
      encryption,
      settings: config.cache,
    });
    const connected = await waitForRedis(redis, REDIS_START_WAIT_MS);
    if (!connected)
      logger.warn("Redis is not reachable yet; starting degraded (cache bypassed) and retrying");
    // After any reconnect: replay invalidations queued during the outage, re-read policies.
    redis.on("ready", () => {
      void cache.availability.recover();
    });
  } else {
    events = createInProcessEventBus();
    cache = createCacheLayer({ redis: null, events, logger, encryption, settings: config.cache });
  }
  await cache.start();

  let neo4jDriver: Driver | null = null;
  let agents: AgentDirectory;
  let auditStore: AuditStore;
  if (config.store === "neo4j" && config.neo4j) {
    neo4jDriver = createNeo4jDriver(config.neo4j);
    agents = await createNeo4jAgentDirectory(neo4jDriver, config.neo4j.database);
    auditStore = await createNeo4jAuditStore(neo4jDriver, config.neo4j.database);
  } else {
    agents = createSqliteAgentDirectory(config.dataDir);
    auditStore = createSqliteAuditStore(config.dataDir);
  }
  // Listings are read through the cache; a change of the agent set purges them.
  agents = cachedAgentDirectory(agents, cache);
  const audit = new AuditLog(auditStore, (error, entry) =>
    logger.error(
      { err: String(error), action: entry.action, agentId: entry.agentId },
      "could not record audit entry",
    ),
  );

  const usage = new UsageRecorder({
    store: redis ? createRedisUsageStore(redis) : createInProcessUsageStore(),
    flushMs: config.usageFlushMs,
    logger,
  });
  usage.start();

  return {
    config,
    logger,
    redis,
    events,
    cache,
    agents,
    neo4j: neo4jDriver,
    encryption,
    audit,
    usage,
    readiness() {
      const checks = redisReadiness(redis);
      // The cache's own view: degraded until Redis answers AND the outage's invalidations are replayed.
      checks.cache = async () => {
        const health = await cache.availability.health();
        if (!health.ok) {
          throw new Error(
            `degraded since ${health.degradedSince}: reads bypass the cache, ` +
              `${health.pendingInvalidations} invalidation(s) waiting for Redis`,
          );
        }
      };
      if (neo4jDriver) {
        const driver = neo4jDriver;
        checks.neo4j = async () => {
          await driver.getServerInfo();
        };
      }
      return checks;
    },
    async close() {
      await usage.close();
      await cache.close();
      await events.close();
      if (redis) await closeRedis(redis);
      // RedisPubSub.close() quits its connections; these calls cover a bus that never connected.
      if (publisher && publisher.status !== "end") await closeRedis(publisher);
      if (subscriber && subscriber.status !== "end") await closeRedis(subscriber);
      await agents.close();
      await audit.close();
      await neo4jDriver?.close();
    },
  };
}

function redisReadiness(redis: RedisClient | null): ReadinessChecks {
  const checks: ReadinessChecks = {};
  if (redis) checks.redis = () => pingRedis(redis);
  return checks;
}
