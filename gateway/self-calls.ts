/**
 * Marks the GraphQL requests the gateway's MCP endpoint sends to the gateway's own /graphql. The
 * MCP request they answer already spent one operation of the principal's rate limit; without the
 * mark every tool call would be counted twice. The mark is a random secret made when the process
 * starts; it travels only over this process's own connection to itself, and is compared in
 * constant time, so a client cannot forge it to slip past the rate limit.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";

export const SELF_CALL_HEADER = "x-mnemo-self-call";

export interface SelfCallMark {
  /** The headers that mark a request as sent by this gateway to itself. */
  readonly headers: Record<string, string>;
  isMarked(header: string | undefined): boolean;
}

export function createSelfCallMark(): SelfCallMark {
  const secret = randomBytes(32).toString("base64url");
  const expected = Buffer.from(secret);
  return {
    headers: { [SELF_CALL_HEADER]: secret },
    isMarked(header) {
      if (header === undefined) return false;
      const given = Buffer.from(header);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
