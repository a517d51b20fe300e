/**
 * Cache layers wired like a process's runtime (own Redis connections, own event bus) so one test
 * can act as several replicas, each with a real state service on a shared SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSqliteAgentDirectory } from "../../core/agents/sqlite-directory.js";
import { AuditLog } from "../../core/audit/audit-log.js";
import { createSqliteAuditStore } from "../../core/audit/sqlite-audit.js";
import type { Principal } from "../../core/auth/principal.js";
import { type CacheLayer, type CacheSettings, createCacheLayer } from "../../core/cache/index.js";
import type { RedisConfig } from "../../core/config.js";
import type { Encryptor } from "../../core/crypto/encryption.js";
import { createRedisEventBus, type EventBus } from "../../core/events.js";
import { createLogger } from "../../core/logger.js";
import { closeRedis, createRedisClient, type RedisClient, waitForRedis } from "../../core/redis.js";
import { StateService } from "../../subgraphs/state/domain/state-service.js";
import type { StateStore } from "../../subgraphs/state/domain/store-port.js";
import { createSqliteStateStore } from "../../subgraphs/state/store/sqlite.js";

export const WRITER: Principal = { sub: "fixture", role: "admin", agents: ["*"] };
const silent = createLogger({ logLevel: (process.env.TEST_LOG_LEVEL as "silent") ?? "silent" }, "test");

/**
 * A real store that counts batched loads and can hold them at a gate. By default it stands for a
 * store across a network (no revision probe, so reads go through Redis); `embedded` passes the
 * SQLite store's probe through, as the embedded store is read (near cache).
 */
export class CountingStore {
  loads = 0;
  loadedKeys = 0;
  /** Revision probes (embedded only). */
  probes = 0;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  /** Loads waiting at the gate right now. */
  waiting = 0;
  /**
   * Up to this many milliseconds between taking the snapshot and answering, at random: a store
   * across a network, whose answer can be older than a write that commits while it travels.
   */
  latencyMs = 0;

  readonly store: StateStore;

  constructor(
    readonly inner: StateStore,
    embedded = false,
  ) {
    this.store = {
      revisions: embedded
        ? (ids) => {
            this.probes++;
            return this.inner.revisions!(ids);
          }
        : undefined,
      currentStates: (ids) => this.pass(ids.length, () => this.inner.currentStates(ids)),
      versions: (refs) => this.pass(refs.length, () => this.inner.versions(refs)),
      history: (...args) => this.inner.history(...args),
      scanVersions: (...args) => this.inner.scanVersions(...args),
      append: (request) => this.inner.append(request),
      deleteAgent: (agentId) => this.inner.deleteAgent(agentId),
      prune: (agentId, keepLast) => this.inner.prune(agentId, keepLast),
      ping: () => this.inner.ping(),
      close: () => this.inner.close(),
    };
  }

  /** Loads started from now on wait until `release()`. */
  hold(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  private async pass<T>(keys: number, run: () => Promise<T>): Promise<T> {
    this.loads++;
    this.loadedKeys += keys;
    if (this.gate) {
      this.waiting++;
      // Read before waiting: the gate stands for a slow store that took its snapshot earlier.
      const result = await run();
      await this.gate;
      this.waiting--;
      return result;
    }
    if (this.latencyMs > 0) {
      const result = await run();
      await new Promise((resolve) => setTimeout(resolve, Math.random() * this.latencyMs));
      return result;
    }
    return run();
  }
}

export interface Replica {
  cache: CacheLayer;
  redis: RedisClient;
  events: EventBus;
  store: CountingStore;
  state: StateService;
  /** Labels of Redis round trips made by the entry backend (MGET, PUT_IF_NEWER, ...). */
  roundTrips: string[];
  close(): Promise<void>;
}

export interface ReplicaOptions {
  redis: RedisConfig;
  dataDir: string;
  encryption?: Encryptor;
  settings?: Partial<CacheSettings>;
  /** Read as an embedded store is (near cache checked by revision probes); default: across a network. */
  embedded?: boolean;
  /** Recover when the Redis connection is ready again, as the runtime does (default true). */
  recoverOnReconnect?: boolean;
}

/** One "process": its own connections, bus, cache layer and state service, sharing Redis and SQLite. */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const redis = createRedisClient(options.redis, "command");
  const publisher = createRedisClient(options.redis, "publisher");
  const subscriber = createRedisClient(options.redis, "subscriber");
  await waitForRedis(redis, 5000);
  const events = createRedisEventBus(publisher, subscriber);
  const roundTrips: string[] = [];
  const cache = createCacheLayer({
    redis,
    redisMode: options.redis.mode,
    events,
    logger: silent,
    encryption: options.encryption,
    settings: { statsFlushMs: 600_000, ...options.settings },
    hooks: { onRoundTrip: (label) => roundTrips.push(label) },
  });
  if (options.recoverOnReconnect !== false) redis.on("ready", () => void cache.availability.recover());
  await cache.start();
  // Under load a subscription can take longer than start() waits for it; tests need it live.
  await cache.listening;
  const store = new CountingStore(createSqliteStateStore(options.dataDir), options.embedded);
  const agents = createSqliteAgentDirectory(options.dataDir);
  const audit = new AuditLog(createSqliteAuditStore(options.dataDir), () => {});
  const state = new StateService({
    store: store.store,
    cache,
    events,
    agents,
    audit,
    limits: { maxBytes: 1 << 20, historyLimit: 0 },
    logger: silent,
  });
  return {
    cache,
    redis,
    events,
    store,
    state,
    roundTrips,
    async close() {
      await cache.close();
      await events.close();
      await closeRedis(redis);
      await store.store.close();
      await agents.close();
      await audit.close();
    },
  };
}

export function tempDir(prefix = "mnemo-cache-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls until `check` holds (for effects that travel over pub/sub); fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
