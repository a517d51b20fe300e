/**
 * Memory and entity ids carry their agent: `<agentId>/<uuid>` and `<agentId>/entity/<uuid>`.
 * Agent ids cannot contain "/", so the owner of any id is known before the store is read: a
 * request for another agent's memory is refused without revealing whether it exists, and the
 * cache key (which is per agent) can be computed from the id alone.
 */
import { randomUUID } from "node:crypto";
import { AGENT_ID_PATTERN } from "../../../core/agents/agent-id.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const newMemoryId = (agentId: string): string => `${agentId}/${randomUUID()}`;
export const newEntityId = (agentId: string): string => `${agentId}/entity/${randomUUID()}`;

/** The agent that owns a memory id, or null when the string is not a memory id. */
export function memoryOwner(id: string): string | null {
  const slash = id.indexOf("/");
  if (slash < 1) return null;
  const agentId = id.slice(0, slash);
  return AGENT_ID_PATTERN.test(agentId) && UUID.test(id.slice(slash + 1)) ? agentId : null;
}

/** The agent that owns an entity id, or null when the string is not an entity id. */
export function entityOwner(id: string): string | null {
  const match = /^([^/]+)\/entity\/([^/]+)$/.exec(id);
  if (!match || !AGENT_ID_PATTERN.test(match[1]!) || !UUID.test(match[2]!)) return null;
  return match[1]!;
}
