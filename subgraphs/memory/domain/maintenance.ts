/**
 * The memory writes beyond remember/forget: feedback and learning, forgetting by policy,
 * consolidation and invalidation. Each checks its input before writing anything, writes in one
 * store transaction, then updates the cache and records an audit entry, like every write.
 */
import type { AgentDirectory } from "../../../core/agents/directory.js";
import type { AuditLog } from "../../../core/audit/audit-log.js";
import type { Principal } from "../../../core/auth/principal.js";
import type { CacheLayer } from "../../../core/cache/index.js";
import { badUserInput, notFound, unavailable } from "../../../core/errors.js";
import type { LockManager } from "../../../core/locks/lock.js";
import { planConsolidation } from "./consolidation.js";
import { AGENT_LOCK_TTL_MS, agentLock, forgetRules } from "./forgetting.js";
import { optionalDate } from "./input.js";
import { learnFromFeedback } from "./learning.js";
import { type MemoryConfig, type MemoryRecord, withConfigDefaults } from "./model.js";
import type { MemoryStore, RemovalResult } from "./store-port.js";

/** The principal the periodic forgetting sweep acts as (in the audit log). */
export const SYSTEM_PRINCIPAL: Principal = { sub: "system:forgetting", role: "admin", agents: ["*"] };
/** How long an on-demand forgetting run waits for a sweep of the same agent to finish. */
const AGENT_LOCK_WAIT_MS = 2000;
export const DEFAULT_CONSOLIDATION_THRESHOLD = 0.9;

export interface MaintenanceDeps {
  store: MemoryStore;
  cache: CacheLayer;
  agents: AgentDirectory;
  audit: AuditLog;
  locks: LockManager;
  /** The agent's configuration (defaults filled in). */
  config(agentId: string): Promise<MemoryConfig>;
}

export class MemoryMaintenance {
  constructor(private readonly deps: MaintenanceDeps) {}

  /** Records a vote on a memory and takes one learning step; returns the memory. */
  async reinforce(principal: Principal, agentId: string, id: string, useful: boolean): Promise<MemoryRecord> {
    const { store } = this.deps;
    const { found, lastComponents } = await store.reinforce(agentId, id, useful);
    if (!found) throw notFound(`Memory "${id}" does not exist`, { argument: "id" });
    // Read and written in one store transaction: concurrent votes each take their step.
    await store.updateConfig(agentId, (current) => {
      const config = withConfigDefaults(current);
      return { ...config, learned: learnFromFeedback(config, lastComponents, useful) };
    });
    await this.deps.audit.record(principal, {
      agentId,
      action: "memory.reinforce",
      target: id,
      details: { useful },
    });
    return this.read(agentId, id);
  }

  /** Back to the configured weights, and every vote forgotten. */
  async resetLearning(principal: Principal, agentId: string): Promise<MemoryConfig> {
    let updates = 0;
    await this.deps.store.resetFeedback(agentId);
    const reset = await this.deps.store.updateConfig(agentId, (current) => {
      const config = withConfigDefaults(current);
      updates = config.learned?.updates ?? 0;
      return { ...config, learned: null };
    });
    await this.deps.audit.record(principal, {
      agentId,
      action: "memory.resetLearning",
      target: null,
      details: { updates },
    });
    return reset;
  }

  /** On demand: waits briefly if a sweep is forgetting for this agent right now. */
  async runForgetting(principal: Principal, agentId: string): Promise<number> {
    const { locks } = this.deps;
    const deadline = Date.now() + AGENT_LOCK_WAIT_MS;
    let token = await locks.acquire(agentLock(agentId), AGENT_LOCK_TTL_MS);
    while (!token && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      token = await locks.acquire(agentLock(agentId), AGENT_LOCK_TTL_MS);
    }
    if (!token) {
      throw unavailable(
        `Forgetting is already running for agent "${agentId}" (another replica); try again shortly`,
      );
    }
    try {
      return await this.applyForgetting(agentId, principal);
    } finally {
      await locks.release(agentLock(agentId), token);
    }
  }

  /** Applies the agent's policy now; the caller holds the agent's lock. */
  async applyForgetting(agentId: string, principal: Principal = SYSTEM_PRINCIPAL): Promise<number> {
    const rules = forgetRules(await this.deps.config(agentId), Date.now());
    if (!rules) return 0;
    const result = await this.deps.store.forgetByPolicy(agentId, rules);
    await this.afterRemoval(agentId, result, []);
    if (result.removed.length > 0) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "memory.forgetting",
        target: null,
        details: { removed: result.removed.length, rules },
      });
    }
    return result.removed.length;
  }

  async consolidate(
    principal: Principal,
    agentId: string,
    threshold: number | null | undefined,
  ): Promise<{ merged: MemoryRecord[]; removed: number }> {
    const cosine = threshold ?? DEFAULT_CONSOLIDATION_THRESHOLD;
    if (!Number.isFinite(cosine) || cosine < 0.5 || cosine > 1) {
      throw badUserInput(`threshold must be from 0.5 to 1 (got ${cosine})`, { argument: "threshold" });
    }
    const merges = await planConsolidation(this.deps.store, agentId, cosine, new Date().toISOString());
    if (merges.length === 0) return { merged: [], removed: 0 };
    const result = await this.deps.store.consolidate(agentId, merges);
    const merged = merges.map((merge) => merge.keep);
    await this.afterRemoval(agentId, result, merged);
    await this.deps.audit.record(principal, {
      agentId,
      action: "memory.consolidate",
      target: null,
      details: { threshold: cosine, clusters: merges.length, removed: result.removed.length },
    });
    return { merged, removed: result.removed.length };
  }

  /** Ends a fact's validity at `at` (default now). */
  async invalidate(principal: Principal, agentId: string, id: string, at: unknown): Promise<MemoryRecord> {
    const validUntil = optionalDate(at, "at") ?? new Date().toISOString();
    const current = await this.read(agentId, id);
    if (current.validFrom && validUntil <= current.validFrom) {
      throw badUserInput(`at must be after the memory's validFrom (${current.validFrom})`, {
        argument: "at",
      });
    }
    const { record, revision } = await this.deps.store.invalidate(agentId, id, validUntil);
    if (!record) throw notFound(`Memory "${id}" does not exist`, { argument: "id" });
    await this.deps.cache.write("MEMORY", { agentId, id }, revision, record);
    await this.deps.audit.record(principal, {
      agentId,
      action: "memory.invalidate",
      target: id,
      details: { validUntil },
    });
    return record;
  }

  private async read(agentId: string, id: string): Promise<MemoryRecord> {
    const [found] = await this.deps.store.getMemories([id]);
    if (!found?.value || found.value.agentId !== agentId) {
      throw notFound(`Memory "${id}" does not exist`, { argument: "id" });
    }
    return found.value;
  }

  /** Cache entries of removed memories and entities become tombstones; kept ones are rewritten. */
  private async afterRemoval(agentId: string, result: RemovalResult, updated: MemoryRecord[]): Promise<void> {
    const { cache, agents } = this.deps;
    if (result.revision === 0) return;
    await Promise.all([
      ...result.removed.map((id) => cache.write("MEMORY", { agentId, id }, result.revision, null)),
      ...result.removedEntities.map((id) => cache.write("ENTITY", { agentId, id }, result.revision, null)),
      ...updated.map((record) => cache.write("MEMORY", { agentId, id: record.id }, result.revision, record)),
    ]);
    if (result.remaining === 0 && result.removed.length > 0) await agents.mark(agentId, "memories", false);
  }
}
