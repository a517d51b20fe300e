import { createHash } from "node:crypto";

/**
 * Full-text indexes (FTS5, Lucene) span every agent. Each memory also carries one opaque token
 * for its agent, so a search can require it inside the index instead of filtering afterwards.
 * Agent ids contain characters both tokenizers split on; a hex digest is always one token.
 */
export function agentToken(agentId: string): string {
  return `a${createHash("sha256").update(agentId).digest("hex").slice(0, 24)}`;
}
