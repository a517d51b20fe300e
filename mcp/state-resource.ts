/**
 * Each agent's state as an MCP resource, `mnemo://agents/{id}/state`: listed (the agents the
 * caller may read), read (the same JSON as get_state) and subscribable. `resources/subscribe`
 * first reads the agent through the API, so a token that may not read it is refused there and
 * then (FORBIDDEN), and then watches it (state-watch.ts): each new version reaches the client as
 * `notifications/resources/updated`, after which it reads the resource again.
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode as JsonRpcErrorCode,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { GraphQLCallError } from "./graphql-client.js";
import { GET_STATE, LIST_AGENTS, type StateVersion } from "./operations.js";
import type { RequestCaller } from "./session.js";
import type { StateWatch } from "./state-watch.js";

export const STATE_URI_TEMPLATE = "mnemo://agents/{id}/state";
export const stateUri = (agentId: string) => `mnemo://agents/${encodeURIComponent(agentId)}/state`;

/** The agents listed by resources/list: one page, the first this many the caller may read. */
const LISTED_AGENTS = 100;

/** JSON-RPC codes for the API's error codes; the API's own code travels in the error's data. */
const JSON_RPC_CODES: Record<string, number> = {
  BAD_USER_INPUT: JsonRpcErrorCode.InvalidParams,
  // The code MCP's specification uses for "resource not found".
  NOT_FOUND: -32002,
};
/** Implementation-defined server error: the API refused (FORBIDDEN, RATE_LIMITED, UNAVAILABLE…). */
const API_REFUSED = -32000;

/**
 * A JSON-RPC error answer: the SDK sends `code`, `message` and `data` of whatever a handler
 * throws. (The SDK's McpError would prefix "MCP error <code>:" to the message, and the client
 * prefixes it again.) The message starts with the API's code, which `data.code` also carries.
 */
export class ResourceError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: { code: string },
  ) {
    super(message);
    this.name = "ResourceError";
  }
}

export function registerStateResource(server: McpServer, caller: RequestCaller, watch: StateWatch): void {
  const template = new ResourceTemplate(STATE_URI_TEMPLATE, {
    list: async (extra) => {
      const data = await readApi(() =>
        caller.graphql<{ agents: { edges: { node: { id: string } }[] } }>(caller.token(extra), LIST_AGENTS, {
          first: LISTED_AGENTS,
        }),
      );
      return {
        resources: data.agents.edges.map(({ node }) => ({
          uri: stateUri(node.id),
          name: `${node.id} state`,
          mimeType: "application/json",
        })),
      };
    },
  });

  server.registerResource(
    "agent-state",
    template,
    {
      title: "Agent state",
      description:
        "An agent's current working state as JSON: {agentId, state: {version, data, createdAt, author, " +
        "reason, hash}}, state null before the first write. Subscribe to be told when a new version is written.",
      mimeType: "application/json",
    },
    async (uri, variables, extra) => {
      const agentId = agentIdOf(variables.id);
      const data = await readApi(() =>
        caller.graphql<{ agent: { state: StateVersion | null } }>(caller.token(extra), GET_STATE, {
          agentId,
        }),
      );
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: "application/json",
            text: JSON.stringify({ agentId, state: data.agent.state }, null, 2),
          },
        ],
      };
    },
  );

  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const { uri } = request.params;
    const agentId = agentIdFromUri(uri, template);
    // Refused here, with the API's own answer, rather than later on the WebSocket.
    await readApi(() => caller.graphql(caller.token(extra), GET_STATE, { agentId }));
    watch.watch(uri, agentId);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    watch.unwatch(request.params.uri);
    return {};
  });
}

function agentIdFromUri(uri: string, template: ResourceTemplate): string {
  const variables = template.uriTemplate.match(uri);
  if (!variables) {
    throw new ResourceError(
      JsonRpcErrorCode.InvalidParams,
      `BAD_USER_INPUT: "${uri}" is not a Mnemo resource; use ${STATE_URI_TEMPLATE}`,
      { code: "BAD_USER_INPUT" },
    );
  }
  return agentIdOf(variables.id);
}

function agentIdOf(variable: string | string[] | undefined): string {
  const raw = Array.isArray(variable) ? variable[0] : variable;
  try {
    return decodeURIComponent(raw ?? "");
  } catch {
    throw new ResourceError(
      JsonRpcErrorCode.InvalidParams,
      "BAD_USER_INPUT: the agent id in the URI is not valid percent-encoding",
      { code: "BAD_USER_INPUT" },
    );
  }
}

/** Runs an API call; its GraphQL error becomes a JSON-RPC error carrying the API's code. */
async function readApi<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof GraphQLCallError)) throw error;
    throw new ResourceError(JSON_RPC_CODES[error.code] ?? API_REFUSED, `${error.code}: ${error.message}`, {
      code: error.code,
    });
  }
}
