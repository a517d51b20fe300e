/**
 * `/mcp` on the gateway is guarded as `/graphql` is: bearer tokens, sessions bound to their
 * principal, body limits, the per-principal rate limit, a cap on sessions, idle expiry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../core/auth/principal.js";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { connectMcp, type McpTestClient } from "../support/mcp.js";
import { agentPrincipal, startTestStack, type TestStack, useRedisStack } from "../support/stack.js";
import { PubSubProbe, stateChannel, waitUntil } from "../support/subscriptions.js";

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const TOOLS_LIST = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };

interface RawAnswer {
  status: number;
  headers: Headers;
  body: { error?: { code: number; message: string; data?: { code?: string } } } | null;
}

/** One MCP HTTP request without an SDK, to see exactly what the endpoint answers. */
async function rawMcp(
  gatewayUrl: string,
  options: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
): Promise<RawAnswer> {
  const response = await fetch(new URL("/mcp", gatewayUrl), {
    method: options.method ?? "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...options.headers,
    },
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  let body: RawAnswer["body"] = null;
  try {
    body = JSON.parse(text.startsWith("event:") ? text.split("data: ")[1]! : text);
  } catch {
    body = null;
  }
  return { status: response.status, headers: response.headers, body };
}

describe("MCP over HTTP: auth, sessions and request limits", () => {
  const env = useRedisStack({
    env: {
      RATE_LIMIT_PER_MINUTE: "0",
      MAX_CONNECTIONS_PER_PRINCIPAL: "3",
      REQUEST_MAX_BYTES: "4096",
      MCP_SESSION_IDLE_MS: "1500",
    },
  });
  const clients: McpTestClient[] = [];
  let probe: PubSubProbe;
  const connect = async (principal: Principal) => {
    const client = await connectMcp({
      transport: "streamable HTTP",
      gatewayUrl: env.mnemo.url("gateway"),
      token: await env.mnemo.token(principal),
    });
    clients.push(client);
    return client;
  };
  const bearer = async (principal: Principal) => ({
    authorization: `Bearer ${await env.mnemo.token(principal)}`,
  });

  beforeAll(() => {
    probe = new PubSubProbe(env.redis.url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await probe?.close();
  });

  it("refuses a request without a token, or with an invalid one, with 401 and saying which", async () => {
    const gateway = env.mnemo.url("gateway");
    const forged =
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLXRoYXQtZG9lcy1ub3QtbWF0Y2g";
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /^UNAUTHENTICATED: Authentication required/],
      [
        { authorization: `Bearer ${forged}` },
        /^UNAUTHENTICATED: Invalid token: signature verification failed/,
      ],
      [{ authorization: "Token abc" }, /^UNAUTHENTICATED: Malformed Authorization header/],
    ];
    for (const [headers, message] of cases) {
      const answer = await rawMcp(gateway, { body: INITIALIZE, headers });
      expect(answer.status).toBe(401);
      expect(answer.headers.get("www-authenticate")).toBe("Bearer");
      expect(answer.body?.error?.data?.code).toBe("UNAUTHENTICATED");
      expect(answer.body?.error?.message).toMatch(message);
    }
  });

  it("answers a session only to the principal that opened it, until it is ended with DELETE", async () => {
    const gateway = env.mnemo.url("gateway");
    const mcp = await connect(agentPrincipal("http-owner"));
    const sessionId = mcp.sessionId!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const owner = await bearer(agentPrincipal("http-owner"));
    const mine = await rawMcp(gateway, {
      body: TOOLS_LIST,
      headers: { ...owner, "mcp-session-id": sessionId },
    });
    expect(mine.status).toBe(200);
    const intruder = await rawMcp(gateway, {
      body: TOOLS_LIST,
      headers: { ...(await bearer(agentPrincipal("http-intruder"))), "mcp-session-id": sessionId },
    });
    expect(intruder.status).toBe(404);
    expect(intruder.body?.error?.message).toMatch(/Session not found/);

    const noSession = await rawMcp(gateway, { body: TOOLS_LIST, headers: owner });
    expect(noSession.status).toBe(400);
    expect(noSession.body?.error?.message).toMatch(/no Mcp-Session-Id header/);

    clients.splice(clients.indexOf(mcp), 1);
    await mcp.close(); // DELETE /mcp
    const ended = await rawMcp(gateway, {
      body: TOOLS_LIST,
      headers: { ...owner, "mcp-session-id": sessionId },
    });
    expect(ended.status).toBe(404);
  });

  it("refuses bodies over REQUEST_MAX_BYTES, JSON nested too deep and malformed JSON", async () => {
    const gateway = env.mnemo.url("gateway");
    const headers = await bearer(agentPrincipal("http-limits"));
    const big = { ...INITIALIZE, params: { ...INITIALIZE.params, padding: "x".repeat(5000) } };
    const tooLarge = await rawMcp(gateway, { body: big, headers });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body?.error?.data?.code).toBe("PAYLOAD_TOO_LARGE");
    expect(tooLarge.body?.error?.message).toMatch(/REQUEST_MAX_BYTES/);

    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    const tooDeep = await rawMcp(gateway, { body: { ...INITIALIZE, params: { deep } }, headers });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body?.error?.message).toMatch(/nested deeper than 128/);

    const malformed = await rawMcp(gateway, { rawBody: "{not json", headers });
    expect(malformed.status).toBe(400);
    expect(malformed.body?.error?.code).toBe(-32700);
  });

  it("caps the sessions of one principal at MAX_CONNECTIONS_PER_PRINCIPAL", async () => {
    const principal = agentPrincipal("http-capped");
    const open = [await connect(principal), await connect(principal), await connect(principal)];
    await expect(connect(principal)).rejects.toMatchObject({
      code: 429, // the HTTP status, as the SDK's client reports it
      message: expect.stringMatching(/RATE_LIMITED: This principal already has 3 MCP sessions/),
    });
    // Another principal is not affected, and ending a session frees its slot.
    await connect(agentPrincipal("http-someone-else"));
    const ended = open[0]!;
    clients.splice(clients.indexOf(ended), 1);
    await ended.close();
    const again = await connect(principal);
    expect((await again.client.listTools()).tools).toHaveLength(8);
  });

  it("closes a session whose client went away without ending it, with its subscriptions, once idle", async () => {
    const agentId = "http-abandoned";
    const mcp = await connect(agentPrincipal(agentId));
    const sessionId = mcp.sessionId!;
    await mcp.client.subscribeResource({ uri: `mnemo://agents/${agentId}/state` });
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 1, "subscribed");
    clients.splice(clients.indexOf(mcp), 1);
    await mcp.abandon(); // no DELETE: its event stream closes, nothing else
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 0, "expired", 15_000);
    const gone = await rawMcp(env.mnemo.url("gateway"), {
      body: TOOLS_LIST,
      headers: { ...(await bearer(agentPrincipal(agentId))), "mcp-session-id": sessionId },
    });
    expect(gone.status).toBe(404);
  });
});

describe("MCP over HTTP: the per-principal rate limit of /graphql", () => {
  const LIMIT = 12;
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("spends one operation per MCP request, not one more for the GraphQL call a tool makes", async () => {
    const principal = agentPrincipal("http-rated");
    const token = await mnemo.token(principal);
    const mcp = await connectMcp({ transport: "streamable HTTP", gatewayUrl: mnemo.url("gateway"), token });
    let refusal: unknown = null;
    let successes = 0;
    while (refusal === null && successes < LIMIT * 2) {
      try {
        const result = await mcp.call("get_state", { agentId: "http-rated" });
        expect(result.isError).toBeFalsy();
        successes += 1;
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toMatchObject({
      code: 429,
      message: expect.stringMatching(/RATE_LIMITED: Rate limit of 12 requests per minute exceeded/),
    });
    // Every MCP request the client sent spent one operation, the refused one being the first over.
    expect(mcp.requests).toBe(LIMIT + 1);
    expect(successes).toBeGreaterThan(LIMIT / 2);
    // The same budget as /graphql's: the principal is refused there too now.
    const direct = await postGraphQL(
      mnemo.url("gateway"),
      "{ agents { totalCount } }",
      {},
      {
        authorization: `Bearer ${token}`,
      },
    );
    expect(direct.status).toBe(429);
    expect(errorCodes(direct)).toEqual(["RATE_LIMITED"]);
    const raw = await rawMcp(mnemo.url("gateway"), {
      body: INITIALIZE,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(raw.body?.error?.data?.code).toBe("RATE_LIMITED");
    await mcp.abandon();
  });
});
