/**
 * The StateStore port: everything the state subgraph needs from its store of record. Two
 * adapters implement it (SQLite, Neo4j) and one contract suite tests both.
 */
import type { Revisioned, RevisionProbe } from "../../../core/store/revisioned.js";
import type { JsonValue } from "../domain/json.js";

export interface StateVersionRecord {
  agentId: string;
  version: number;
  data: JsonValue;
  /** ISO 8601 */
  createdAt: string;
  author: string | null;
  reason: string | null;
  hash: string;
  previousHash: string | null;
}

/**
 * A version with the agent's cache revision: the revision grows with every change to an agent's
 * state (writes, deletes, prunes) and is never reused, even when version numbers restart after
 * a delete.
 */
export type RevisionedVersion = Revisioned<StateVersionRecord>;

/** What a write computes from the current version, inside the store's transaction. */
export type NewVersionInput = Omit<
  StateVersionRecord,
  "agentId" | "version" | "hash" | "previousHash" | "createdAt"
>;

export interface AppendRequest {
  agentId: string;
  /** Compare-and-set: the write fails unless this is the current version (0 = no state yet). */
  expectedVersion?: number;
  /** Computes the new version from the current one; throws to abort (nothing is written). */
  build(current: StateVersionRecord | null): NewVersionInput;
  /** Hashes and timestamps the version; pure, so a retried transaction recomputes it the same way. */
  seal(input: NewVersionInput, version: number, previousHash: string | null): StateVersionRecord;
  /** Keep at most this many versions (0 = keep all); older ones are pruned in the same transaction. */
  historyLimit: number;
}

export interface AppendResult {
  record: StateVersionRecord;
  revision: number;
  pruned: number;
}

export interface HistoryPage {
  records: StateVersionRecord[];
  hasNextPage: boolean;
  totalCount: number;
}

export class VersionConflictError extends Error {
  constructor(
    readonly agentId: string,
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super(`expected version ${expectedVersion} of agent ${agentId}, current is ${currentVersion}`);
    this.name = "VersionConflictError";
  }
}

export interface StateStore {
  /** Current state of each agent (batched: one query for all ids). */
  currentStates(agentIds: readonly string[]): Promise<RevisionedVersion[]>;
  /** Specific versions (batched); `revision` is the agent's revision read in the same snapshot. */
  versions(refs: readonly { agentId: string; version: number }[]): Promise<RevisionedVersion[]>;
  /** Newest first, versions strictly below `beforeVersion` when given. */
  history(agentId: string, first: number, beforeVersion?: number): Promise<HistoryPage>;
  /** Every kept version, oldest first, in chunks (for hash-chain verification). */
  scanVersions(agentId: string, chunkSize: number): AsyncIterable<StateVersionRecord[]>;
  /** Appends a version atomically (compare-and-set when expectedVersion is given); serialised per agent. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** Removes the agent's state and history; `deleted` is false when it had none. */
  deleteAgent(agentId: string): Promise<{ deleted: boolean; revision: number }>;
  /** Keeps the newest `keepLast` versions; returns how many were removed. */
  prune(agentId: string, keepLast: number): Promise<{ removed: number; revision: number }>;
  /**
   * Each agent's current revision, answered synchronously: only a store in this process
   * (SQLite) has it. The cache then checks a copy it holds against the store instead of asking
   * Redis (see core/cache/near-cache.ts).
   */
  readonly revisions?: RevisionProbe;
  /** Answers when the store is reachable (for /ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The associated data an encrypted state document is bound to (see core/crypto/encryption.ts):
 * a ciphertext moved to another agent or version no longer decrypts.
 */
export const stateDataContext = (agentId: string, version: number) => `state:${agentId}:${version}`;
