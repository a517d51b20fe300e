/**
 * The authenticated caller, as carried in the JWT claims (`sub`, `role`, `agents`).
 */
export type Role = "admin" | "agent" | "reader";
export const ROLES: readonly Role[] = ["admin", "agent", "reader"];

export interface Principal {
  sub: string;
  role: Role;
  /** Agent ids this principal may touch; `["*"]` means all agents. */
  agents: string[];
}

/** Validates untrusted claims into a Principal, or explains what is wrong. */
export function principalFromClaims(claims: Record<string, unknown>): Principal | string {
  const { sub, role, agents } = claims;
  if (typeof sub !== "string" || sub.length === 0) return "the token has no `sub` claim";
  if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
    return `the token's \`role\` claim must be one of ${ROLES.join(", ")}`;
  }
  const agentList = agents ?? (role === "admin" ? ["*"] : []);
  if (!Array.isArray(agentList) || !agentList.every((a) => typeof a === "string")) {
    return "the token's `agents` claim must be an array of agent ids";
  }
  return { sub, role: role as Role, agents: agentList };
}
