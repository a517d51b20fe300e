/**
 * Redis connections for one process. ioredis covers a single server (`REDIS_URL`), Sentinel
 * (`REDIS_SENTINELS`) and Cluster (`REDIS_CLUSTER_NODES`); callers see one type.
 *
 * Commands and subscriptions use separate connections: a connection in subscriber mode cannot
 * run other commands. The command connection fails fast while Redis is down (no offline queue,
 * one retry) so the cache can fall back to the store instead of queueing requests; the pub/sub
 * connections keep an offline queue and re-subscribe on reconnect.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisConfig } from "./config.js";
import type { Logger } from "./logger.js";

export type RedisClient = Redis | Cluster;
export type RedisRole = "command" | "publisher" | "subscriber";

/** Every key Mnemo writes starts with this; bumping the version abandons old layouts safely. */
export const KEY_PREFIX = "mnemo:v1:";

const retryStrategy = (attempt: number) => Math.min(50 * 2 ** attempt, 2000);

function roleOptions(role: RedisRole): RedisOptions {
  if (role === "command") {
    return { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 };
  }
  // Publisher and subscriber alike. ioredis 6 holds user commands (a (re)subscription too) until
  // its connect handshake and ready check are done, so the 5.8.2+ race where SUBSCRIBE got in
  // before the ready check's INFO (ioredis#2037) no longer needs the subscriber to skip them.
  return { enableOfflineQueue: true, maxRetriesPerRequest: null };
}

export function createRedisClient(config: RedisConfig, role: RedisRole, logger?: Logger): RedisClient {
  const base: RedisOptions = {
    ...roleOptions(role),
    retryStrategy,
    connectionName: `mnemo-${role}`,
    lazyConnect: false,
  };
  let client: RedisClient;
  if (config.mode === "single") {
    client = new Redis(config.url, base);
  } else if (config.mode === "sentinel") {
    client = new Redis({
      // ioredis' ready check (on by default) also confirms the node is still the master.
      ...base,
      sentinels: config.sentinels,
      name: config.name,
      password: config.password,
      sentinelPassword: config.password,
      ...(config.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    });
  } else {
    client = new Cluster(config.nodes, {
      enableOfflineQueue: base.enableOfflineQueue,
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...base, password: config.password, ...(config.tls ? { tls: {} } : {}) },
    });
  }
  // ioredis emits "error" on every failed reconnect; without a listener Node would crash.
  let lastLogged = 0;
  client.on("error", (error: Error) => {
    const now = Date.now();
    if (now - lastLogged > 5000) {
      lastLogged = now;
      logger?.warn({ err: error.message, role }, "redis connection error");
    }
  });
  return client;
}

/** Resolves when the client is connected, or after `timeoutMs` (never rejects). */
export function waitForRedis(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once("ready", onReady);
  });
}

export async function pingRedis(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status !== "ready") throw new Error(`redis connection is ${client.status}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("redis PING timed out")), timeoutMs);
  });
  try {
    await Promise.race([client.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
