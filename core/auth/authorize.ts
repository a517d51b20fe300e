/**
 * The one place where roles and the `agents` claim are enforced. Resolvers call these helpers;
 * they never compare roles or agent ids themselves.
 */
import { forbidden, unauthenticated } from "../errors.js";
import type { Principal } from "./principal.js";

export type Access = "read" | "write";

function coversAgent(principal: Principal, agentId: string): boolean {
  return principal.agents.includes("*") || principal.agents.includes(agentId);
}

export function canAccessAgent(
  principal: Principal | null | undefined,
  agentId: string,
  access: Access,
): boolean {
  if (!principal) return false;
  if (principal.role === "admin") return true;
  if (access === "write" && principal.role === "reader") return false;
  return coversAgent(principal, agentId);
}

export function requirePrincipal(principal: Principal | null | undefined): Principal {
  if (!principal) throw unauthenticated("Authentication required: send `Authorization: Bearer <JWT>`");
  return principal;
}

/** Throws FORBIDDEN unless the principal may `access` the agent. */
export function authorizeAgent(
  principal: Principal | null | undefined,
  agentId: string,
  access: Access,
): Principal {
  const who = requirePrincipal(principal);
  if (canAccessAgent(who, agentId, access)) return who;
  if (access === "write" && who.role === "reader") {
    throw forbidden(`Role "reader" cannot change agent "${agentId}"; writes need role "agent" or "admin"`);
  }
  throw forbidden(
    `Principal "${who.sub}" may not ${access} agent "${agentId}" (not in its \`agents\` claim)`,
  );
}

export function authorizeAdmin(principal: Principal | null | undefined): Principal {
  const who = requirePrincipal(principal);
  if (who.role !== "admin")
    throw forbidden(`This operation needs role "admin" (principal has "${who.role}")`);
  return who;
}

/**
 * For list queries: `null` means every agent is visible, otherwise only the listed ids.
 */
export function visibleAgentIds(principal: Principal | null | undefined): string[] | null {
  const who = requirePrincipal(principal);
  if (who.role === "admin" || who.agents.includes("*")) return null;
  return who.agents;
}
