/**
 * The stdio MCP server, for desktop and coding agents that start their tools as child processes:
 * one session on stdin/stdout, calling the gateway at MNEMO_URL with the token in MNEMO_TOKEN.
 * stdout carries only MCP messages; everything else goes to stderr.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createGraphQLClient } from "./graphql-client.js";
import { createMcpSession } from "./session.js";

export const DEFAULT_MNEMO_URL = "http://127.0.0.1:4000/graphql";

export interface StdioSettings {
  /** The gateway's GraphQL endpoint (http or https). */
  graphqlUrl: string;
  /** Its graphql-ws endpoint, for resource subscriptions. */
  websocketUrl: string;
  token: string;
}

/** Reads MNEMO_URL and MNEMO_TOKEN; returns one sentence per problem instead when they are wrong. */
export function readStdioSettings(env: Record<string, string | undefined>): StdioSettings | string[] {
  const problems: string[] = [];
  const rawUrl = env.MNEMO_URL?.trim() || DEFAULT_MNEMO_URL;
  let url: URL | null = null;
  try {
    url = new URL(rawUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      problems.push(`MNEMO_URL must be an http:// or https:// URL (got "${rawUrl}")`);
    }
    // The gateway's address alone is enough: its API is on /graphql.
    if (url.pathname === "/") url.pathname = "/graphql";
  } catch {
    problems.push(`MNEMO_URL must be a URL like ${DEFAULT_MNEMO_URL} (got "${rawUrl}")`);
  }
  // A pasted "Bearer eyJ…" works as well as the bare token.
  const token = env.MNEMO_TOKEN?.trim().replace(/^Bearer\s+/i, "");
  if (!token) {
    problems.push(
      "MNEMO_TOKEN is required: a Mnemo token for the agents this server may touch " +
        "(npm run -s token -- --role agent --agents <ids> --ttl 30d)",
    );
  }
  if (problems.length > 0 || !url || !token) return problems;
  return {
    graphqlUrl: url.toString(),
    websocketUrl: url.toString().replace(/^http/, "ws"),
    token,
  };
}

export async function runStdioServer(settings: StdioSettings): Promise<() => Promise<void>> {
  const session = createMcpSession({
    graphql: createGraphQLClient({ url: settings.graphqlUrl }),
    tokenFor: () => settings.token,
    watch: { url: settings.websocketUrl, token: () => settings.token },
    onWatchFailure: (uri, reason) => console.error(`mnemo-mcp: stopped watching ${uri}: ${reason}`),
  });
  await session.server.connect(new StdioServerTransport());
  console.error(`mnemo-mcp: serving MCP on stdio for ${settings.graphqlUrl}`);
  return () => session.close();
}
