/**
 * Auto-tuning of cache TTLs: per data type, the shortest TTL that keeps the hit ratio at a
 * target, within bounds the operator sets.
 *
 * Why "shortest": a longer TTL can only raise the hit ratio (entries expire later), but every
 * second of TTL keeps what was read once (and every tombstone) in Redis that much longer. So the
 * tuner grows a type's TTL while its hit ratio is below the target and the misses are not caused
 * by writes (a tombstone is a miss no TTL can prevent), and shrinks it while the hit ratio is
 * comfortably above the target, or at once when Redis is close to its memory limit.
 *
 * Hysteresis, so it does not flap: a change needs the same verdict in consecutive intervals
 * (two to grow, three to shrink: a shrink only saves memory, a wrong one costs misses); between `target` and `target + band` nothing changes; it grows fast
 * (×2) and shrinks slowly (×0.75); after a change it waits 1.5 times the previous TTL (until
 * the entries cached under it are gone) before judging again; intervals with fewer than `minReads` reads decide nothing.
 * A TTL outside the bounds (the operator just changed them) is brought inside at once.
 *
 * It reads the counters every replica shares (cacheStats) and writes through the same path as an
 * admin's setCachePolicy (persisted in Redis, broadcast to every replica), as `auto-tune`, with
 * an audit entry per change. A type whose policy an admin set is left alone: the admin's TTL
 * wins. Only one process tunes at a time (a Redis lock), normally a cache-admin replica.
 */
import type { AuditLog } from "../audit/audit-log.js";
import { SYSTEM_AUDIT_SCOPE } from "../audit/audit-log.js";
import type { Principal } from "../auth/principal.js";
import type { LockManager } from "../locks/lock.js";
import type { Logger } from "../logger.js";
import type { CacheAdmin, CacheStatsSnapshot } from "./admin.js";
import type { PolicyRecord } from "./cache-events.js";
import { CACHE_DATA_TYPES, type CacheDataType, MAX_TTL_SECONDS, MIN_TTL_SECONDS } from "./policy.js";

/** Who auto-tune changes appear as, in cachePolicies (updatedBy) and in the audit log (actor). */
export const AUTO_TUNE_ACTOR = "auto-tune";
const AUTO_TUNE_PRINCIPAL: Principal = { sub: AUTO_TUNE_ACTOR, role: "admin", agents: ["*"] };
const LOCK_NAME = "cache-auto-tune";
/** A round takes a stats snapshot and a few policy writes; a crashed holder frees it after this. */
const ROUND_LOCK_MS = 30_000;

export interface TtlBounds {
  minTtlSeconds: number;
  maxTtlSeconds: number;
}

/** Defaults: from a fifth to four times each type's default TTL (policy.ts). */
export const DEFAULT_TTL_BOUNDS: Readonly<Record<CacheDataType, TtlBounds>> = {
  AGENT_STATE: { minTtlSeconds: 60, maxTtlSeconds: 1200 },
  STATE_VERSION: { minTtlSeconds: 720, maxTtlSeconds: 14_400 },
  MEMORY: { minTtlSeconds: 60, maxTtlSeconds: 1200 },
  ENTITY: { minTtlSeconds: 60, maxTtlSeconds: 1200 },
  AGENT_DIRECTORY: { minTtlSeconds: 60, maxTtlSeconds: 1200 },
};

export interface AutoTuneSettings {
  /** CACHE_AUTOTUNE: off by default; a deployment opts in. */
  enabled: boolean;
  /** CACHE_AUTOTUNE_INTERVAL_MS: how often counters are compared and TTLs adjusted. */
  intervalMs: number;
  /** CACHE_AUTOTUNE_TARGET_HIT_RATIO: the hit ratio to keep with the shortest TTL. */
  targetHitRatio: number;
  /** CACHE_AUTOTUNE_BOUNDS: per type, the TTLs the tuner may choose from. */
  bounds: Record<CacheDataType, TtlBounds>;
}

/** The tuning rules' constants (see the file header). */
export const TUNING = {
  band: 0.05,
  minReads: 50,
  /** Consecutive intervals with the same verdict before a change. */
  confirmations: { grow: 2, shrink: 3 },
  growFactor: 2,
  shrinkFactor: 0.75,
  /** Misses per read caused by writes at or above which a longer TTL would not help. */
  writeBoundShare: 0.5,
  /** Redis used ÷ max memory at or above which TTLs shrink. */
  memoryPressure: 0.9,
  /**
   * After a change, counters are judged again only once this many of the previous TTL have
   * passed: until the entries cached under it have expired, the hit ratio still shows it
   * (judging sooner made the bench's tuner overshoot and oscillate). After a growth that is
   * short, after a shrink long.
   */
  settleTtls: 1.5,
} as const;

export type Verdict = "grow" | "shrink" | "hold";

/** What one type did during one interval (deltas of the shared counters). */
export interface IntervalCounts {
  hits: number;
  misses: number;
  /** Write-throughs and invalidations: each makes the next read of that entry a miss or a fresh value. */
  writes: number;
}

export interface Decision {
  type: CacheDataType;
  at: string;
  verdict: Verdict;
  reason: string;
  reads: number;
  hitRatio: number | null;
  writeShare: number | null;
  ttlSeconds: number;
  /** Set when this decision changed the TTL. */
  previousTtlSeconds: number | null;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The verdict for one interval, before hysteresis. Pure: the rules in one place. */
export function judge(
  counts: IntervalCounts,
  target: number,
  memoryUsedShare: number | null,
): { verdict: Verdict; reason: string } {
  if (memoryUsedShare !== null && memoryUsedShare >= TUNING.memoryPressure) {
    return { verdict: "shrink", reason: `Redis uses ${Math.round(memoryUsedShare * 100)}% of maxmemory` };
  }
  const reads = counts.hits + counts.misses;
  if (reads < TUNING.minReads) return { verdict: "hold", reason: `only ${reads} reads` };
  const hitRatio = counts.hits / reads;
  const writeShare = counts.writes / reads;
  if (hitRatio < target) {
    if (writeShare >= TUNING.writeBoundShare) {
      return { verdict: "hold", reason: "misses follow writes; a longer TTL would not prevent them" };
    }
    return { verdict: "grow", reason: `hit ratio ${hitRatio.toFixed(3)} below ${round(target)}` };
  }
  if (hitRatio > target + TUNING.band) {
    return {
      verdict: "shrink",
      reason: `hit ratio ${hitRatio.toFixed(3)} above ${round(target + TUNING.band)}`,
    };
  }
  return { verdict: "hold", reason: `hit ratio ${hitRatio.toFixed(3)} within the target band` };
}

/** The TTL a verdict leads to from `current`, within bounds. */
export function nextTtl(current: number, verdict: Verdict, bounds: TtlBounds): number {
  const raw =
    verdict === "grow"
      ? current * TUNING.growFactor
      : verdict === "shrink"
        ? Math.floor(current * TUNING.shrinkFactor)
        : current;
  return Math.min(bounds.maxTtlSeconds, Math.max(bounds.minTtlSeconds, Math.round(raw)));
}

export function validateBounds(bounds: TtlBounds): string | null {
  const { minTtlSeconds: min, maxTtlSeconds: max } = bounds;
  if (!Number.isInteger(min) || !Number.isInteger(max)) return "TTL bounds must be whole seconds";
  if (min < MIN_TTL_SECONDS || max > MAX_TTL_SECONDS) {
    return `TTL bounds must lie within ${MIN_TTL_SECONDS}-${MAX_TTL_SECONDS} seconds`;
  }
  if (min > max) return `the lower bound ${min} is above the upper bound ${max}`;
  return null;
}

export interface CacheAutoTunerOptions {
  cache: CacheAdmin;
  settings: AutoTuneSettings;
  audit?: AuditLog;
  locks?: LockManager;
  logger?: Logger;
}

export class CacheAutoTuner {
  /** The counters at the previous round, and when they were read. */
  private previous: { snapshot: CacheStatsSnapshot; takenAt: number } | null = null;
  private readonly streaks = new Map<CacheDataType, { verdict: Verdict; count: number }>();
  private readonly decisions = new Map<CacheDataType, Decision>();
  /** The TTL before each change this process made, by the change's updatedAt. */
  private readonly changedFrom = new Map<CacheDataType, { updatedAt: string; ttlSeconds: number }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<Decision[]> | null = null;
  lastRunAt: string | null = null;

  constructor(private readonly options: CacheAutoTunerOptions) {}

  get settings(): AutoTuneSettings {
    return this.options.settings;
  }

  start(): void {
    if (!this.settings.enabled || this.timer) return;
    this.timer = setInterval(() => void this.runOnce().catch(() => {}), this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** The last decision per type made by this process. */
  lastDecisions(): Decision[] {
    return CACHE_DATA_TYPES.flatMap((type) => this.decisions.get(type) ?? []);
  }

  /**
   * One tuning round (normally every intervalMs; the admin API can ask for one now). The first
   * round only records a baseline. Returns this round's decisions; none when another process
   * holds the tuning lock or the tuner is off.
   */
  runOnce(): Promise<Decision[]> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round(): Promise<Decision[]> {
    if (!this.settings.enabled) return [];
    const { locks } = this.options;
    // Rounds of several replicas never overlap; between rounds any replica may tune, because
    // the counters it compares are every replica's (cacheStats), whoever tuned last.
    const token = locks ? await locks.acquire(LOCK_NAME, ROUND_LOCK_MS) : null;
    if (locks && !token) return [];
    try {
      const snapshot = await this.options.cache.statsSnapshot();
      const takenAt = Date.now();
      const previous = this.previous;
      this.previous = { snapshot, takenAt };
      this.lastRunAt = new Date(takenAt).toISOString();
      if (!previous || !snapshot.allReplicas || previous.snapshot.since !== snapshot.since) return [];
      const memoryUsedShare =
        snapshot.redis && snapshot.redis.maxMemoryBytes > 0
          ? snapshot.redis.usedMemoryBytes / snapshot.redis.maxMemoryBytes
          : null;
      const records = new Map(this.options.cache.policyRecords().map((record) => [record.type, record]));
      const decisions: Decision[] = [];
      for (const type of CACHE_DATA_TYPES) {
        const decision = await this.tune(type, records.get(type)!, previous, snapshot, memoryUsedShare);
        if (decision) decisions.push(decision);
      }
      return decisions;
    } finally {
      if (locks && token) await locks.release(LOCK_NAME, token).catch(() => {});
    }
  }

  private async tune(
    type: CacheDataType,
    record: PolicyRecord,
    previous: { snapshot: CacheStatsSnapshot; takenAt: number },
    snapshot: CacheStatsSnapshot,
    memoryUsedShare: number | null,
  ): Promise<Decision | null> {
    if (!record.enabled) return null;
    // An admin's own setting wins: auto-tune leaves the type alone (docs/operations.md).
    if (!record.isDefault && record.updatedBy !== AUTO_TUNE_ACTOR) {
      this.streaks.delete(type);
      return null;
    }
    const bounds = this.settings.bounds[type];
    const inBounds = nextTtl(record.ttlSeconds, "hold", bounds);
    if (inBounds !== record.ttlSeconds) {
      const verdict: Verdict = inBounds > record.ttlSeconds ? "grow" : "shrink";
      const reason = `outside the bounds ${bounds.minTtlSeconds}-${bounds.maxTtlSeconds} s`;
      // Not a measured step: tuning restarts from the new bounds (settling on the new TTL).
      return this.apply(type, record, inBounds, false, {
        verdict,
        reason,
        reads: 0,
        hitRatio: null,
        writeShare: null,
      });
    }
    // Counters from before the cache turned over under the last change (here or on another
    // replica) still describe the previous TTL: judge only intervals that start after it did.
    // A change made by another replica: its previous TTL is unknown here, the current one stands in.
    const known = this.changedFrom.get(type);
    const previousTtl = known?.updatedAt === record.updatedAt ? known.ttlSeconds : record.ttlSeconds;
    const settledAt = record.updatedAt
      ? Date.parse(record.updatedAt) + previousTtl * 1000 * TUNING.settleTtls
      : 0;
    if (record.updatedAt && previous.takenAt <= settledAt) {
      this.streaks.delete(type);
      return null;
    }
    const before = previous.snapshot.byType.find((t) => t.type === type)!;
    const now = snapshot.byType.find((t) => t.type === type)!;
    const counts: IntervalCounts = {
      hits: now.hits - before.hits,
      misses: now.misses - before.misses,
      writes: now.writes - before.writes + (now.invalidations - before.invalidations),
    };
    const reads = counts.hits + counts.misses;
    const { verdict, reason } = judge(counts, this.settings.targetHitRatio, memoryUsedShare);
    const streak = this.streaks.get(type);
    const count = verdict !== "hold" && streak?.verdict === verdict ? streak.count + 1 : 1;
    this.streaks.set(type, { verdict, count });
    const hitRatio = reads > 0 ? counts.hits / reads : null;
    const writeShare = reads > 0 ? counts.writes / reads : null;
    const target = nextTtl(record.ttlSeconds, verdict, bounds);
    const confirmed = verdict !== "hold" && count >= TUNING.confirmations[verdict];
    if (confirmed && target !== record.ttlSeconds) {
      return this.apply(type, record, target, true, { verdict, reason, reads, hitRatio, writeShare });
    }
    const decision: Decision = {
      type,
      at: new Date().toISOString(),
      verdict,
      reason,
      reads,
      hitRatio,
      writeShare,
      ttlSeconds: record.ttlSeconds,
      previousTtlSeconds: null,
    };
    this.decisions.set(type, decision);
    return decision;
  }

  /** Changes the TTL for every replica (persisted, broadcast) and records why. */
  private async apply(
    type: CacheDataType,
    record: PolicyRecord,
    ttlSeconds: number,
    settleOnPrevious: boolean,
    why: Pick<Decision, "verdict" | "reason" | "reads" | "hitRatio" | "writeShare">,
  ): Promise<Decision> {
    const decision: Decision = {
      type,
      at: new Date().toISOString(),
      ...why,
      ttlSeconds: record.ttlSeconds,
      previousTtlSeconds: null,
    };
    const updated = await this.options.cache.updatePolicy(type, { ttlSeconds }, AUTO_TUNE_ACTOR);
    if (!Array.isArray(updated)) {
      if (settleOnPrevious && updated.updatedAt) {
        this.changedFrom.set(type, { updatedAt: updated.updatedAt, ttlSeconds: record.ttlSeconds });
      }
      decision.previousTtlSeconds = record.ttlSeconds;
      decision.ttlSeconds = ttlSeconds;
      this.streaks.delete(type);
      await this.options.audit?.record(AUTO_TUNE_PRINCIPAL, {
        agentId: SYSTEM_AUDIT_SCOPE,
        action: "cache.autoTune",
        target: type,
        details: { ttlSeconds, previousTtlSeconds: record.ttlSeconds, ...why },
      });
      this.options.logger?.info(
        { type, from: record.ttlSeconds, to: ttlSeconds, reason: why.reason },
        "cache TTL auto-tuned",
      );
    }
    this.decisions.set(type, decision);
    return decision;
  }
}
