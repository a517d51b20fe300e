/**
 * Filling misses from the store: one batched store load per request batch, shared by concurrent
 * misses of the same keys in this process (single flight) and, through short fill locks in
 * Redis, across processes; what was loaded is written back to the cache off the response path.
 *
 * Joining a running load is only safe if that load started after the read did: a load that
 * started earlier may predate a write the reader has already seen acknowledged. A sequence
 * number taken when a read starts (`ticket`) and when each load registers decides it.
 * Concurrent misses (the stampede case) all start before the first load registers, so they
 * still share it.
 *
 * Across processes, a key nobody is loading is loaded at once while its lock is taken
 * (`SET NX PX`, in parallel with the store query, so a miss costs no extra round trip); the
 * write-back script releases it. A process that saw the lock when it read polls the cache for
 * the value instead (2, 4, 8 … 50 ms), and loads itself if the lock disappears without a usable
 * value or after `fillLockMs`.
 */
import type { Revisioned } from "../store/revisioned.js";
import type { CacheAvailability } from "./availability.js";
import type { CacheBackend, FillRead } from "./backend.js";
import type { BackgroundWork } from "./background.js";
import type { EntryCodec } from "./codec.js";
import { type CacheRef, cacheKey } from "./keys.js";
import type { NearCache } from "./near-cache.js";
import type { CachePolicies } from "./policies.js";
import { type CacheDataType, ttlWithJitter } from "./policy.js";
import type { BatchLoad, CacheSource } from "./sources.js";
import type { CacheCounters, CounterName } from "./stats.js";

/** Polling for another process's fill: first delay, then doubling up to the cap. */
const FILL_POLL_FIRST_MS = 2;
const FILL_POLL_MAX_MS = 50;

export interface Miss {
  /** Position in the read's batch. */
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

/** What a fill does besides loading. */
export interface FillMode {
  /** Take fill locks, so other processes wait for this load instead of repeating it. */
  lock: boolean;
  /** Write what was loaded back to the shared cache. */
  writeBack: boolean;
  /** Keep a copy in this process's near cache (a type whose store is in this process). */
  keepNear: boolean;
}

interface Flight {
  /** Sequence number taken when the load was registered; see `join`. */
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
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface StoreFillOptions {
  backend: CacheBackend;
  availability: CacheAvailability;
  policies: CachePolicies;
  counters: CacheCounters;
  codec: EntryCodec;
  near: NearCache;
  background: BackgroundWork;
  /** Fill-lock lifetime and longest wait for another process's load; 0 = no fill locks. */
  fillLockMs: number;
}

export class StoreFill {
  /** Orders reads and store loads in this process. */
  private sequence = 0;
  private readonly inflight = new Map<string, Flight>();
  /** Loaded values waiting to be kept in the near cache (see keepNearSoon). */
  private readonly nearPending: { type: CacheDataType; miss: Miss; loaded: Revisioned<unknown> }[] = [];

  constructor(private readonly options: StoreFillOptions) {}

  /** Whether fill locks coordinate anything: only a shared backend, and only when not turned off. */
  get locksOn(): boolean {
    return this.options.backend.shared && this.options.fillLockMs > 0;
  }

  /** Taken when a read starts: orders it against the loads registered in this process. */
  ticket(): number {
    return ++this.sequence;
  }

  /**
   * The running load a read with this ticket may join for `miss`, or null. A load it may not
   * join (it started before the read) marks the miss as loading here.
   */
  join(miss: Miss, ticket: number): Promise<Revisioned<unknown>> | null {
    const flight = this.inflight.get(miss.key);
    if (!flight) return null;
    if (flight.startedAfter > ticket) return flight.promise;
    miss.loadingHere = true;
    return null;
  }

  /**
   * Loads misses, or waits for the process that holds their fill lock, registering each as a
   * running load first. A key loaded here takes its fill lock in parallel with the store load
   * (not before it: that would add a round trip to every miss); the lock is released by the
   * write-back. Two processes missing in the same instant may both load; later ones wait.
   */
  async fill(
    type: CacheDataType,
    misses: Miss[],
    load: BatchLoad<unknown>,
    mode: FillMode,
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
      if (waiters.length > 0) this.options.counters.add(type, "fillWaits", waiters.length);
      const work: Promise<void>[] = [];
      if (mine.length > 0) {
        const locking = mode.lock && this.locksOn ? this.lockFills(mine) : null;
        work.push(this.loadAndWriteBack(type, mine, load, flights, mode, locking));
      }
      if (waiters.length > 0) {
        work.push(
          this.waitForFill(waiters).then(async ({ found, rest }) => {
            for (const [key, value] of found) flights.get(key)!.resolve(value);
            if (rest.length > 0) await this.loadAndWriteBack(type, rest, load, flights, mode, null);
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

  /**
   * Puts entries that are not cached yet into the cache (prefetch, warm). Returns how many were
   * written. Keys with a load already running here are left to it.
   */
  async fillFromStore(
    type: CacheDataType,
    source: CacheSource,
    refs: CacheRef[],
    counter: CounterName | null,
  ): Promise<number> {
    const { backend, policies, availability, codec, counters } = this.options;
    if (refs.length === 0 || !policies.get(type).enabled || !availability.usable) return 0;
    const keys = refs.map((ref) => cacheKey(type, ref));
    const entries = await backend.getMany(keys);
    const missing = refs.filter((_ref, i) => entries[i]?.kind !== "value" && !this.inflight.has(keys[i]!));
    if (missing.length === 0) return 0;
    const loaded = await this.loadFromStore(type, missing, source.load);
    const written = await backend.putIfNewer(
      missing.map((ref, i) => codec.entry(type, ref, loaded[i]!.revision, loaded[i]!.value)),
    );
    if (counter) counters.add(type, counter, written);
    return written;
  }

  private async loadFromStore(
    type: CacheDataType,
    refs: readonly CacheRef[],
    load: BatchLoad<unknown>,
  ): Promise<Revisioned<unknown>[]> {
    this.options.counters.add(type, "storeLoads");
    const loaded = await load(refs);
    if (!Array.isArray(loaded) || loaded.length !== refs.length) {
      throw new Error(
        `cache loader for ${type} returned ${Array.isArray(loaded) ? loaded.length : "no"} results for ${refs.length} keys`,
      );
    }
    this.options.counters.add(type, "loadedKeys", refs.length);
    return loaded;
  }

  /** Takes the fill locks of keys about to be loaded; a failure only means no lock. */
  private async lockFills(misses: Miss[]): Promise<Map<string, string>> {
    const tokens = new Map<string, string>();
    try {
      const won = await this.options.backend.lockFills(
        misses.map((miss) => miss.key),
        this.options.fillLockMs,
      );
      misses.forEach((miss, i) => {
        if (won[i]) tokens.set(miss.key, won[i]);
      });
    } catch (error) {
      this.options.availability.failed(error);
    }
    return tokens;
  }

  private async loadAndWriteBack(
    type: CacheDataType,
    misses: Miss[],
    load: BatchLoad<unknown>,
    flights: Map<string, { resolve: (value: Revisioned<unknown>) => void }>,
    mode: FillMode,
    locking: Promise<Map<string, string>> | null,
  ): Promise<void> {
    const { codec, policies, availability, backend, background } = this.options;
    const loaded = await this.loadFromStore(
      type,
      misses.map((miss) => miss.ref),
      load,
    );
    misses.forEach((miss, i) => {
      flights.get(miss.key)!.resolve(loaded[i]!);
    });
    if (mode.keepNear) this.keepNearSoon(type, misses, loaded);
    if (!mode.writeBack && !locking) return;
    // Off the response path, from the next turn of the event loop (the readers answer first). A
    // failed write-back only costs a later miss. The same script releases the fill locks, so
    // processes waiting for this fill find the value.
    background.track(
      (async () => {
        await nextTurn();
        const tokens = (await locking) ?? new Map<string, string>();
        if (mode.writeBack && policies.get(type).enabled && availability.usable) {
          try {
            await backend.putIfNewer(
              misses.map((miss, i) => ({
                ...codec.entry(type, miss.ref, loaded[i]!.revision, loaded[i]!.value),
                unlockToken: tokens.get(miss.key),
              })),
            );
            return;
          } catch (error) {
            availability.failed(error);
          }
        }
        if (tokens.size > 0) await backend.releaseFills([...tokens.keys()], [...tokens.values()]);
      })(),
    );
  }

  /**
   * Keeps near copies of what was loaded, from the next turn of the event loop and batched for
   * every fill of this turn: sizing a copy means serialising it, which costs as much as an
   * embedded store's read, so it must not delay the readers. A copy older than one kept
   * meanwhile is refused; one that is stale by then fails its probe on the next read.
   */
  private keepNearSoon(type: CacheDataType, misses: Miss[], loaded: Revisioned<unknown>[]): void {
    misses.forEach((miss, i) => {
      this.nearPending.push({ type, miss, loaded: loaded[i]! });
    });
    if (this.nearPending.length > misses.length) return; // a flush is scheduled already
    // One promise per turn, not per read: this is on the read's path.
    this.options.background.track(
      new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          try {
            const { near, policies } = this.options;
            for (const { type, miss, loaded } of this.nearPending.splice(0)) {
              const size = JSON.stringify(loaded.value)?.length ?? 4;
              const ttlMs = ttlWithJitter(policies.get(type).ttlSeconds);
              near.keep(miss.key, miss.ref.agentId, loaded.revision, loaded.value, size, ttlMs);
            }
            resolve();
          } catch (error) {
            reject(error);
          }
        });
      }),
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
    const { backend, codec, availability } = this.options;
    const found = new Map<string, Revisioned<unknown>>();
    const rest: Miss[] = [];
    const deadline = Date.now() + this.options.fillLockMs;
    let waiting = misses;
    let delay = FILL_POLL_FIRST_MS;
    while (waiting.length > 0 && Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 2, FILL_POLL_MAX_MS);
      let polls: FillRead;
      try {
        polls = await backend.getManyWithLocks(waiting.map((miss) => miss.key));
      } catch (error) {
        availability.failed(error);
        break;
      }
      const still: Miss[] = [];
      waiting.forEach((miss, i) => {
        const entry = polls.entries[i];
        const value = entry?.kind === "value" ? codec.decode(miss.key, entry.payload) : undefined;
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
}
