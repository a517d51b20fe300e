import { badUserInput } from "../errors.js";

/** Agent ids: 1-128 characters of A-Z a-z 0-9 . _ : - (safe in Redis keys, hash tags and URLs). */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function assertAgentId(id: unknown, argument = "agentId"): string {
  if (typeof id !== "string" || !AGENT_ID_PATTERN.test(id)) {
    const shown =
      typeof id === "string" ? JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id) : typeof id;
    throw badUserInput(
      `Invalid ${argument} ${shown}: use 1-128 characters of letters, digits, ".", "_", ":" or "-"`,
      { argument },
    );
  }
  return id;
}
