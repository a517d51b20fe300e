/**
 * MCP clients for tests: the SDK's own `Client` over its own transports, configured from the
 * README's "Use it from your agent" snippets, so the documented configurations are the tested
 * ones. stdio spawns the real `bin/mnemo-mcp.mjs` process.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  type ResourceUpdatedNotification,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type McpTransportName = "streamable HTTP" | "stdio";

interface StdioConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
}
interface HttpConfig {
  type: "http";
  url: string;
  headers: Record<string, string>;
}

/** The `mcpServers.mnemo` entries of the README's section "Use it from your agent". */
export function readmeMcpConfigs(): { stdio: StdioConfig; http: HttpConfig } {
  const readme = readFileSync(new URL("README.md", `file://${REPO_ROOT}`), "utf8");
  const start = readme.indexOf("## Use it from your agent");
  if (start < 0) throw new Error('README.md has no "## Use it from your agent" section');
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const entries = [...section.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((match) => JSON.parse(match[1]!) as { mcpServers?: { mnemo?: unknown } })
    .map((config) => config.mcpServers?.mnemo)
    .filter((entry) => entry !== undefined) as (StdioConfig | HttpConfig)[];
  const stdio = entries.find((entry): entry is StdioConfig => "command" in entry);
  const http = entries.find((entry): entry is HttpConfig => "url" in entry);
  if (!stdio || !http) throw new Error("README.md lacks the stdio or the HTTP MCP configuration");
  return { stdio, http };
}

export interface McpTestClient {
  client: Client;
  /** Every notifications/resources/updated received, in order. */
  updates: ResourceUpdatedNotification["params"][];
  /** Resolves when an update for `uri` has arrived (beyond the first `after` ones). */
  waitForUpdate(uri: string, after?: number, timeoutMs?: number): Promise<void>;
  /** Tool call; the result as the SDK parsed it. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** The MCP HTTP requests this client has sent (HTTP transport only). */
  requests: number;
  /** The session id the server assigned (HTTP transport only). */
  sessionId?: string;
  /** The stdio server's stderr so far. */
  stderr(): string;
  /** Ends the session (HTTP: DELETE) and closes the client. */
  close(): Promise<void>;
  /** Closes the client without ending the session, as a client that crashed would. */
  abandon(): Promise<void>;
}

export interface ConnectOptions {
  transport: McpTransportName;
  /** The gateway's GraphQL URL of the stack under test. */
  gatewayUrl: string;
  token: string;
}

/**
 * Connects the SDK's client the way the README tells a user to: the stdio entry's command, args
 * and env (path, URL and token replaced by this checkout's, the test gateway's and the given
 * token), or the HTTP entry's URL (on the test gateway's port) and headers.
 */
export async function connectMcp(options: ConnectOptions): Promise<McpTestClient> {
  const configs = readmeMcpConfigs();
  const client = new Client({ name: "mnemo-tests", version: "1.0.0" });
  const updates: ResourceUpdatedNotification["params"][] = [];
  const waiters = new Set<() => void>();
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    updates.push(notification.params);
    for (const wake of waiters) wake();
  });
  let stderr = "";
  const counted = { requests: 0 };
  let httpTransport: StreamableHTTPClientTransport | undefined;

  if (options.transport === "stdio") {
    const { command, args, env } = configs.stdio;
    const transport = new StdioClientTransport({
      command: command === "node" ? process.execPath : command,
      args: args.map((arg) => arg.replace("/path/to/mnemo/", REPO_ROOT)),
      env: {
        ...env,
        MNEMO_URL: options.gatewayUrl,
        MNEMO_TOKEN: options.token,
        // Inside the test run's temporary directory (see temp-dir-check.ts), like everything else.
        TMPDIR: os.tmpdir(),
      },
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await client.connect(transport);
  } else {
    const { url, headers } = configs.http;
    const endpoint = new URL(new URL(url).pathname, options.gatewayUrl);
    const countingFetch: FetchLike = (input, init) => {
      counted.requests += 1;
      return fetch(input, init);
    };
    httpTransport = new StreamableHTTPClientTransport(endpoint, {
      requestInit: {
        headers: Object.fromEntries(
          Object.entries(headers).map(([name, value]) => [
            name,
            value.replace(/<the token from npm run token>/, options.token),
          ]),
        ),
      },
      fetch: countingFetch,
    });
    await client.connect(httpTransport);
  }

  return {
    client,
    updates,
    get requests() {
      return counted.requests;
    },
    get sessionId() {
      return httpTransport?.sessionId;
    },
    stderr: () => stderr,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    async waitForUpdate(uri, after = 0, timeoutMs = 10_000) {
      const arrived = () => updates.slice(after).some((update) => update.uri === uri);
      const deadline = Date.now() + timeoutMs;
      while (!arrived()) {
        const remaining = deadline - Date.now();
        if (remaining <= 0)
          throw new Error(`no notifications/resources/updated for ${uri} (got ${JSON.stringify(updates)})`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, remaining);
          waiters.add(wake);
        });
      }
    },
    async close() {
      // A well-behaved HTTP client ends its session (DELETE) instead of leaving it to expire.
      await httpTransport?.terminateSession().catch(() => {});
      await client.close();
    },
    abandon: () => client.close(),
  };
}

/** A successful tool result's structured content (and its text is the same JSON). */
export function toolResult(result: CallToolResult): Record<string, unknown> {
  if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content)}`);
  const text = result.content[0]?.type === "text" ? result.content[0].text : "";
  const structured = result.structuredContent as Record<string, unknown>;
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(structured)) {
    throw new Error("the tool's text and structured content differ");
  }
  return structured;
}

/** A tool error: its code, message and text. */
export function toolFailure(result: CallToolResult): { code: string; message: string; text: string } {
  if (!result.isError)
    throw new Error(`expected a tool error, got ${JSON.stringify(result.structuredContent)}`);
  const text = result.content[0]?.type === "text" ? result.content[0].text : "";
  const error = (result.structuredContent as { error?: { code: string; message: string } } | undefined)
    ?.error;
  return { code: error?.code ?? "", message: error?.message ?? "", text };
}
