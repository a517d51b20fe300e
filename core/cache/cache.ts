/**
 * The cache layer every subgraph uses.
 *
 * Reads: a per-request DataLoader batches the keys a request needs, reads them with one MGET,
 * loads all misses from the store in one batched call and writes them back (TTL with jitter,
 * revision-compared). Concurrent misses for one key share one store load: in this process
 * through single-flight, across processes through a short fill lock read with the same MGET.
 *
 * Writes: after the store commits, `write()` stores the new value (WRITE_THROUGH) or a
 * tombstone with the new revision (INVALIDATE) before the mutation returns. If Redis is down,
 * the invalidation is remembered and replayed when Redis is back, and reads bypass the cache
 * meanwhile, so an outage makes reads slower but never wrong.
 *
 * Why there is no in-process copy in front of Redis (an "L1"): a value held in one process can
 * only be invalidated by a message from the process that wrote, and pub/sub delivery is
 * asynchronous and at most once, so a client could write through replica A and then read its
 * old value from replica B. Redis is one round trip per request batch; that is the price of
 * reading your own writes everywhere.
 *
 * See docs/cache.md for the consistency argument in full.
 */
import { randomBytes } from "node:crypto";
import DataLoader from "dataloader";
import { type Encryptor, plaintextStorage } from "../crypto/encryption.js";
import { createInProcessEventBus, type EventBus } from "../events.js";
import type { Logger } from "../logger.js";
import type { CacheBackend, EntryWrite, FillRead, KeyDetails } from "./backend.js";
import {
  CACHE_EVENTS_TOPIC,
  type CacheEvent,
  type PolicyRecord,
  WARM_REQUEST_TOPIC,
  warmReplyTopic,
} from "./cache-events.js";
import { type CoAccessStore, CoAccessTracker, createInProcessCoAccessStore } from "./coaccess.js";
import { agentTagKey, type CacheRef, cacheKey, floorKey, parseCacheKey } from "./keys.js";
import { FLOOR_TTL_MS, OutageQueue } from "./outage-queue.js";
import {
  CACHE_DATA_TYPES,
  type CacheDataType,
  type CachePolicy,
  type CachePolicyPatch,
  ttlWithJitter,
} from "./policy.js";
import { PolicyRegistry } from "./policy-registry.js";
import { createInProcessPolicyStore, type PolicyStore } from "./policy-store.js";
import { PREFETCH_INTERVAL_MS, PREFETCH_TYPES, Prefetcher } from "./prefetch.js";
import type { RedisInfo } from "./redis-info.js";
import {
  CacheCounters,
  type CounterName,
  createInProcessStatsStore,
  type StatsStore,
  type TypeCounters,
} from "./stats.js";
import {
  createInProcessWarmCoordination,
  requestWarm,
  type WarmCoordination,
  type WarmReply,
  type WarmRequest,
} from "./warm.js";

/** A value as the store knows it: `revision` grows with every change of that entry (deletes too). */
export interface Revisioned<T> {
  revision: number;
  /** null: the store has nothing for this ref (cached too, so absent data does not hit the store). */
  value: T | null;
}

export type BatchLoad<T> = (refs: readonly CacheRef[]) => Promise<Revisioned<T>[]>;

/** How a process loads one type outside a request: for prefetch and warmAgent. */
export interface CacheSource<T = unknown> {
  load: BatchLoad<T>;
  /** Entries worth warming for an agent besides those cached for it recently (e.g. its current state). */
  warmRefs?: (agentId: string) => Promise<CacheRef[]>;
}

export interface CacheSettings {
  /**
   * How long a process may hold the fill lock of an entry it loads, and how long the others
   * wait for it before loading themselves. 0 turns cross-process stampede protection off.
   */
  fillLockMs: number;
  /** Warm the entries an agent usually reads next (co-access); off by default. */
  prefetch: boolean;
  /** Successors warmed per entry read. */
  prefetchLimit: number;
  /** How often counters and co-access are sent to Redis and policies re-read. */
  statsFlushMs: number;
}

export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  fillLockMs: 2000,
  // Off by default: in bench:cache it raises the hit ratio of cold sessions but costs
  // throughput and does not reduce store queries (docs/cache.md).
  prefetch: false,
  prefetchLimit: 3,
  statsFlushMs: 5000,
};

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

export interface CacheTypeStats extends TypeCounters {
  type: CacheDataType;
  keys: number;
  tombstones: number;
  memoryBytes: number;
}

export interface CacheStatsSnapshot {
  since: string | null;
  /** False when the shared counters could not be read (Redis down): this process only. */
  allReplicas: boolean;
  byType: CacheTypeStats[];
  /** Key and memory numbers extrapolated from a sample (large keyspace). */
  keysEstimated: boolean;
  redis: RedisInfo | null;
  backend: CacheBackend["kind"];
  degraded: boolean;
  pendingInvalidations: number;
}

export interface CacheHealth {
  ok: boolean;
  backend: CacheBackend["kind"];
  degradedSince: string | null;
  pendingInvalidations: number;
}

export interface CacheKeyPage {
  keys: { details: KeyDetails; cursor: string }[];
  /** Where the next page starts; null when the listing is complete. */
  cursor: string | null;
}

/** While degraded, Redis is probed this often (besides ioredis' own "ready" event). */
const RECOVERY_PROBE_MS = 1000;
/** Polling for another process's fill: first delay, then doubling up to the cap. */
const FILL_POLL_FIRST_MS = 2;
const FILL_POLL_MAX_MS = 50;
/** How long start() waits for its event subscriptions (they complete later if Redis is slow). */
const SUBSCRIBE_WAIT_MS = 3000;
/** Background work still running at shutdown is abandoned after this long. */
const CLOSE_GRACE_MS = 3000;

interface Miss {
  index: number;
  key: string;
  ref: CacheRef;
  /** A tombstone says the store is at least here: a value older than this is not acceptable. */
  minRevision: number;
  /** Another process held the key's fill lock when it was read. */
  lockedElsewhere: boolean;
  /**
   * This process is already loading the key (a load this read may not join). A fill lock seen
   * on it is then ours: waiting for it would only wait for ourselves, so the key is loaded.
   */
  loadingHere?: boolean;
}

interface Flight {
  /** Sequence number taken when the load was registered; see `loadMany`. */
  startedAfter: number;
  promise: Promise<Revisioned<unknown>>;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A load nobody else joined must not surface as an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Kept for callers of the first cache layer. */
export type CacheTypeCounters = TypeCounters;

export class CacheLayer {
  readonly backend: CacheBackend;
  /** Identifies this process in cache events. */
  readonly instanceId = randomBytes(6).toString("hex");
  readonly settings: CacheSettings;
  private readonly statsStore: StatsStore;
  private readonly warmCoordination: WarmCoordination;
  private readonly events: EventBus;
  private readonly redisInfo?: () => Promise<RedisInfo>;
  private readonly logger?: Logger;
  private readonly encryption: Encryptor;
  private readonly counters = new CacheCounters();
  private readonly prefetcher: Prefetcher | null;
  private readonly sources = new Map<CacheDataType, CacheSource>();
  private readonly policies: PolicyRegistry;

  /** Orders reads and store loads in this process (single-flight joins, see `loadMany`). */
  private sequence = 0;
  private readonly inflight = new Map<string, Flight>();
  /** Invalidations that could not reach the cache; replayed by `recover()`. */
  private readonly pending = new OutageQueue();
  private degradedSince: number | null = null;
  private recovering: Promise<boolean> | null = null;
  private readonly background = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly unlisten: (() => void)[] = [];
  private started = false;
  private closed = false;
  /** Resolves once this process receives cache events (policy changes, warm requests). */
  listening: Promise<void> = Promise.resolve();

  constructor(options: CacheLayerOptions) {
    this.backend = options.backend;
    this.settings = { ...DEFAULT_CACHE_SETTINGS, ...options.settings };
    this.statsStore = options.statsStore ?? createInProcessStatsStore();
    this.warmCoordination = options.warm ?? createInProcessWarmCoordination();
    this.events = options.events ?? createInProcessEventBus();
    this.redisInfo = options.redisInfo;
    this.logger = options.logger;
    this.encryption = options.encryption ?? plaintextStorage;
    this.policies = new PolicyRegistry(
      options.policyStore ?? createInProcessPolicyStore(),
      options.policies,
      options.logger,
    );
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
          warm: (type, refs) => this.fillFromStore(type, refs, "prefetched"),
        })
      : null;
  }

  /**
   * Loads the stored policies, listens for policy changes and warm requests, and starts the
   * periodic flush. Call once; reads and writes work before it (with default policies).
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.reloadPolicies();
    } catch (error) {
      this.logger?.warn(
        { err: String(error) },
        "cache policies not loaded yet (Redis unavailable); using defaults",
      );
    }
    // Subscribed before start() returns, so a change made right after is not missed; but while
    // Redis is down a subscription waits for it, and start-up must not wait long for that.
    this.listening = Promise.all([
      this.listen<CacheEvent>(CACHE_EVENTS_TOPIC, (event) => {
        if (event.kind === "POLICY_CHANGE") this.track(this.reloadPolicies());
      }),
      this.listen<WarmRequest>(WARM_REQUEST_TOPIC, (request) => {
        this.track(this.answerWarmRequest(request));
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
    const timer = setInterval(() => this.track(this.periodic()), this.settings.statsFlushMs);
    timer.unref();
    this.timers.push(timer);
    this.track(this.announceSources());
  }

  private listen<T>(topicName: string, handler: (payload: T) => void): Promise<void> {
    return this.events.listen<T>(topicName, handler).then(
      (stop) => {
        if (this.closed) stop();
        else this.unlisten.push(stop);
      },
      (error: unknown) =>
        this.logger?.warn({ err: String(error), topic: topicName }, "cache event subscription failed"),
    );
  }

  /** Stops timers, sends the last counters, waits for background work. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.stopProbe();
    for (const stop of this.unlisten.splice(0)) stop();
    if (!this.degraded) await this.flush();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.settled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  // ---- policies --------------------------------------------------------------------------

  policy(type: CacheDataType): CachePolicy {
    return { ...this.policies.get(type) };
  }

  /**
   * Changes a policy in this process only (not persisted, not broadcast): for benchmarks and
   * tests. The admin API uses `updatePolicy`.
   */
  setPolicy(type: CacheDataType, policy: CachePolicy): void {
    this.policies.setLocal(type, policy);
  }

  policyRecords(): PolicyRecord[] {
    return this.policies.records();
  }

  /**
   * Changes a type's policy for every replica: persisted first (a failure changes nothing and
   * throws), then applied here and broadcast. Returns the new policy, or the problems with the patch.
   */
  async updatePolicy(
    type: CacheDataType,
    patch: CachePolicyPatch,
    updatedBy: string,
  ): Promise<PolicyRecord | string[]> {
    const record = await this.policies.update(type, patch, updatedBy);
    if (!Array.isArray(record)) this.publish({ kind: "POLICY_CHANGE", type, policy: record });
    return record;
  }

  /** Re-reads the shared policies (and re-seeds them into a Redis that lost them). */
  async reloadPolicies(): Promise<void> {
    await this.policies.reload();
  }

  // ---- sources ---------------------------------------------------------------------------

  /**
   * Tells the cache how this process loads a type outside a request, for prefetch and
   * warmAgent. Register once per type, with a loader that does not depend on a request.
   */
  registerSource<T>(type: CacheDataType, source: BatchLoad<T> | CacheSource<T>): void {
    this.sources.set(type, (typeof source === "function" ? { load: source } : source) as CacheSource);
    if (this.started) this.track(this.announceSources());
  }

  // ---- reads -----------------------------------------------------------------------------

  /**
   * A DataLoader for one request. Keys are refs; values are the cached or loaded values.
   * Create one per request and type: DataLoader also memoises within the request.
   */
  loader<T>(type: CacheDataType, load: BatchLoad<T>): DataLoader<CacheRef, T | null, string> {
    return new DataLoader<CacheRef, T | null, string>((refs) => this.loadMany(type, refs, load), {
      cacheKeyFn: (ref) => cacheKey(type, ref),
    });
  }

  /**
   * Reads a batch: one MGET, then one store load for the misses that no load already running
   * in this process can answer.
   *
   * Joining a running load is only safe if that load started after this read did: a load that
   * started earlier may predate a write the caller has already seen acknowledged. A sequence
   * number taken at entry and at each load's registration decides it. Concurrent misses (the
   * stampede case) all enter before the first load registers, so they share it.
   *
   * Across processes, the MGET also reads each key's fill lock (same slot): a key another
   * process is loading is waited for instead of loaded again.
   */
  async loadMany<T>(
    type: CacheDataType,
    refs: readonly CacheRef[],
    load: BatchLoad<T>,
  ): Promise<(T | null)[]> {
    const ticket = ++this.sequence;
    const policy = this.policies.get(type);
    const keys = refs.map((ref) => cacheKey(type, ref));
    const results = new Array<T | null>(refs.length).fill(null);

    let read: FillRead | null = null;
    if (policy.enabled && this.cacheUsable()) {
      try {
        read = this.fillLocksOn()
          ? await this.backend.getManyWithLocks(keys)
          : { entries: await this.backend.getMany(keys), locked: [] };
      } catch (error) {
        this.markDegraded(error);
      }
    }
    if (read && this.prefetcher && PREFETCH_TYPES.has(type)) {
      const entries = read.entries;
      const missed = keys.filter((_key, i) => entries[i]?.kind !== "value");
      this.track(this.prefetcher.afterRead(keys, missed));
    }

    const misses: Miss[] = [];
    let hits = 0;
    refs.forEach((ref, index) => {
      const entry = read?.entries[index];
      const value = entry?.kind === "value" ? this.decode(keys[index]!, entry.payload) : undefined;
      if (value !== undefined) {
        results[index] = value as T | null;
        hits++;
      } else {
        misses.push({
          index,
          key: keys[index]!,
          ref,
          minRevision: entry?.revision ?? 0,
          lockedElsewhere: read?.locked[index] ?? false,
        });
      }
    });
    this.counters.add(type, "hits", hits);
    this.counters.add(type, read ? "misses" : "bypasses", misses.length);
    if (misses.length === 0) return results;

    const joined: Promise<void>[] = [];
    const toFill: Miss[] = [];
    for (const miss of misses) {
      const flight = this.inflight.get(miss.key);
      if (flight && flight.startedAfter > ticket) {
        joined.push(
          flight.promise.then((loaded) => {
            results[miss.index] = loaded.value as T | null;
          }),
        );
      } else toFill.push(flight ? { ...miss, loadingHere: true } : miss);
    }
    if (toFill.length > 0) {
      const filled = await this.fill(type, toFill, load as BatchLoad<unknown>, read !== null);
      for (const miss of toFill) results[miss.index] = filled.get(miss.key)!.value as T | null;
    }
    await Promise.all(joined);
    return results;
  }

  private fillLocksOn(): boolean {
    return this.backend.shared && this.settings.fillLockMs > 0;
  }

  /**
   * Loads misses, or waits for the process that holds their fill lock, registering each as a
   * running load first. A key loaded here takes its fill lock in parallel with the store load
   * (not before it: that would add a round trip to every miss); the lock is released by the
   * write-back. Two processes missing in the same instant may both load; later ones wait.
   */
  private async fill(
    type: CacheDataType,
    misses: Miss[],
    load: BatchLoad<unknown>,
    cacheInUse: boolean,
  ): Promise<Map<string, Revisioned<unknown>>> {
    const startedAfter = ++this.sequence;
    const flights = new Map<string, ReturnType<typeof deferred<Revisioned<unknown>>>>();
    for (const miss of misses) {
      const d = deferred<Revisioned<unknown>>();
      flights.set(miss.key, d);
      const flight: Flight = { startedAfter, promise: d.promise };
      this.inflight.set(miss.key, flight);
      const forget = () => {
        if (this.inflight.get(miss.key) === flight) this.inflight.delete(miss.key);
      };
      d.promise.then(forget, forget);
    }

    try {
      // A lock seen on a key this process is loading is its own: waiting would wait for itself.
      const waiters = misses.filter((miss) => miss.lockedElsewhere && !miss.loadingHere);
      const mine = misses.filter((miss) => !waiters.includes(miss));
      if (waiters.length > 0) this.counters.add(type, "fillWaits", waiters.length);
      const work: Promise<void>[] = [];
      if (mine.length > 0) {
        const locking = cacheInUse && this.fillLocksOn() ? this.lockFills(mine) : null;
        work.push(this.loadAndWriteBack(type, mine, load, flights, cacheInUse, locking));
      }
      if (waiters.length > 0) {
        work.push(
          this.waitForFill(waiters).then(async ({ found, rest }) => {
            for (const [key, value] of found) flights.get(key)!.resolve(value);
            if (rest.length > 0) await this.loadAndWriteBack(type, rest, load, flights, cacheInUse, null);
          }),
        );
      }
      await Promise.all(work);
    } catch (error) {
      for (const d of flights.values()) d.reject(error);
      throw error;
    }
    const filled = new Map<string, Revisioned<unknown>>();
    for (const [key, d] of flights) filled.set(key, await d.promise);
    return filled;
  }

  /** Takes the fill locks of keys about to be loaded; a failure only means no lock. */
  private async lockFills(misses: Miss[]): Promise<Map<string, string>> {
    const tokens = new Map<string, string>();
    try {
      const won = await this.backend.lockFills(
        misses.map((miss) => miss.key),
        this.settings.fillLockMs,
      );
      misses.forEach((miss, i) => {
        if (won[i]) tokens.set(miss.key, won[i]);
      });
    } catch (error) {
      this.markDegraded(error);
    }
    return tokens;
  }

  private async loadAndWriteBack(
    type: CacheDataType,
    misses: Miss[],
    load: BatchLoad<unknown>,
    flights: Map<string, { resolve: (value: Revisioned<unknown>) => void }>,
    cacheInUse: boolean,
    locking: Promise<Map<string, string>> | null,
  ): Promise<void> {
    const loaded = await this.loadFromStore(
      type,
      misses.map((miss) => miss.ref),
      load,
    );
    misses.forEach((miss, i) => {
      flights.get(miss.key)!.resolve(loaded[i]!);
    });
    // Off the response path: a failed write-back only costs a later miss. The same script
    // releases the fill locks, so processes waiting for this fill find the value.
    this.track(
      (async () => {
        const tokens = (await locking) ?? new Map<string, string>();
        if (cacheInUse && this.policies.get(type).enabled && this.cacheUsable()) {
          const writes = misses.map((miss, i) => ({
            ...this.entryWrite(type, miss.ref, loaded[i]!.revision, loaded[i]!.value),
            unlockToken: tokens.get(miss.key),
          }));
          try {
            await this.backend.putIfNewer(writes);
            return;
          } catch (error) {
            this.markDegraded(error);
          }
        }
        if (tokens.size > 0) await this.backend.releaseFills([...tokens.keys()], [...tokens.values()]);
      })(),
    );
  }

  /**
   * Polls until another process's fill put an acceptable value in the cache. Gives up on a key
   * when its lock is gone without a usable value (the holder's write-back was refused as older
   * than a write, or failed) or when the lock's time is up; those are loaded here.
   */
  private async waitForFill(
    misses: Miss[],
  ): Promise<{ found: Map<string, Revisioned<unknown>>; rest: Miss[] }> {
    const found = new Map<string, Revisioned<unknown>>();
    const rest: Miss[] = [];
    const deadline = Date.now() + this.settings.fillLockMs;
    let waiting = misses;
    let delay = FILL_POLL_FIRST_MS;
    while (waiting.length > 0 && Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 2, FILL_POLL_MAX_MS);
      let polls: FillRead;
      try {
        polls = await this.backend.getManyWithLocks(waiting.map((miss) => miss.key));
      } catch (error) {
        this.markDegraded(error);
        break;
      }
      const still: Miss[] = [];
      waiting.forEach((miss, i) => {
        const entry = polls.entries[i];
        const value = entry?.kind === "value" ? this.decode(miss.key, entry.payload) : undefined;
        if (entry && value !== undefined && entry.revision >= miss.minRevision) {
          found.set(miss.key, { revision: entry.revision, value });
        } else if (polls.locked[i]) {
          if (entry && entry.revision > miss.minRevision) miss.minRevision = entry.revision;
          still.push(miss);
        } else rest.push(miss);
      });
      waiting = still;
    }
    return { found, rest: [...rest, ...waiting] };
  }

  private async loadFromStore(
    type: CacheDataType,
    refs: readonly CacheRef[],
    load: BatchLoad<unknown>,
  ): Promise<Revisioned<unknown>[]> {
    this.counters.add(type, "storeLoads");
    const loaded = await load(refs);
    if (!Array.isArray(loaded) || loaded.length !== refs.length) {
      throw new Error(
        `cache loader for ${type} returned ${Array.isArray(loaded) ? loaded.length : "no"} results for ${refs.length} keys`,
      );
    }
    this.counters.add(type, "loadedKeys", refs.length);
    return loaded;
  }

  /**
   * Puts entries that are not cached yet into the cache (prefetch, warm). Returns how many were
   * written. Keys with a load already running here are left to it.
   */
  private async fillFromStore(
    type: CacheDataType,
    refs: CacheRef[],
    counter: CounterName | null,
  ): Promise<number> {
    const source = this.sources.get(type);
    if (!source || refs.length === 0 || !this.policies.get(type).enabled || !this.cacheUsable()) return 0;
    const keys = refs.map((ref) => cacheKey(type, ref));
    const entries = await this.backend.getMany(keys);
    const missing = refs.filter((_ref, i) => entries[i]?.kind !== "value" && !this.inflight.has(keys[i]!));
    if (missing.length === 0) return 0;
    const loaded = await this.loadFromStore(type, missing, source.load);
    const written = await this.backend.putIfNewer(
      missing.map((ref, i) => this.entryWrite(type, ref, loaded[i]!.revision, loaded[i]!.value)),
    );
    if (counter) this.counters.add(type, counter, written);
    return written;
  }

  // ---- writes ----------------------------------------------------------------------------

  /**
   * Records a committed change. Call after the store transaction commits and before the
   * mutation returns. `value` undefined means "changed, value unknown" (always a tombstone).
   */
  async write<T>(type: CacheDataType, ref: CacheRef, revision: number, value?: T | null): Promise<void> {
    const policy = this.policies.get(type);
    const writeThrough = policy.enabled && policy.writeMode === "WRITE_THROUGH" && value !== undefined;
    this.counters.add(type, writeThrough ? "writes" : "invalidations");
    // Even a disabled type gets tombstones: re-enabling it must not serve what was cached before.
    const write = this.entryWrite(type, ref, revision, writeThrough ? value : undefined);
    await this.applyWrites([write]);
    if (!writeThrough) {
      this.publish({
        kind: "INVALIDATION",
        scope: "KEY",
        cause: "WRITE",
        type,
        agentId: ref.agentId,
        key: write.key,
        count: 1,
      });
    }
  }

  /**
   * After the store dropped an agent's data of these types (e.g. deleteAgent): removes every
   * cached entry of the agent and refuses later write-backs below `floor`, so a reader that
   * loaded before the delete cannot put deleted data back.
   */
  async purgeAgent(agentId: string, types: readonly CacheDataType[], floor: number): Promise<void> {
    const floorKeys = types.map((type) => floorKey(type, agentId));
    let removed: number | null = null;
    try {
      if (this.degraded) throw new Error("cache degraded");
      removed = await this.backend.purge(agentTagKey(agentId), floorKeys, floor, FLOOR_TTL_MS);
    } catch (error) {
      this.markDegraded(error);
      this.pending.addPurge(agentId, floorKeys, floor);
    }
    for (const type of types) {
      this.counters.add(type, "invalidations");
      this.publish({
        kind: "INVALIDATION",
        scope: "AGENT",
        cause: "DELETE",
        type,
        agentId,
        key: null,
        count: removed,
      });
    }
  }

  private async applyWrites(writes: EntryWrite[]): Promise<void> {
    try {
      // While degraded, do not wait for a command timeout on every write: queue at once.
      if (this.degraded) throw new Error("cache degraded");
      await this.backend.putIfNewer(writes);
    } catch (error) {
      this.markDegraded(error);
      this.pending.addWrites(writes);
    }
  }

  // ---- admin -----------------------------------------------------------------------------

  /** Tombstones every cached entry of an agent (its tag set). Returns how many values there were. */
  async invalidateAgent(agentId: string): Promise<number> {
    const count = await this.backend.invalidateTagged(agentTagKey(agentId));
    this.publish({
      kind: "INVALIDATION",
      scope: "AGENT",
      cause: "ADMIN",
      type: null,
      agentId,
      key: null,
      count,
    });
    return count;
  }

  /** Tombstones every cached entry of a type (SCAN on every node). */
  async invalidateType(type: CacheDataType): Promise<number> {
    const count = await this.backend.invalidateType(type);
    this.counters.add(type, "invalidations", count);
    this.publish({
      kind: "INVALIDATION",
      scope: "TYPE",
      cause: "ADMIN",
      type,
      agentId: null,
      key: null,
      count,
    });
    return count;
  }

  /** Tombstones one entry. Returns whether it held a value. */
  async invalidateKey(key: string): Promise<boolean> {
    const parsed = parseCacheKey(key);
    if (!parsed) throw new Error(`not a cache entry key: ${key}`);
    const count = await this.backend.invalidate([key]);
    this.counters.add(parsed.type, "invalidations", count);
    this.publish({
      kind: "INVALIDATION",
      scope: "KEY",
      cause: "ADMIN",
      type: parsed.type,
      agentId: parsed.agentId,
      key,
      count,
    });
    return count > 0;
  }

  /** Loads an agent's working set into the cache, in whichever processes can load each type. */
  async warmAgent(agentId: string): Promise<number> {
    return requestWarm(this.events, this.warmCoordination, agentId);
  }

  async listKeys(prefix: string, first: number, after: string | null): Promise<CacheKeyPage> {
    const page = await this.backend.scan(prefix, after, first);
    const details = await this.backend.inspect(page.keys);
    return { keys: details.map((d, i) => ({ details: d, cursor: page.cursors[i]! })), cursor: page.cursor };
  }

  /** This process's counters since it started. */
  stats(type: CacheDataType): TypeCounters {
    return this.counters.local(type);
  }

  /** Counters of every replica since the shared counters started, with key census and Redis INFO. */
  async statsSnapshot(): Promise<CacheStatsSnapshot> {
    await this.flushCounters();
    let shared: Awaited<ReturnType<StatsStore["read"]>> | null = null;
    try {
      shared = await this.statsStore.read();
      // Deltas that failed to flush are still this process's: count them too.
      const unflushed = this.counters.pending();
      for (const type of CACHE_DATA_TYPES) {
        for (const [name, value] of Object.entries(unflushed[type]) as [CounterName, number][]) {
          shared.byType[type][name] += value;
        }
      }
    } catch {
      shared = null;
    }
    const [census, redis] = await Promise.all([
      this.backend.census().catch(() => null),
      this.redisInfo ? this.redisInfo().catch(() => null) : Promise.resolve(null),
    ]);
    return {
      since: shared?.since ?? null,
      allReplicas: shared !== null,
      byType: CACHE_DATA_TYPES.map((type) => ({
        type,
        ...(shared ? shared.byType[type] : this.counters.local(type)),
        keys: census?.byType[type].keys ?? 0,
        tombstones: census?.byType[type].tombstones ?? 0,
        memoryBytes: census?.byType[type].bytes ?? 0,
      })),
      keysEstimated: census?.estimated ?? false,
      redis,
      backend: this.backend.kind,
      degraded: this.degraded,
      pendingInvalidations: this.pending.size,
    };
  }

  // ---- availability ----------------------------------------------------------------------

  /** True while Redis is unreachable or invalidations from an outage are not replayed yet. */
  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  /** For /ready: tries to recover first, so the probe itself heals a cache nobody is using. */
  async health(): Promise<CacheHealth> {
    if (this.degraded) await this.recover();
    return {
      ok: !this.degraded,
      backend: this.backend.kind,
      degradedSince: this.degradedSince === null ? null : new Date(this.degradedSince).toISOString(),
      pendingInvalidations: this.pending.size,
    };
  }

  /**
   * Replays invalidations that failed while Redis was down, then re-reads policies. Called when
   * Redis reconnects, by a probe while degraded, and by /ready. Returns whether the cache is usable.
   */
  recover(): Promise<boolean> {
    this.recovering ??= this.replay().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async replay(): Promise<boolean> {
    try {
      await this.backend.ping();
      await this.reloadPolicies();
      const replayed = await this.pending.replay(this.backend);
      // No await between this check and markHealthy: a write queued in between would be stranded.
      if (!this.pending.empty) return false;
      this.markHealthy();
      if (replayed > 0) this.logger?.info({ replayed }, "cache invalidations replayed after Redis came back");
      return true;
    } catch (error) {
      this.markDegraded(error);
      return false;
    }
  }

  private cacheUsable(): boolean {
    return this.degradedSince === null && this.pending.empty;
  }

  private markHealthy(): void {
    if (this.degradedSince === null) return;
    this.logger?.info({ downMs: Date.now() - this.degradedSince }, "cache available again");
    this.degradedSince = null;
    this.stopProbe();
  }

  private markDegraded(error: unknown): void {
    if (this.degradedSince !== null) return;
    this.degradedSince = Date.now();
    this.logger?.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "cache unavailable; reading from the store",
    );
    if (this.started && !this.probeTimer) {
      this.probeTimer = setInterval(() => void this.recover(), RECOVERY_PROBE_MS);
      this.probeTimer.unref();
    }
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  // ---- background ------------------------------------------------------------------------

  /** Sends counters and co-access to Redis (normally done every `statsFlushMs`). */
  async flush(): Promise<void> {
    await Promise.all([this.flushCounters(), this.prefetcher?.flush().catch(() => {})]);
  }

  /** Resolves when background work started so far (write-backs, prefetch, lock releases) is done. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
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
    if (this.degraded) return;
    await this.flush();
    await this.announceSources();
    // Safety net for a POLICY_CHANGE event this process missed (pub/sub is at most once).
    await this.reloadPolicies().catch(() => {});
  }

  private async announceSources(): Promise<void> {
    if (this.sources.size === 0) return;
    const ttlMs = Math.max(30_000, this.settings.statsFlushMs * 3);
    await this.warmCoordination.announce([...this.sources.keys()], ttlMs).catch(() => {});
  }

  private async answerWarmRequest(request: WarmRequest): Promise<void> {
    for (const [type, source] of this.sources) {
      try {
        if (!(await this.warmCoordination.claim(request.agentId, type, request.requestId))) continue;
        const refs = new Map<string, CacheRef>();
        for (const ref of (await source.warmRefs?.(request.agentId)) ?? [])
          refs.set(cacheKey(type, ref), ref);
        for (const key of await this.backend.tagged(agentTagKey(request.agentId))) {
          const parsed = parseCacheKey(key);
          if (parsed?.type === type) refs.set(key, { agentId: parsed.agentId, id: parsed.id });
        }
        const warmed = await this.fillFromStore(type, [...refs.values()], null);
        const reply: WarmReply = { requestId: request.requestId, type, warmed };
        await this.events.publish(warmReplyTopic(request.requestId), reply);
      } catch (error) {
        this.logger?.warn({ err: String(error), type, agentId: request.agentId }, "could not warm agent");
      }
    }
  }

  private publish(event: Pick<CacheEvent, "kind"> & Partial<Omit<CacheEvent, "origin" | "at">>): void {
    const full: CacheEvent = {
      scope: null,
      cause: null,
      type: null,
      agentId: null,
      key: null,
      count: null,
      policy: null,
      ...event,
      origin: this.instanceId,
      at: new Date().toISOString(),
    };
    // Not awaited, not tracked: an event must never hold (or fail) the write that caused it, and
    // the publisher queues while Redis is down, so waiting for it could hold a shutdown too.
    this.events.publish(CACHE_EVENTS_TOPIC, full).catch((error: unknown) => {
      this.logger?.debug({ err: String(error) }, "cache event not published");
    });
  }

  private track(work: Promise<unknown> | null): void {
    if (!work) return;
    const tracked = work.catch((error: unknown) => {
      this.logger?.debug({ err: String(error) }, "cache background task failed");
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  } /** The cached value of a key, or undefined when it cannot be read (e.g. its encryption key was retired). */
  private decode(key: string, payload: string): unknown {
    try {
      return JSON.parse(this.encryption.decrypt(payload, key));
    } catch (error) {
      this.logger?.debug({ err: String(error), key }, "cached value unreadable; treated as a miss");
      return undefined;
    }
  }

  /** `value` undefined writes a tombstone. */
  private entryWrite(type: CacheDataType, ref: CacheRef, revision: number, value: unknown): EntryWrite {
    const key = cacheKey(type, ref);
    return {
      key,
      tagKey: agentTagKey(ref.agentId),
      floorKey: floorKey(type, ref.agentId),
      revision,
      // Bound to its key (associated data): a value copied to another key does not decrypt.
      payload: value === undefined ? null : this.encryption.encrypt(JSON.stringify(value), key),
      ttlMs: ttlWithJitter(this.policies.get(type).ttlSeconds),
    };
  }
}
