/**
 * The cache layer of one process: the roles of index.ts wired together. Subgraphs use its small
 * service surface (registerSource, loader, write, purgeAgent); the cache-admin subgraph uses
 * `admin`; the runtime uses start/close and `availability` (for /ready and Redis reconnects).
 */
import { randomBytes } from "node:crypto";
import type DataLoader from "dataloader";
import { type Encryptor, plaintextStorage } from "../crypto/encryption.js";
import { createInProcessEventBus, type EventBus } from "../events.js";
import type { Logger } from "../logger.js";
import { CacheAdmin } from "./admin.js";
import { CacheAvailability } from "./availability.js";
import type { CacheBackend, EntryWrite } from "./backend.js";
import { BackgroundWork } from "./background.js";
import {
  CACHE_EVENTS_TOPIC,
  type CacheEvent,
  CacheEventPublisher,
  WARM_REQUEST_TOPIC,
} from "./cache-events.js";
import { type CoAccessStore, CoAccessTracker, createInProcessCoAccessStore } from "./coaccess.js";
import { EntryCodec } from "./codec.js";
import { StoreFill } from "./fill.js";
import { type CacheRef, parseCacheKey } from "./keys.js";
import { NearCache } from "./near-cache.js";
import { CachePolicies } from "./policies.js";
import type { CacheDataType, CachePolicy } from "./policy.js";
import { createInProcessPolicyStore, type PolicyStore } from "./policy-store.js";
import { PREFETCH_INTERVAL_MS, PREFETCH_TYPES, Prefetcher } from "./prefetch.js";
import { ReadThrough } from "./read-through.js";
import type { RedisInfo } from "./redis-info.js";
import { type CacheSettings, DEFAULT_CACHE_SETTINGS } from "./settings.js";
import { type BatchLoad, type CacheSource, CacheSources } from "./sources.js";
import { CacheCounters, createInProcessStatsStore, type StatsStore, type TypeCounters } from "./stats.js";
import {
  answerWarmRequest,
  createInProcessWarmCoordination,
  type WarmCoordination,
  type WarmRequest,
} from "./warm.js";
import { CacheWrites } from "./writes.js";

export interface CacheLayerOptions {
  backend: CacheBackend;
  policyStore?: PolicyStore;
  statsStore?: StatsStore;
  coAccess?: CoAccessStore;
  warm?: WarmCoordination;
  /** Where invalidations, policy changes and warm requests are broadcast. */
  events?: EventBus;
  redisInfo?: () => Promise<RedisInfo>;
  logger?: Logger;
  /**
   * Encrypts cached values (AES-256-GCM, bound to their cache key), so Redis never holds state
   * data or memory content in the clear when encryption at rest is on.
   */
  encryption?: Encryptor;
  settings?: Partial<CacheSettings>;
  /** Policies to start from instead of the defaults (before any stored change is loaded). */
  policies?: Partial<Record<CacheDataType, CachePolicy>>;
}

/** How long start() waits for its event subscriptions (they complete later if Redis is slow). */
const SUBSCRIBE_WAIT_MS = 3000;
/** Background work still running at shutdown is abandoned after this long. */
const CLOSE_GRACE_MS = 3000;
/** Entries per pipeline when re-seeding Redis from the near cache. */
const RESEED_BATCH = 500;

export class CacheLayer {
  readonly backend: CacheBackend;
  readonly settings: CacheSettings;
  readonly policies: CachePolicies;
  readonly availability: CacheAvailability;
  readonly admin: CacheAdmin;
  /** Identifies this process in cache events. */
  readonly instanceId = randomBytes(6).toString("hex");
  /** Resolves once this process receives cache events (policy changes, warm requests). */
  listening: Promise<void> = Promise.resolve();

  private readonly events: EventBus;
  private readonly logger?: Logger;
  private readonly statsStore: StatsStore;
  private readonly warm: WarmCoordination;
  private readonly counters = new CacheCounters();
  private readonly sources = new CacheSources();
  private readonly background: BackgroundWork;
  private readonly near: NearCache;
  private readonly codec: EntryCodec;
  private readonly fill: StoreFill;
  private readonly reads: ReadThrough;
  private readonly writes: CacheWrites;
  private readonly prefetcher: Prefetcher | null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unlisten: (() => void)[] = [];
  private lifecycle: "created" | "started" | "closed" = "created";

  constructor(options: CacheLayerOptions) {
    this.backend = options.backend;
    this.settings = { ...DEFAULT_CACHE_SETTINGS, ...options.settings };
    this.events = options.events ?? createInProcessEventBus();
    this.logger = options.logger;
    this.statsStore = options.statsStore ?? createInProcessStatsStore();
    this.warm = options.warm ?? createInProcessWarmCoordination();
    this.background = new BackgroundWork(options.logger);
    const publisher = new CacheEventPublisher(this.events, this.instanceId, options.logger);
    this.policies = new CachePolicies(
      options.policyStore ?? createInProcessPolicyStore(),
      options.policies,
      options.logger,
      (record) => publisher.publish({ kind: "POLICY_CHANGE", type: record.type, policy: record }),
    );
    this.near = new NearCache(this.settings.nearCacheBytes);
    this.availability = new CacheAvailability({
      backend: this.backend,
      reloadPolicies: () => this.policies.reload(),
      // Redis now holds tombstones for what was written during the outage; what the near
      // cache holds is as good as a write-back (revision-compared like one).
      onRecovered: () => this.background.track(this.reseedFromNear()),
      logger: options.logger,
    });
    this.codec = new EntryCodec(
      options.encryption ?? plaintextStorage,
      (type) => this.policies.get(type).ttlSeconds,
      options.logger,
    );
    this.fill = new StoreFill({
      backend: this.backend,
      availability: this.availability,
      policies: this.policies,
      counters: this.counters,
      codec: this.codec,
      near: this.near,
      background: this.background,
      fillLockMs: this.settings.fillLockMs,
    });
    this.prefetcher = this.settings.prefetch
      ? new Prefetcher({
          tracker: new CoAccessTracker(),
          store: options.coAccess ?? createInProcessCoAccessStore(),
          limit: this.settings.prefetchLimit,
          // Looking again before the warmed entries could have expired is wasted work.
          intervalMs: () =>
            Math.min(
              PREFETCH_INTERVAL_MS,
              ...[...PREFETCH_TYPES].map((type) => (this.policies.get(type).ttlSeconds * 1000) / 2),
            ),
          canLoad: (type) => this.sources.has(type),
          warm: (type, refs) => this.fill.fillFromStore(type, this.sources.require(type), refs, "prefetched"),
        })
      : null;
    this.reads = new ReadThrough({
      backend: this.backend,
      availability: this.availability,
      policies: this.policies,
      sources: this.sources,
      counters: this.counters,
      codec: this.codec,
      near: this.near,
      fill: this.fill,
      prefetcher: this.prefetcher,
      background: this.background,
    });
    this.writes = new CacheWrites({
      readsNear: (type) => this.near.enabled && this.sources.get(type)?.probe !== undefined,
      availability: this.availability,
      policies: this.policies,
      counters: this.counters,
      codec: this.codec,
      near: this.near,
      publisher,
    });
    this.admin = new CacheAdmin({
      backend: this.backend,
      availability: this.availability,
      policies: this.policies,
      counters: this.counters,
      statsStore: this.statsStore,
      near: this.near,
      publisher,
      events: this.events,
      warm: this.warm,
      redisInfo: options.redisInfo,
      flushCounters: () => this.flushCounters(),
    });
  }

  // ---- what subgraphs use ------------------------------------------------------------------

  /**
   * Tells the cache how this process loads a type: per-request reads, prefetch and warmAgent
   * all use it. Register once per type, with a loader that does not depend on a request.
   */
  registerSource<T>(type: CacheDataType, source: BatchLoad<T> | CacheSource<T>): void {
    this.sources.register(type, source);
    if (this.lifecycle === "started") this.background.track(this.announceSources());
  }

  /** A DataLoader for one request (see ReadThrough.loader); the type's source must be registered. */
  loader<T>(type: CacheDataType): DataLoader<CacheRef, T | null, string> {
    return this.reads.loader<T>(type);
  }

  /** Records a committed change; see CacheWrites.write. */
  write<T>(type: CacheDataType, ref: CacheRef, revision: number, value?: T | null): Promise<void> {
    return this.writes.write(type, ref, revision, value);
  }

  /** After the store dropped an agent's data of these types; see CacheWrites.purgeAgent. */
  purgeAgent(agentId: string, types: readonly CacheDataType[], floor: number): Promise<void> {
    return this.writes.purgeAgent(agentId, types, floor);
  }

  /** This process's counters since it started. */
  stats(type: CacheDataType): TypeCounters {
    return this.counters.local(type);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Loads the stored policies, listens for policy changes, invalidations and warm requests,
   * and starts the periodic flush. Call once; reads and writes work before it (with default
   * policies).
   */
  async start(): Promise<void> {
    if (this.lifecycle !== "created") return;
    this.lifecycle = "started";
    try {
      await this.policies.reload();
    } catch (error) {
      this.logger?.warn(
        { err: String(error) },
        "cache policies not loaded yet (Redis unavailable); using defaults",
      );
    }
    // Subscribed before start() returns, so a change made right after is not missed; but while
    // Redis is down a subscription waits for it, and start-up must not wait long for that.
    this.listening = Promise.all([
      this.listen<CacheEvent>(CACHE_EVENTS_TOPIC, (event) => this.onCacheEvent(event)),
      this.listen<WarmRequest>(WARM_REQUEST_TOPIC, (request) => {
        this.background.track(
          answerWarmRequest(request, {
            sources: this.sources,
            coordination: this.warm,
            backend: this.backend,
            events: this.events,
            fill: (type, source, refs) => this.fill.fillFromStore(type, source, refs, null),
            logger: this.logger,
          }),
        );
      }),
    ]).then(() => {});
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.listening,
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, SUBSCRIBE_WAIT_MS);
      }),
    ]);
    clearTimeout(timeout);
    const timer = setInterval(() => this.background.track(this.periodic()), this.settings.statsFlushMs);
    timer.unref();
    this.timers.push(timer);
    this.availability.startProbing();
    this.background.track(this.announceSources());
  }

  /** Stops timers, sends the last counters, waits for background work. */
  async close(): Promise<void> {
    this.lifecycle = "closed";
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.availability.stopProbing();
    for (const stop of this.unlisten.splice(0)) stop();
    if (this.availability.usable) await this.flush();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.settled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Sends counters and co-access to Redis (normally done every `statsFlushMs`). */
  async flush(): Promise<void> {
    await Promise.all([this.flushCounters(), this.prefetcher?.flush().catch(() => {})]);
  }

  /** Resolves when background work started so far (write-backs, prefetch, lock releases) is done. */
  settled(): Promise<void> {
    return this.background.settled();
  }

  /**
   * Writes the near cache's copies to Redis, as write-backs (refused where Redis holds a newer
   * revision or a floor), so the shared cache is warm again after an outage for the admin view
   * and any process that reads Redis.
   */
  private async reseedFromNear(): Promise<void> {
    const writes: EntryWrite[] = [];
    for (const [key, copy] of this.near.copies()) {
      const parsed = parseCacheKey(key);
      if (!parsed || !this.policies.get(parsed.type).enabled) continue;
      writes.push(this.codec.entry(parsed.type, parsed, copy.revision, copy.value));
    }
    for (let start = 0; start < writes.length; start += RESEED_BATCH) {
      await this.backend.putIfNewer(writes.slice(start, start + RESEED_BATCH));
    }
  }

  private async flushCounters(): Promise<void> {
    const deltas = this.counters.take();
    if (!deltas) return;
    try {
      await this.statsStore.add(deltas);
    } catch {
      this.counters.giveBack(deltas);
    }
  }

  private async periodic(): Promise<void> {
    if (!this.availability.usable) return;
    await this.flush();
    await this.announceSources();
    // Safety net for a POLICY_CHANGE event this process missed (pub/sub is at most once).
    await this.policies.reload().catch(() => {});
  }

  private async announceSources(): Promise<void> {
    if (this.sources.size === 0) return;
    const ttlMs = Math.max(30_000, this.settings.statsFlushMs * 3);
    await this.warm.announce(this.sources.types(), ttlMs).catch(() => {});
  }

  private onCacheEvent(event: CacheEvent): void {
    if (event.kind === "POLICY_CHANGE") {
      this.background.track(this.policies.reload());
      return;
    }
    // Another process invalidated: its near copies here would fail their store check anyway;
    // dropping them now frees the memory (and is all an admin invalidation could ask for).
    if (event.origin === this.instanceId) return;
    if (event.scope === "KEY" && event.key) this.near.drop(event.key);
    else if (event.scope === "AGENT" && event.agentId)
      this.near.dropAgent(event.agentId, event.type ? [event.type] : undefined);
    else if (event.scope === "TYPE" && event.type) this.near.dropType(event.type);
  }

  private listen<T>(topicName: string, handler: (payload: T) => void): Promise<void> {
    return this.events.listen<T>(topicName, handler).then(
      (stop) => {
        if (this.lifecycle === "closed") stop();
        else this.unlisten.push(stop);
      },
      (error: unknown) =>
        this.logger?.warn({ err: String(error), topic: topicName }, "cache event subscription failed"),
    );
  }
}
