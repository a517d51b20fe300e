/**
 * Agent state: the rules (limits, compare-and-set, patches, hash chain, retention) and the
 * after-commit work (cache, agent directory, events). Resolvers authorise, then call this.
 */
import type DataLoader from "dataloader";
import type { AgentDirectory } from "../../../core/agents/directory.js";
import type { AuditLog } from "../../../core/audit/audit-log.js";
import type { Principal } from "../../../core/auth/principal.js";
import type { CacheLayer } from "../../../core/cache/index.js";
import type { CacheRef } from "../../../core/cache/keys.js";
import { badUserInput, notFound, payloadTooLarge, versionConflict } from "../../../core/errors.js";
import { type EventBus, OrderedPublisher, topic } from "../../../core/events.js";
import type { Logger } from "../../../core/logger.js";
import { findJsonProblem, isWellFormedText } from "../../../core/validation/json.js";
import { type ChainVerification, ChainVerifier, hashVersion } from "./hash-chain.js";
import type { JsonValue } from "./json.js";
import { applyStatePatch, type PatchFormat } from "./patch.js";
import {
  type AppendResult,
  type HistoryPage,
  type NewVersionInput,
  type StateStore,
  type StateVersionRecord,
  VersionConflictError,
} from "./store-port.js";

export interface StateLimits {
  /** Largest serialised state document, in bytes (STATE_MAX_BYTES). */
  maxBytes: number;
  /** Versions kept per agent on write; 0 keeps all (STATE_HISTORY_LIMIT). */
  historyLimit: number;
}

/** Deeper documents are refused: they serve no real state and cost stack in every JSON walk. */
export const MAX_STATE_DEPTH = 64;
export const MAX_REASON_LENGTH = 1000;
const VERIFY_CHUNK = 500;

export const agentStateTopic = (agentId: string) => topic("agentStateChanged", agentId);

export interface StateLoaders {
  current: DataLoader<CacheRef, StateVersionRecord | null, string>;
  version: DataLoader<CacheRef, StateVersionRecord | null, string>;
}

export interface WriteRequest {
  agentId: string;
  expectedVersion?: number | null;
  reason?: string | null;
}

export class StateService {
  private readonly publisher: OrderedPublisher;
  constructor(
    private readonly deps: {
      store: StateStore;
      cache: CacheLayer;
      events: EventBus;
      agents: AgentDirectory;
      audit: AuditLog;
      limits: StateLimits;
      logger: Logger;
      /** The agent's thread checkpoints, deleted with its state (domain/checkpoints.ts). */
      checkpoints?: { deleteAgent(agentId: string): Promise<number> };
    },
  ) {
    this.publisher = new OrderedPublisher(deps.events, (error) =>
      deps.logger.warn({ err: String(error) }, "could not publish agentStateChanged"),
    );
    // The same loads serve requests, prefetch and warmAgent (none depends on the request).
    const { cache, store } = deps;
    // Both types carry the agent's revision, so one probe checks either (a store in this process only).
    const revisions = store.revisions;
    const probe = revisions && ((refs: readonly CacheRef[]) => revisions(refs.map((ref) => ref.agentId)));
    cache.registerSource("AGENT_STATE", {
      load: this.loadCurrent,
      warmRefs: async (agentId) => [StateService.currentRef(agentId)],
      probe,
    });
    cache.registerSource("STATE_VERSION", {
      load: this.loadVersions,
      warmRefs: async (agentId) => {
        const [current] = await store.currentStates([agentId]);
        return current?.value ? [StateService.versionRef(agentId, current.value.version)] : [];
      },
      probe,
    });
  }

  private readonly loadCurrent = (refs: readonly CacheRef[]) =>
    this.deps.store.currentStates(refs.map((ref) => ref.agentId));

  private readonly loadVersions = (refs: readonly CacheRef[]) =>
    this.deps.store.versions(refs.map((ref) => ({ agentId: ref.agentId, version: Number(ref.id) })));

  /** Per-request loaders: batched, cached reads of current states and of specific versions. */
  createLoaders(): StateLoaders {
    const { cache } = this.deps;
    return {
      current: cache.loader("AGENT_STATE"),
      version: cache.loader("STATE_VERSION"),
    };
  }

  static currentRef(agentId: string): CacheRef {
    return { agentId, id: agentId };
  }

  static versionRef(agentId: string, version: number): CacheRef {
    return { agentId, id: String(version) };
  }

  async history(agentId: string, first: number, beforeVersion?: number): Promise<HistoryPage> {
    return this.deps.store.history(agentId, first, beforeVersion);
  }

  async verifyHistory(agentId: string): Promise<ChainVerification> {
    const verifier = new ChainVerifier();
    for await (const chunk of this.deps.store.scanVersions(agentId, VERIFY_CHUNK)) verifier.add(chunk);
    return verifier.result();
  }

  async putState(
    principal: Principal,
    request: WriteRequest & { data: JsonValue },
  ): Promise<StateVersionRecord> {
    this.checkDocument(request.data, "data");
    return this.append(principal, "state.put", request, () => request.data);
  }

  async patchState(
    principal: Principal,
    request: WriteRequest & { patch: JsonValue; format: PatchFormat },
  ): Promise<StateVersionRecord> {
    this.checkDocument(request.patch, "patch");
    if (request.format === "MERGE_PATCH" && !isPlainObject(request.patch)) {
      throw badUserInput(
        "A MERGE_PATCH patch must be a JSON object (RFC 7396); use format JSON_PATCH for operation lists",
      );
    }
    return this.append(principal, "state.patch", request, (current) => {
      const patched = applyStatePatch(request.format, current?.data ?? {}, request.patch);
      this.checkDocument(patched, "patched state");
      return patched;
    });
  }

  async rollbackState(
    principal: Principal,
    request: WriteRequest & { toVersion: number },
  ): Promise<StateVersionRecord> {
    assertPositive(request.toVersion, "toVersion");
    const [target] = await this.deps.store.versions([
      { agentId: request.agentId, version: request.toVersion },
    ]);
    if (!target?.value) {
      throw notFound(
        `Version ${request.toVersion} of agent "${request.agentId}" does not exist (never written, or pruned)`,
        { agentId: request.agentId, version: request.toVersion },
      );
    }
    const data = target.value.data;
    const reason = request.reason ?? `rollback to version ${request.toVersion}`;
    return this.append(principal, "state.rollback", { ...request, reason }, () => data);
  }

  async deleteAgent(principal: Principal, agentId: string): Promise<boolean> {
    const removedCheckpoints = (await this.deps.checkpoints?.deleteAgent(agentId)) ?? 0;
    const { deleted: deletedState, revision } = await this.deps.store.deleteAgent(agentId);
    const deleted = deletedState || removedCheckpoints > 0;
    if (revision > 0) await this.deps.cache.purgeAgent(agentId, ["AGENT_STATE", "STATE_VERSION"], revision);
    await this.deps.agents.mark(agentId, "state", false);
    if (deleted) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "state.delete",
        target: null,
        details: null,
      });
    }
    return deleted;
  }

  async pruneHistory(principal: Principal, agentId: string, keepLast: number): Promise<number> {
    if (!Number.isInteger(keepLast) || keepLast < 1) {
      throw badUserInput(
        `keepLast must be a positive integer (got ${keepLast}); the current version is always kept`,
        {
          argument: "keepLast",
        },
      );
    }
    const { removed, revision } = await this.deps.store.prune(agentId, keepLast);
    if (removed > 0) {
      await this.deps.cache.purgeAgent(agentId, ["STATE_VERSION"], revision);
      await this.deps.audit.record(principal, {
        agentId,
        action: "state.prune",
        target: null,
        details: { keepLast, removed },
      });
    }
    return removed;
  }

  private async append(
    principal: Principal,
    action: "state.put" | "state.patch" | "state.rollback",
    request: WriteRequest,
    nextData: (current: StateVersionRecord | null) => JsonValue,
  ): Promise<StateVersionRecord> {
    const { agentId } = request;
    const expectedVersion = request.expectedVersion ?? undefined;
    if (expectedVersion !== undefined && (!Number.isInteger(expectedVersion) || expectedVersion < 0)) {
      throw badUserInput(
        `expectedVersion must be 0 (no state yet) or a positive version (got ${expectedVersion})`,
        {
          argument: "expectedVersion",
        },
      );
    }
    const reason = request.reason ?? null;
    if (reason !== null && reason.length > MAX_REASON_LENGTH) {
      throw badUserInput(`reason is longer than ${MAX_REASON_LENGTH} characters`, { argument: "reason" });
    }
    if (reason !== null && !isWellFormedText(reason)) {
      throw badUserInput("reason has malformed Unicode (a lone surrogate)", { argument: "reason" });
    }

    let result: AppendResult;
    try {
      result = await this.deps.store.append({
        agentId,
        expectedVersion,
        historyLimit: this.deps.limits.historyLimit,
        build: (current): NewVersionInput => ({ data: nextData(current), author: principal.sub, reason }),
        seal: (input, version, previousHash) => {
          const createdAt = new Date().toISOString();
          const fields = { ...input, version, createdAt };
          return { ...fields, agentId, hash: hashVersion(fields, previousHash), previousHash };
        },
      });
    } catch (error) {
      if (error instanceof VersionConflictError) {
        throw versionConflict(
          `Agent "${agentId}" is at version ${error.currentVersion}, not ${error.expectedVersion}: ` +
            "read the current state and retry with its version",
          error.currentVersion,
        );
      }
      throw error;
    }
    await this.afterCommit(result);
    await this.deps.audit.record(principal, {
      agentId,
      action,
      target: String(result.record.version),
      details: { version: result.record.version, hash: result.record.hash, pruned: result.pruned },
    });
    return result.record;
  }

  /** Cache, directory and events, in that order: a reader must never see the cache lag a returned write. */
  private async afterCommit({ record, revision, pruned }: AppendResult): Promise<void> {
    const { cache, agents } = this.deps;
    const { agentId } = record;
    // Reserved before any await, while commits are still in version order: subscribers then get
    // version 5 before 6 even if 6's cache writes finish first.
    const turn = this.publisher.reserve(agentId);
    try {
      if (pruned > 0) await cache.purgeAgent(agentId, ["STATE_VERSION"], revision);
      await Promise.all([
        cache.write("AGENT_STATE", StateService.currentRef(agentId), revision, record),
        cache.write("STATE_VERSION", StateService.versionRef(agentId, record.version), revision, record),
      ]);
      if (record.version === 1) await agents.mark(agentId, "state", true);
    } finally {
      // Not awaited: delivery must not hold the mutation (or fail it) while Redis is slow or down.
      turn.publish(agentStateTopic(agentId), record);
    }
  }

  private checkDocument(value: JsonValue, what: string): void {
    if (value === undefined) throw badUserInput(`${what} must be a JSON value`);
    // Checked before serialising: a hostile, very deep document would overflow the stack.
    const problem = findJsonProblem(value, MAX_STATE_DEPTH);
    if (problem?.kind === "too-deep") {
      throw badUserInput(`The ${what} is nested deeper than ${MAX_STATE_DEPTH} levels`);
    }
    if (problem?.kind === "malformed-text") {
      throw badUserInput(`The ${what} has malformed Unicode (a lone surrogate) at ${problem.path}`);
    }
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > this.deps.limits.maxBytes) {
      throw payloadTooLarge(
        `The ${what} is ${size} bytes serialised; the limit is ${this.deps.limits.maxBytes} bytes (STATE_MAX_BYTES)`,
        { size, limit: this.deps.limits.maxBytes },
      );
    }
  }
}

export function assertPositive(value: number, argument: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw badUserInput(`${argument} must be a positive integer (got ${value})`, { argument });
  }
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
