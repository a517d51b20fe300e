import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { Agent, request, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";
import { waitUntil } from "../support/subscriptions.js";
import { createTestCertificate, type TestCertificate } from "../support/tls-certificate.js";

describe("gateway over TLS", () => {
  let certificate: TestCertificate;
  let mnemo: TestStack;

  beforeAll(async () => {
    certificate = createTestCertificate();
    mnemo = await startTestStack({
      env: { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile },
    });
  });
  afterAll(async () => {
    await mnemo?.close();
    certificate?.remove();
  });

  it("serves https with the configured certificate and refuses plain http", async () => {
    const url = mnemo.url("gateway");
    expect(url.startsWith("https://")).toBe(true);
    const dispatcher = new Agent({ connect: { ca: certificate.pem() } });
    const response = await request(url, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", authorization: `Bearer ${await mnemo.token(ADMIN)}` },
      body: JSON.stringify({ query: "{ agents { totalCount } }" }),
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ data: { agents: { totalCount: 0 } } });
    await dispatcher.close();
    await expect(fetch(url.replace("https:", "http:"), { method: "POST" })).rejects.toThrow();
  });

  it("serves MCP at /mcp over https, its tools and resource updates calling the gateway over TLS", async () => {
    const dispatcher = new Agent({ connect: { ca: certificate.pem() } });
    const trustingFetch = ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher })) as unknown as FetchLike;
    const client = new Client({ name: "tls-test", version: "1.0.0" });
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      updates.push(notification.params.uri);
    });
    const transport = new StreamableHTTPClientTransport(new URL("/mcp", mnemo.url("gateway")), {
      requestInit: { headers: { authorization: `Bearer ${await mnemo.token(agentPrincipal("tls-agent"))}` } },
      fetch: trustingFetch,
    });
    await client.connect(transport);

    const written = await client.callTool({
      name: "put_state",
      arguments: { agentId: "tls-agent", data: { n: 1 } },
    });
    expect(written.isError).toBeFalsy();
    expect(written.structuredContent).toMatchObject({ agentId: "tls-agent", version: 1 });

    const uri = "mnemo://agents/tls-agent/state";
    await client.subscribeResource({ uri });
    // Writes until one is reported: the subscription over wss is live shortly after subscribe.
    const adminToken = await mnemo.token(ADMIN);
    await waitUntil(async () => {
      const written = await request(mnemo.url("gateway"), {
        method: "POST",
        dispatcher,
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({
          query: 'mutation { patchState(agentId: "tls-agent", patch: { n: 2 }) { version } }',
        }),
      });
      expect(written.statusCode).toBe(200);
      await written.body.dump();
      return updates.includes(uri);
    }, "a resource update over wss");

    await transport.terminateSession();
    await client.close();
    await dispatcher.close();
  });
});
