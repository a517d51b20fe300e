/**
 * The audit log: who (token `sub` and role) did what to which agent, and when. Every write
 * path records an entry after its transaction commits; admins list them per agent. State
 * entries carry the version and its hash, so they can be checked against the state hash chain.
 * Entries hold metadata only, never state data or memory content.
 */
import type { Principal } from "../auth/principal.js";

export interface AuditEntry {
  /** Increasing per store; also the pagination cursor. */
  seq: number;
  /** ISO 8601 */
  at: string;
  agentId: string;
  actor: string;
  role: string;
  /** e.g. "state.put", "state.delete", "memory.remember", "cache.invalidateAgent" */
  action: string;
  /** What was touched within the agent (a version, a memory id), if anything. */
  target: string | null;
  details: Record<string, unknown> | null;
}

export type NewAuditEntry = Omit<AuditEntry, "seq" | "at" | "actor" | "role">;

/**
 * The agentId of entries about no one agent (a cache type invalidated, a cache policy changed):
 * `auditLog(agentId: "*")` lists them. No agent can have this id (agent ids are validated).
 */
export const SYSTEM_AUDIT_SCOPE = "*";

export interface AuditPage {
  entries: AuditEntry[];
  hasNextPage: boolean;
  totalCount: number;
}

export interface AuditStore {
  append(entry: Omit<AuditEntry, "seq">): Promise<void>;
  /** Newest first; `before` is the seq of the last entry of the previous page. */
  list(agentId: string, first: number, before?: number): Promise<AuditPage>;
  close(): Promise<void>;
}

export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly onError: (error: unknown, entry: NewAuditEntry) => void,
  ) {}

  /** Records an entry for a committed write. A failure is reported, never thrown: the write already happened. */
  async record(principal: Principal, entry: NewAuditEntry): Promise<void> {
    try {
      await this.store.append({
        ...entry,
        at: new Date().toISOString(),
        actor: principal.sub,
        role: principal.role,
      });
    } catch (error) {
      this.onError(error, entry);
    }
  }

  list(agentId: string, first: number, before?: number): Promise<AuditPage> {
    return this.store.list(agentId, first, before);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
