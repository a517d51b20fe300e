/**
 * `client.state`: an agent's versioned working state. Every write is a new immutable version;
 * `update` is the read-modify-write loop that survives concurrent writers.
 */
import { VersionConflictError } from "./errors.js";
import {
  GetStateAtDocument,
  GetStateDocument,
  type PatchFormat,
  PatchStateDocument,
  PutStateDocument,
  RollbackStateDocument,
  StateHistoryDocument,
  type StateVersionFieldsFragment,
} from "./generated/operations.js";
import type { HttpTransport } from "./transport.js";

/** One version of an agent's state; `data` typed by the caller. */
export type StateVersion<T = unknown> = Omit<StateVersionFieldsFragment, "data"> & { data: T };

/** A version in history, with the RFC 6902 diff from the version before it (null once that was pruned). */
export type HistoryEntry<T = unknown> = StateVersion<T> & { diff: unknown };

export interface HistoryPage<T = unknown> {
  /** Newest first. */
  versions: HistoryEntry<T>[];
  totalCount: number;
  hasNextPage: boolean;
  /** Pass as `after` to read the next (older) page. */
  endCursor: string | null;
}

export interface WriteOptions {
  /** Compare-and-set: fail with VersionConflictError unless this is the current version (0 = no state yet). */
  expectedVersion?: number;
  /** Why this version was written; kept in history (at most 1000 characters). */
  reason?: string;
}

export interface UpdateOptions {
  reason?: string;
  /** Attempts in all, the first included (default 8). */
  maxAttempts?: number;
  /** Waits before retry `attempt` (1, 2, ...); default: random 0..(10 ms * 2^attempt), at most 1 s. */
  backoff?: (attempt: number) => Promise<void>;
}

/**
 * What an `update` function receives: the current data (undefined before the first write) and
 * the whole current version (null before the first write).
 */
export type Updater<T> = (current: T | undefined, version: StateVersion<T> | null) => T | Promise<T>;

export const DEFAULT_UPDATE_ATTEMPTS = 8;

const defaultBackoff = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 10 * 2 ** attempt)));

export class StateApi {
  constructor(private readonly transport: HttpTransport) {}

  /** The current version, or a past one with `{ version }`; null when there is none (or it was pruned). */
  async get<T = unknown>(
    agentId: string,
    options: { version?: number } = {},
  ): Promise<StateVersion<T> | null> {
    if (options.version !== undefined) {
      const result = await this.transport.execute(GetStateAtDocument, { agentId, version: options.version });
      return (result.agent?.stateAt ?? null) as StateVersion<T> | null;
    }
    const result = await this.transport.execute(GetStateDocument, { agentId });
    return (result.agent?.state ?? null) as StateVersion<T> | null;
  }

  /** Writes `data` as the new version. */
  async put<T>(agentId: string, data: T, options: WriteOptions = {}): Promise<StateVersion<T>> {
    const result = await this.transport.execute(PutStateDocument, {
      agentId,
      data,
      expectedVersion: options.expectedVersion,
      reason: options.reason,
    });
    return result.putState as StateVersion<T>;
  }

  /**
   * Applies a patch to the current data: an object of changes (RFC 7396 merge patch, null deletes
   * a key) by default, or a list of RFC 6902 operations with `format: "JSON_PATCH"`.
   */
  async patch<T = unknown>(
    agentId: string,
    patch: unknown,
    options: WriteOptions & { format?: PatchFormat } = {},
  ): Promise<StateVersion<T>> {
    const result = await this.transport.execute(PatchStateDocument, {
      agentId,
      patch,
      format: options.format,
      expectedVersion: options.expectedVersion,
      reason: options.reason,
    });
    return result.patchState as StateVersion<T>;
  }

  /** Writes a new version whose data is `toVersion`'s (history stays linear). */
  async rollback<T = unknown>(
    agentId: string,
    toVersion: number,
    options: { reason?: string } = {},
  ): Promise<StateVersion<T>> {
    const result = await this.transport.execute(RollbackStateDocument, {
      agentId,
      toVersion,
      reason: options.reason,
    });
    return result.rollbackState as StateVersion<T>;
  }

  /** One page of kept versions, newest first (`first` defaults to 20, at most 100). */
  async history<T = unknown>(
    agentId: string,
    options: { first?: number; after?: string | null } = {},
  ): Promise<HistoryPage<T>> {
    const result = await this.transport.execute(StateHistoryDocument, {
      agentId,
      first: options.first,
      after: options.after ?? undefined,
    });
    const history = result.agent?.history;
    if (!history) return { versions: [], totalCount: 0, hasNextPage: false, endCursor: null };
    return {
      versions: history.edges.map((edge) => edge.node as HistoryEntry<T>),
      totalCount: history.totalCount,
      hasNextPage: history.pageInfo.hasNextPage,
      endCursor: history.pageInfo.endCursor,
    };
  }

  /**
   * Read, compute, compare-and-set, and on VERSION_CONFLICT start again from the fresh version:
   * `fn` may run several times and should have no side effects. After `maxAttempts` conflicts
   * the last VersionConflictError is thrown; any other error is thrown at once.
   */
  async update<T>(agentId: string, fn: Updater<T>, options: UpdateOptions = {}): Promise<StateVersion<T>> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_UPDATE_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer (got ${maxAttempts})`);
    }
    const backoff = options.backoff ?? defaultBackoff;
    for (let attempt = 1; ; attempt++) {
      const current = await this.get<T>(agentId);
      const next = await fn(current?.data, current);
      try {
        return await this.put(agentId, next, {
          expectedVersion: current?.version ?? 0,
          reason: options.reason,
        });
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt >= maxAttempts) throw error;
        await backoff(attempt);
      }
    }
  }
}
