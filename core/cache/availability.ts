/**
 * Whether the shared cache (Redis) may be used, as one state value:
 *
 *   healthy ──(a cache call fails)──▶ degraded ──(Redis answers: reconnect, probe, /ready)──▶ recovering
 *      ▲                                  ▲                                                     │
 *      └─────────(queue replayed)─────────┼──────────────(replay failed, or more queued)────────┘
 *
 * While degraded or recovering, reads skip Redis (no per-request timeouts) and writes queue a
 * tombstone per key instead (outage-queue.ts); the cache is used again only once everything
 * queued has reached Redis. If Redis kept its data through the outage (a partition, a restart
 * with persistence), that replay is what keeps the values cached before the outage from being
 * served. See docs/cache.md, "Redis unavailable".
 */
import type { Logger } from "../logger.js";
import type { CacheBackend, EntryWrite } from "./backend.js";
import { FLOOR_TTL_MS, OutageQueue } from "./outage-queue.js";

export type AvailabilityState =
  | { readonly phase: "healthy" }
  /** A cache call failed at `since` (ms since the epoch); nothing is sent to Redis. */
  | { readonly phase: "degraded"; readonly since: number }
  /** Redis answers again; the queued invalidations are being replayed. */
  | { readonly phase: "recovering"; readonly since: number; readonly replay: Promise<boolean> };

export interface CacheHealth {
  ok: boolean;
  backend: CacheBackend["kind"];
  degradedSince: string | null;
  pendingInvalidations: number;
}

/** While degraded, Redis is probed this often (besides ioredis' own "ready" event). */
const RECOVERY_PROBE_MS = 1000;

export interface AvailabilityOptions {
  backend: CacheBackend;
  /** Re-reads the shared policies: part of every recovery (a change may have been missed). */
  reloadPolicies: () => Promise<void>;
  /** Called each time the cache becomes usable again after an outage. */
  onRecovered?: () => void;
  logger?: Logger;
}

export class CacheAvailability {
  private current: AvailabilityState = { phase: "healthy" };
  /** Invalidations that could not reach Redis; replayed before the cache is used again. */
  private readonly pending = new OutageQueue();
  private probeTimer: NodeJS.Timeout | null = null;
  /** Probing starts with the cache (start()), so a layer that is never started leaves no timer. */
  private probing = false;

  constructor(private readonly options: AvailabilityOptions) {}

  get state(): AvailabilityState {
    return this.current;
  }

  /** True when reads and write-backs may use Redis. Healthy implies nothing is queued. */
  get usable(): boolean {
    return this.current.phase === "healthy";
  }

  get pendingInvalidations(): number {
    return this.pending.size;
  }

  /** Probes Redis while degraded from now on. */
  startProbing(): void {
    this.probing = true;
    if (!this.usable) this.ensureProbe();
  }

  stopProbing(): void {
    this.probing = false;
    this.stopProbe();
  }

  /**
   * Sends committed changes to the backend, or queues them as tombstones while it is not
   * usable (without waiting for a command timeout on every write).
   */
  async write(writes: EntryWrite[]): Promise<void> {
    try {
      if (!this.usable) throw new Error("cache degraded");
      await this.options.backend.putIfNewer(writes);
    } catch (error) {
      this.failed(error);
      this.pending.addWrites(writes);
    }
  }

  /** `backend.purge`, or queued while not usable. Returns the keys removed, null when queued. */
  async purge(agentId: string, tagKey: string, floorKeys: string[], floor: number): Promise<number | null> {
    try {
      if (!this.usable) throw new Error("cache degraded");
      return await this.options.backend.purge(tagKey, floorKeys, floor, FLOOR_TTL_MS);
    } catch (error) {
      this.failed(error);
      this.pending.addPurge(agentId, floorKeys, floor);
      return null;
    }
  }

  /** A cache call failed: stop using the cache until recovery. */
  failed(error: unknown): void {
    if (this.current.phase !== "healthy") return;
    this.current = { phase: "degraded", since: Date.now() };
    this.options.logger?.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "cache unavailable; reading from the store",
    );
    if (this.probing) this.ensureProbe();
  }

  /**
   * Redis (re)connected, or someone wants to know: replays what was queued during an outage,
   * re-reads policies, and makes the cache usable again. On a healthy cache (a reconnect that
   * no call noticed) it re-reads the policies. Returns whether the cache is usable.
   */
  recover(): Promise<boolean> {
    const state = this.current;
    if (state.phase === "recovering") return state.replay;
    if (state.phase === "healthy") {
      return this.options.reloadPolicies().then(
        () => true,
        (error: unknown) => {
          this.failed(error);
          return false;
        },
      );
    }
    // Started on the next microtask, so the state says "recovering" before the replay can end.
    const replay = Promise.resolve().then(() => this.replay(state.since));
    this.current = { phase: "recovering", since: state.since, replay };
    return replay;
  }

  /** For /ready: tries to recover first, so the probe itself heals a cache nobody is using. */
  async health(): Promise<CacheHealth> {
    if (!this.usable) await this.recover();
    const state = this.current;
    return {
      ok: state.phase === "healthy",
      backend: this.options.backend.kind,
      degradedSince: state.phase === "healthy" ? null : new Date(state.since).toISOString(),
      pendingInvalidations: this.pending.size,
    };
  }

  private async replay(since: number): Promise<boolean> {
    const { backend, logger } = this.options;
    try {
      await backend.ping();
      await this.options.reloadPolicies();
      const replayed = await this.pending.replay(backend);
      // No await between this check and the state change: a write queued in between would be stranded.
      if (!this.pending.empty) {
        this.current = { phase: "degraded", since };
        return false;
      }
      this.current = { phase: "healthy" };
      this.stopProbe();
      logger?.info({ downMs: Date.now() - since, replayed }, "cache available again");
      this.options.onRecovered?.();
      return true;
    } catch {
      this.current = { phase: "degraded", since };
      return false;
    }
  }

  private ensureProbe(): void {
    if (this.probeTimer) return;
    this.probeTimer = setInterval(() => void this.recover(), RECOVERY_PROBE_MS);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }
}
