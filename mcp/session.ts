/**
 * One MCP session: an `McpServer` with Mnemo's tools and state resource, and the StateWatch that
 * feeds its resource subscriptions. The stdio server has one for its process; the gateway's
 * /mcp endpoint one per `Mcp-Session-Id`.
 */
import { readFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { GraphQLCall } from "./graphql-client.js";
import { registerStateResource } from "./state-resource.js";
import { StateWatch, type StateWatchOptions } from "./state-watch.js";
import { registerTools } from "./tools.js";

export type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** How a handler calls the API as the client of the MCP request it is answering. */
export interface RequestCaller {
  graphql: GraphQLCall;
  /** The bearer token to call the API with for this request. */
  token(extra: RequestExtra): string;
}

export interface McpSessionOptions {
  graphql: GraphQLCall;
  /** The token for a request: its own (HTTP) or the process's (stdio). */
  tokenFor(extra: RequestExtra): string;
  /** The gateway's graphql-ws endpoint and the token resource subscriptions connect with. */
  watch: Pick<StateWatchOptions, "url" | "token" | "tls">;
  /** A resource subscription that failed after it was accepted (for the log). */
  onWatchFailure?: (uri: string, reason: string) => void;
}

export interface McpSession {
  readonly server: McpServer;
  /** Ends the resource subscriptions and closes the server (and its transport). */
  close(): Promise<void>;
}

/** Mnemo's version, from package.json: one level up in the source tree, two from dist/mcp/. */
function packageVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { version: string })
        .version;
    } catch {
      // not there: try the next place
    }
  }
  return "unknown";
}
const VERSION = packageVersion();

const INSTRUCTIONS = `Mnemo keeps an agent's working state and long-term memory.
- State: a versioned JSON document per agent. get_state, then put_state or patch_state with expectedVersion set to the version you read; on VERSION_CONFLICT read again and retry. state_history and rollback_state go back in time.
- Memory: remember stores one self-contained statement; recall answers a natural-language question with the best-matching memories; forget deletes one by id.
- Resource mnemo://agents/{id}/state is the current state; subscribe to it to hear about new versions.
Errors start with a code: BAD_USER_INPUT (fix the arguments), FORBIDDEN (your token may not touch that agent), NOT_FOUND, VERSION_CONFLICT, RATE_LIMITED (wait retryAfterSeconds), UNAVAILABLE (try again shortly).`;

export function createMcpSession(options: McpSessionOptions): McpSession {
  const server = new McpServer({ name: "mnemo", version: VERSION }, { instructions: INSTRUCTIONS });
  const caller: RequestCaller = { graphql: options.graphql, token: options.tokenFor };
  const watch = new StateWatch({
    ...options.watch,
    notify: (uri) => server.server.sendResourceUpdated({ uri }),
    onFailure: options.onWatchFailure,
  });
  registerTools(server, caller);
  registerStateResource(server, caller, watch);
  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= (async () => {
        await watch.close();
        await server.close();
      })();
      return closing;
    },
  };
}
