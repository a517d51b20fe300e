/**
 * Forgetting: an agent's policy (`configureMemory(config: {forgetting, capacity})`) turned into
 * the rules the store applies, and the runner that applies every agent's policy periodically
 * (MEMORY_FORGET_INTERVAL_MS) — one replica at a time, under a short lock (Redis when
 * configured, in-process otherwise). Pinned memories are never forgotten.
 */
import type { LockManager } from "../../../core/locks/lock.js";
import type { Logger } from "../../../core/logger.js";
import type { MemoryConfig } from "./model.js";
import type { ForgetRules } from "./store-port.js";

const HOUR = 3_600_000;

/** The store's rules for this configuration at `now`; null when nothing would ever be forgotten. */
export function forgetRules(config: MemoryConfig, now: number): ForgetRules | null {
  const { maxAgeHours, inactiveHours, minImportance } = config.forgetting;
  if (maxAgeHours === null && inactiveHours === null && minImportance === null && config.capacity === null) {
    return null;
  }
  return {
    occurredBefore: maxAgeHours === null ? null : new Date(now - maxAgeHours * HOUR).toISOString(),
    inactiveSince: inactiveHours === null ? null : new Date(now - inactiveHours * HOUR).toISOString(),
    minImportance,
    capacity: config.capacity,
  };
}

/** Lock names: the whole sweep, and one agent's run (a sweep and an on-demand run of one agent exclude each other). */
export const SWEEP_LOCK = "memory-forgetting";
export const agentLock = (agentId: string) => `memory-forgetting:${agentId}`;
/** Long enough for a sweep of many agents; a crashed holder's lock expires after it. */
export const SWEEP_LOCK_TTL_MS = 5 * 60_000;
export const AGENT_LOCK_TTL_MS = 60_000;

export interface ForgettingTarget {
  /** Agents with a stored configuration. */
  configuredAgents(): Promise<string[]>;
  config(agentId: string): Promise<MemoryConfig>;
  /** Applies the agent's policy now (the caller holds the agent's lock); returns how many were removed. */
  applyForgetting(agentId: string): Promise<number>;
}

export interface SweepResult {
  agents: number;
  removed: number;
}

export class ForgettingRunner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepResult | null> | null = null;

  constructor(
    private readonly target: ForgettingTarget,
    private readonly locks: LockManager,
    private readonly logger: Logger,
  ) {}

  /** Sweeps every `intervalMs` (0: never; on-demand runs only). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) void this.sweep();
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * Applies every configured agent's policy once. Null when another runner (this or another
   * replica) holds the sweep lock: the sweep is then left to it.
   */
  async sweep(): Promise<SweepResult | null> {
    const token = await this.locks.acquire(SWEEP_LOCK, SWEEP_LOCK_TTL_MS);
    if (!token) return null;
    const run = (async () => {
      const result: SweepResult = { agents: 0, removed: 0 };
      try {
        for (const agentId of await this.target.configuredAgents()) {
          const config = await this.target.config(agentId);
          if (!forgetRules(config, Date.now())) continue;
          const agentToken = await this.locks.acquire(agentLock(agentId), AGENT_LOCK_TTL_MS);
          if (!agentToken) continue; // an on-demand run of this agent is under way
          try {
            result.removed += await this.target.applyForgetting(agentId);
            result.agents++;
          } catch (error) {
            this.logger.warn({ err: String(error), agentId }, "forgetting failed for an agent");
          } finally {
            await this.locks.release(agentLock(agentId), agentToken);
          }
        }
        if (result.removed > 0) this.logger.info(result, "forgetting sweep removed memories");
        return result;
      } finally {
        await this.locks.release(SWEEP_LOCK, token);
      }
    })();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
