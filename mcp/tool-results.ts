/**
 * How tool outcomes reach the model. A success is the result as JSON text (what every MCP client
 * shows the model) and as `structuredContent` (for clients that read it). A failure is an MCP
 * tool error (`isError: true`) whose text starts with the API's error code, e.g.
 * `VERSION_CONFLICT: … (currentVersion: 7)`, so the model can tell "retry with the current
 * version" from "you may not touch this agent" without parsing prose.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { GraphQLCallError } from "./graphql-client.js";

export function toolSuccess(result: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(result, null, 2) }],
    structuredContent: result,
  };
}

/** Extensions that help a caller act on the error; anything else (stack traces) stays out. */
const USEFUL_DETAILS = ["currentVersion", "argument", "retryAfterSeconds"];

export function toolError(error: unknown): CallToolResult {
  const failure =
    error instanceof GraphQLCallError
      ? error
      : new GraphQLCallError("INTERNAL_SERVER_ERROR", error instanceof Error ? error.message : String(error));
  const details = Object.fromEntries(
    Object.entries(failure.details).filter(([key]) => USEFUL_DETAILS.includes(key)),
  );
  const suffix = Object.entries(details)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join(", ");
  return {
    isError: true,
    content: [{ type: "text", text: `${failure.code}: ${failure.message}${suffix ? ` (${suffix})` : ""}` }],
    structuredContent: { error: { code: failure.code, message: failure.message, ...details } },
  };
}
