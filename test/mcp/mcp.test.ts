/**
 * The MCP server over both transports, driven by the MCP SDK's own client against the real
 * stack (real Redis for pub/sub, real HTTP and WebSocket servers, the real stdio process),
 * configured as the README says.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../core/auth/principal.js";
import {
  connectMcp,
  type McpTestClient,
  type McpTransportName,
  toolFailure,
  toolResult,
} from "../support/mcp.js";
import { ADMIN, agentPrincipal, useRedisStack } from "../support/stack.js";
import { PubSubProbe, stateChannel, waitUntil } from "../support/subscriptions.js";

const TRANSPORTS: McpTransportName[] = ["streamable HTTP", "stdio"];

const TOOL_NAMES = [
  "forget",
  "get_state",
  "patch_state",
  "put_state",
  "recall",
  "remember",
  "rollback_state",
  "state_history",
];

describe.each(TRANSPORTS)("MCP over %s, against the real stack", (transport) => {
  // Many operations by one principal in a few seconds: the rate limit has its own tests.
  const env = useRedisStack({ env: { RATE_LIMIT_PER_MINUTE: "0" } });
  const tag = transport === "stdio" ? "stdio" : "http";
  const A = `mcp-${tag}-a`;
  const B = `mcp-${tag}-b`;
  const clients: McpTestClient[] = [];
  let probe: PubSubProbe;

  const connect = async (principal: Principal = agentPrincipal(A)) => {
    const client = await connectMcp({
      transport,
      gatewayUrl: env.mnemo.url("gateway"),
      token: await env.mnemo.token(principal),
    });
    clients.push(client);
    return client;
  };
  /** Writes as an admin straight through GraphQL, as another client of the API would. */
  const adminPut = async (agentId: string, data: unknown) => {
    const response = await env.mnemo.query<{ putState: { version: number } }>(
      "mutation Put($agentId: ID!, $data: JSON!) { putState(agentId: $agentId, data: $data) { version } }",
      { agentId, data },
      ADMIN,
    );
    expect(response.errors).toBeUndefined();
    return response.data!.putState.version;
  };
  const currentVersion = async (agentId: string) => {
    const response = await env.mnemo.query<{ agent: { state: { version: number } | null } }>(
      "query V($id: ID!) { agent(id: $id) { state { version } } }",
      { id: agentId },
    );
    return response.data?.agent.state?.version ?? 0;
  };

  beforeAll(() => {
    probe = new PubSubProbe(env.redis.url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await probe?.close();
  });

  it("lists the eight tools, each described for a model with an input JSON Schema", async () => {
    const mcp = await connect();
    const { tools } = await mcp.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOL_NAMES);
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    const required: Record<string, string[]> = {
      get_state: ["agentId"],
      put_state: ["agentId", "data"],
      patch_state: ["agentId", "patch"],
      state_history: ["agentId"],
      rollback_state: ["agentId", "toVersion"],
      remember: ["agentId", "content"],
      recall: ["agentId", "query"],
      forget: ["id"],
    };
    for (const [name, fields] of Object.entries(required)) {
      const tool = byName[name]!;
      expect(tool.description!.length, name).toBeGreaterThan(150);
      expect(tool.inputSchema.type, name).toBe("object");
      expect((tool.inputSchema.required ?? []).sort(), name).toEqual([...fields].sort());
      for (const [property, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${name}.${property}`).toBeTruthy();
      }
    }
    for (const name of ["put_state", "patch_state"]) {
      expect(byName[name]!.inputSchema.properties?.expectedVersion).toMatchObject({ type: "integer" });
    }
    expect(byName.patch_state!.inputSchema.properties?.format).toMatchObject({
      enum: ["MERGE_PATCH", "JSON_PATCH"],
    });
    for (const name of ["get_state", "state_history", "recall"]) {
      expect(byName[name]!.annotations?.readOnlyHint, name).toBe(true);
    }
    expect(byName.forget!.annotations?.destructiveHint).toBe(true);
    // The server explains itself to the model once, at initialisation.
    expect(mcp.client.getInstructions()).toMatch(/VERSION_CONFLICT/);
  });

  it("reads, writes, patches with expectedVersion, lists history and rolls back state", async () => {
    const agentId = `${A}-state`;
    const own = await connect(agentPrincipal(agentId));

    expect(toolResult(await own.call("get_state", { agentId }))).toEqual({ agentId, state: null });
    const first = toolResult(
      await own.call("put_state", {
        agentId,
        data: { goal: "ship", step: 1 },
        expectedVersion: 0,
        reason: "start",
      }),
    );
    expect(first).toMatchObject({ agentId, version: 1 });
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);

    const patched = toolResult(
      await own.call("patch_state", { agentId, patch: { step: 2, note: "halfway" }, expectedVersion: 1 }),
    );
    expect(patched).toMatchObject({ agentId, version: 2, data: { goal: "ship", step: 2, note: "halfway" } });
    const listPatched = toolResult(
      await own.call("patch_state", {
        agentId,
        format: "JSON_PATCH",
        patch: [{ op: "remove", path: "/note" }],
        expectedVersion: 2,
      }),
    );
    expect(listPatched).toMatchObject({ version: 3, data: { goal: "ship", step: 2 } });

    // A stale expectedVersion: a tool error with the code and the current version, nothing written.
    const conflict = toolFailure(
      await own.call("put_state", { agentId, data: { clobbered: true }, expectedVersion: 1 }),
    );
    expect(conflict.code).toBe("VERSION_CONFLICT");
    expect(conflict.text).toMatch(/^VERSION_CONFLICT: .*\(currentVersion: 3\)$/);
    expect(await currentVersion(agentId)).toBe(3);

    const current = toolResult(await own.call("get_state", { agentId }));
    expect(current).toMatchObject({
      agentId,
      state: { version: 3, data: { goal: "ship", step: 2 }, author: `agent:${agentId}` },
    });
    expect(toolResult(await own.call("get_state", { agentId, version: 1 }))).toMatchObject({
      state: { version: 1, data: { goal: "ship", step: 1 }, reason: "start" },
    });

    const page = toolResult(await own.call("state_history", { agentId, first: 2 }));
    expect(page).toMatchObject({ agentId, totalCount: 3 });
    const versions = page.versions as { version: number; diff: unknown; data?: unknown }[];
    expect(versions.map((v) => v.version)).toEqual([3, 2]);
    expect(versions[0]!.diff).toEqual([{ op: "remove", path: "/note" }]);
    expect(versions[0]!.data).toBeUndefined();
    const rest = toolResult(
      await own.call("state_history", { agentId, after: page.nextCursor, includeData: true }),
    );
    expect(rest.nextCursor).toBeNull();
    expect(rest.versions).toMatchObject([{ version: 1, data: { goal: "ship", step: 1 }, reason: "start" }]);

    const rolledBack = toolResult(
      await own.call("rollback_state", { agentId, toVersion: 1, reason: "undo" }),
    );
    expect(rolledBack).toMatchObject({ agentId, version: 4, data: { goal: "ship", step: 1 } });
    expect(toolFailure(await own.call("rollback_state", { agentId, toVersion: 99 })).code).toBe("NOT_FOUND");
  });

  it("remembers, recalls and forgets memories", async () => {
    const mcp = await connect();
    const remembered = toolResult(
      await mcp.call("remember", {
        agentId: A,
        content: "Ada prefers green tea in the afternoon",
        kind: "SEMANTIC",
        tags: ["preferences"],
        importance: 0.8,
      }),
    );
    expect(remembered.outcome).toBe("CREATED");
    const memory = remembered.memory as { id: string; content: string; kind: string; tags: string[] };
    expect(memory).toMatchObject({ content: "Ada prefers green tea in the afternoon", kind: "SEMANTIC" });
    expect(memory.id.startsWith(`${A}/`)).toBe(true);
    const may = toolResult(await mcp.call("remember", { agentId: A, content: "The release is due in May" }));
    const june = toolResult(
      await mcp.call("remember", {
        agentId: A,
        content: "The release is due in June",
        supersedes: (may.memory as { id: string }).id,
      }),
    );
    expect(june).toMatchObject({
      outcome: "SUPERSEDED",
      superseded: { id: (may.memory as { id: string }).id },
    });
    expect((june.superseded as { validUntil: string | null }).validUntil).not.toBeNull();

    const again = toolResult(
      await mcp.call("remember", {
        agentId: A,
        content: "Ada prefers green tea in the afternoon",
        kind: "SEMANTIC",
        tags: ["preferences"],
      }),
    );
    expect(again.outcome).toBe("MERGED");

    const recalled = toolResult(
      await mcp.call("recall", { agentId: A, query: "What does Ada drink?", k: 1 }),
    );
    const hits = recalled.hits as { score: number; memory: { id: string } }[];
    expect(hits).toHaveLength(1);
    expect(hits[0]!.memory.id).toBe(memory.id);
    expect(hits[0]!.score).toBeGreaterThan(0);
    const filtered = toolResult(
      await mcp.call("recall", { agentId: A, query: "release", filter: { tags: ["preferences"] } }),
    );
    expect((filtered.hits as { memory: { id: string } }[]).map((hit) => hit.memory.id)).toEqual([memory.id]);

    expect(toolResult(await mcp.call("forget", { id: memory.id }))).toEqual({
      id: memory.id,
      forgotten: true,
    });
    const gone = toolFailure(await mcp.call("forget", { id: memory.id }));
    expect(gone.code).toBe("NOT_FOUND");
    expect(gone.text).toMatch(/^NOT_FOUND: /);
  });

  it("refuses a token for agent a everything on agent b with FORBIDDEN, and changes nothing", async () => {
    const version = await adminPut(B, { owner: "b" });
    const theirs = await env.mnemo.query<{ remember: { memory: { id: string } } }>(
      `mutation { remember(agentId: "${B}", input: { content: "b's private note" }) { memory { id } } }`,
    );
    const theirMemory = theirs.data!.remember.memory.id;
    const mcp = await connect(agentPrincipal(A));

    const attempts: [string, Record<string, unknown>][] = [
      ["get_state", { agentId: B }],
      ["put_state", { agentId: B, data: { owner: "a" } }],
      ["patch_state", { agentId: B, patch: { owner: "a" } }],
      ["state_history", { agentId: B }],
      ["rollback_state", { agentId: B, toVersion: 1 }],
      ["remember", { agentId: B, content: "planted by a" }],
      ["recall", { agentId: B, query: "private note" }],
      ["forget", { id: theirMemory }],
    ];
    for (const [tool, args] of attempts) {
      const failure = toolFailure(await mcp.call(tool, args));
      expect(failure.code, tool).toBe("FORBIDDEN");
      expect(failure.text, tool).toMatch(new RegExp(`^FORBIDDEN: .*"${B}"`));
    }

    const uri = `mnemo://agents/${B}/state`;
    await expect(mcp.client.readResource({ uri })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    await expect(mcp.client.subscribeResource({ uri })).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
      message: expect.stringContaining("FORBIDDEN: "),
    });
    expect(await probe.subscribers(stateChannel(B))).toBe(0);

    expect(await currentVersion(B)).toBe(version);
    const still = await env.mnemo.query(`{ memory(id: "${theirMemory}") { content } }`);
    expect(still.data).toEqual({ memory: { content: "b's private note" } });
    const listed = await mcp.client.listResources();
    expect(listed.resources.map((resource) => resource.uri)).not.toContain(uri);
  });

  it("answers bad arguments with BAD_USER_INPUT from the API", async () => {
    const mcp = await connect(ADMIN);
    const badId = toolFailure(await mcp.call("put_state", { agentId: "not an id!", data: {} }));
    expect(badId.code).toBe("BAD_USER_INPUT");
    expect(badId.message).toMatch(/agentId/);
    const badPatch = toolFailure(
      await mcp.call("patch_state", { agentId: A, patch: [1, 2], format: "MERGE_PATCH" }),
    );
    expect(badPatch.code).toBe("BAD_USER_INPUT");
    // A missing required argument is refused by the SDK before any call, as a tool error too.
    const missing = await mcp.call("put_state", { agentId: A });
    expect(missing.isError).toBe(true);
  });

  it("serves each agent's state as a resource: template, list and read", async () => {
    await adminPut(A, { listed: true });
    const mcp = await connect(agentPrincipal(A));
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      expect.objectContaining({ uriTemplate: "mnemo://agents/{id}/state", mimeType: "application/json" }),
    ]);
    const { resources } = await mcp.client.listResources();
    expect(resources.map((resource) => resource.uri)).toEqual([`mnemo://agents/${A}/state`]);
    const read = await mcp.client.readResource({ uri: `mnemo://agents/${A}/state` });
    const content = read.contents[0] as { mimeType: string; text: string };
    expect(content.mimeType).toBe("application/json");
    expect(JSON.parse(content.text)).toMatchObject({
      agentId: A,
      state: { version: await currentVersion(A), data: { listed: true } },
    });
    await expect(mcp.client.readResource({ uri: "mnemo://elsewhere/x" })).rejects.toThrow();
  });

  it("notifies a subscribed client of every new version, from any writer, until it unsubscribes", async () => {
    const agentId = `${A}-live`;
    const mcp = await connect(agentPrincipal(agentId, `${agentId}-other`));
    const uri = `mnemo://agents/${agentId}/state`;
    await mcp.client.subscribeResource({ uri });
    // The gateway's WebSocket subscription reached the state subgraph, which now listens on Redis.
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 1, "subscribed");

    await adminPut(agentId, { by: "someone else" });
    await mcp.waitForUpdate(uri);
    const seen = mcp.updates.length;
    toolResult(await mcp.call("patch_state", { agentId, patch: { by: "itself" } }));
    await mcp.waitForUpdate(uri, seen);
    const read = await mcp.client.readResource({ uri });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({
      state: { version: 2, data: { by: "itself" } },
    });

    // Only the subscribed resource is reported.
    await adminPut(`${agentId}-other`, { unrelated: true });
    expect(mcp.updates.every((update) => update.uri === uri)).toBe(true);

    await mcp.client.unsubscribeResource({ uri });
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 0, "unsubscribed");
    const before = mcp.updates.length;
    await adminPut(agentId, { after: "unsubscribe" });
    // Proof that events still flow to this client: a new subscription's update arrives, and the
    // unsubscribed resource got none in the meantime.
    const other = `mnemo://agents/${agentId}-other/state`;
    await mcp.client.subscribeResource({ uri: other });
    await waitUntil(
      async () => (await probe.subscribers(stateChannel(`${agentId}-other`))) === 1,
      "other subscribed",
    );
    await adminPut(`${agentId}-other`, { n: 2 });
    await mcp.waitForUpdate(other, before);
    expect(mcp.updates.slice(before).map((update) => update.uri)).toEqual([other]);
  });

  it("ends its resource subscriptions when the client goes away", async () => {
    const agentId = `${A}-gone`;
    const mcp = await connect(agentPrincipal(agentId));
    await mcp.client.subscribeResource({ uri: `mnemo://agents/${agentId}/state` });
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 1, "subscribed");
    clients.splice(clients.indexOf(mcp), 1);
    await mcp.close();
    await waitUntil(async () => (await probe.subscribers(stateChannel(agentId))) === 0, "released");
  });
});

describe("the stdio server's configuration", () => {
  it("refuses to start without MNEMO_TOKEN or with a bad MNEMO_URL, saying why", async () => {
    const { spawnSync } = await import("node:child_process");
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ["bin/mnemo-mcp.mjs"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, ...env },
        input: "",
        timeout: 30_000,
      });
    const noToken = run({ MNEMO_URL: "http://127.0.0.1:4000/graphql" });
    expect(noToken.status).toBe(1);
    expect(noToken.stdout).toBe("");
    expect(noToken.stderr).toMatch(/MNEMO_TOKEN is required/);
    const badUrl = run({ MNEMO_URL: "ftp://example", MNEMO_TOKEN: randomUUID() });
    expect(badUrl.status).toBe(1);
    expect(badUrl.stderr).toMatch(/MNEMO_URL must be an http:\/\/ or https:\/\/ URL/);
  });
});
