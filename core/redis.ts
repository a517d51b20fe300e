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
  if (role === "subscriber") {
    // ioredis 5.8.2+ sends its connect handshake (CLIENT SETINFO, then INFO for the ready check)
    // after a tick, so a (re)subscription can slip in first and the INFO is refused in subscriber
    // mode: an unhandled rejection and a failed ready check (ioredis#2037, fixed in 6.x). A
    // subscriber runs no other command, so it skips both (but see Sentinel below).
    return {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      disableClientInfo: true,
      enableReadyCheck: false,
    };
  }
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
      ...base,
      // Behind Sentinel the ready check also confirms the node is still the master: keep it.
      enableReadyCheck: true,
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
