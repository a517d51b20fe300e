/**
 * Mnemo as an MCP server (Model Context Protocol, `@modelcontextprotocol/sdk`): eight tools and a
 * subscribable state resource per agent, over stdio (`npm run mcp`, the `mnemo-mcp` bin) and
 * Streamable HTTP (`/mcp` on the gateway). It is a client of the public GraphQL API: every tool
 * is one GraphQL operation sent with the caller's token, and resource updates come from the
 * gateway's `agentStateChanged` subscription. It never touches a store.
 *
 * - graphql-client.ts  one GraphQL operation over HTTP with a token; errors keep the API's code
 * - operations.ts      the GraphQL documents the tools and the resource send
 * - tools.ts           the tools: names, descriptions and input schemas for a model, handlers
 * - tool-results.ts    a result or an API error as an MCP tool result (`isError` with the code)
 * - state-resource.ts  `mnemo://agents/{id}/state`: list, read, subscribe, unsubscribe
 * - state-watch.ts     graphql-ws to the gateway: state changes → `notifications/resources/updated`
 * - session.ts         one MCP session: the McpServer with tools and resource, and its watch
 * - stdio.ts           the stdio server, configured by MNEMO_URL and MNEMO_TOKEN
 * - http-endpoint.ts   `/mcp` on the gateway: sessions, bearer auth, body limits, rate limit
 */
export { type GraphQLCall, GraphQLCallError } from "./graphql-client.js";
export { createMcpEndpoint, MCP_PATH, type McpEndpointOptions } from "./http-endpoint.js";
export { createMcpSession, type McpSession } from "./session.js";
export { STATE_URI_TEMPLATE, stateUri } from "./state-resource.js";
export { readStdioSettings, runStdioServer } from "./stdio.js";
