import { describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import { ADMIN, TEST_INTERNAL_SECRET, useRedisStack } from "../support/stack.js";

describe.each(STORES)("the federated stack through the gateway (real Redis, %s)", (store) => {
  const env = useRedisStack({ store });

  it("runs a mutation and a query that spans two subgraphs", async () => {
    const put = await env.mnemo.query<{ putState: { version: number; data: unknown } }>(
      `mutation Put($data: JSON!) { putState(agentId: "e2e-1", data: $data, reason: "first") { version data } }`,
      { data: { goal: "write tests", steps: [1, 2] } },
    );
    expect(put.errors).toBeUndefined();
    expect(put.data?.putState).toEqual({ version: 1, data: { goal: "write tests", steps: [1, 2] } });

    const remembered = await env.mnemo.query(
      `mutation { remember(agentId: "e2e-1", input: { content: "tests talk to real servers" }) { outcome } }`,
    );
    expect(remembered.errors).toBeUndefined();

    const read = await env.mnemo.query<{
      agent: { state: { version: number; reason: string | null }; memories: { totalCount: number } };
    }>(`{ agent(id: "e2e-1") { state { version reason } memories { totalCount } } }`);
    expect(read.errors).toBeUndefined();
    expect(read.data?.agent).toEqual({ state: { version: 1, reason: "first" }, memories: { totalCount: 1 } });
  });

  it("refuses a request without a token with 401 UNAUTHENTICATED", async () => {
    const response = await env.mnemo.query(`{ agent(id: "e2e-1") { id } }`, {}, null);
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
    expect(response.data ?? null).toBeNull();
  });

  it("refuses a token signed with another secret, and a malformed header", async () => {
    const forged = await postGraphQL(
      env.mnemo.url("gateway"),
      `{ agents { totalCount } }`,
      {},
      {
        authorization:
          "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLXRoYXQtZG9lcy1ub3QtbWF0Y2g",
      },
    );
    expect(forged.status).toBe(401);
    expect(errorCodes(forged)).toEqual(["UNAUTHENTICATED"]);
    const malformed = await postGraphQL(
      env.mnemo.url("gateway"),
      `{ agents { totalCount } }`,
      {},
      {
        authorization: "Token abc",
      },
    );
    expect(errorCodes(malformed)).toEqual(["UNAUTHENTICATED"]);
  });

  it("lets anonymous introspection through (Sandbox loads the schema before a token is set)", async () => {
    const response = await env.mnemo.query<{ __schema: { queryType: { name: string } } }>(
      `{ __schema { queryType { name } } }`,
      {},
      null,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.__schema.queryType.name).toBe("Query");
  });

  it("has each subgraph refuse requests that do not come from the gateway", async () => {
    const direct = await postGraphQL(env.mnemo.url("state"), `{ agent(id: "e2e-1") { id } }`);
    expect(direct.status).toBe(401);
    expect(errorCodes(direct)).toEqual(["UNAUTHENTICATED"]);

    const wronglySigned = await createPrincipalSigner("another-secret-that-is-also-32-bytes-long!!")(ADMIN);
    const forged = await postGraphQL(
      env.mnemo.url("memory"),
      `{ memory(id: "x") { id } }`,
      {},
      {
        [PRINCIPAL_HEADER]: wronglySigned,
      },
    );
    expect(errorCodes(forged)).toEqual(["UNAUTHENTICATED"]);

    const rightlySigned = await createPrincipalSigner(TEST_INTERNAL_SECRET)(ADMIN);
    const genuine = await postGraphQL(
      env.mnemo.url("memory"),
      `{ memory(id: "x") { id } }`,
      {},
      {
        [PRINCIPAL_HEADER]: rightlySigned,
      },
    );
    expect(genuine.errors).toBeUndefined();
    expect(genuine.data).toEqual({ memory: null });
  });

  it("serves GET queries with a preflight header and blocks them without (CSRF prevention)", async () => {
    const token = await env.mnemo.token(ADMIN);
    const url = `${env.mnemo.url("gateway")}?query=${encodeURIComponent("{ agents { totalCount } }")}`;
    const allowed = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, "apollo-require-preflight": "1" },
    });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { data: unknown }).data).toEqual({ agents: { totalCount: 1 } });

    const blocked = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(blocked.status).toBe(400);
    expect(await blocked.text()).toContain("Cross-Site Request Forgery");

    const mutation = `${env.mnemo.url("gateway")}?query=${encodeURIComponent('mutation { deleteAgent(id: "e2e-1") }')}`;
    const getMutation = await fetch(mutation, {
      headers: { authorization: `Bearer ${token}`, "apollo-require-preflight": "1" },
    });
    expect(getMutation.status).toBe(405);
  });

  it("serves Apollo Sandbox to a browser on GET /graphql", async () => {
    const response = await fetch(env.mnemo.url("gateway"), { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("embeddable-sandbox");
  });

  it("answers /health and /metrics on every service, with request counts per operation", async () => {
    await env.mnemo.query(`query CountAgents { agents { totalCount } }`);
    for (const service of ["gateway", "state", "memory", "cache-admin"] as const) {
      const base = new URL("/", env.mnemo.url(service));
      const health = await fetch(new URL("/health", base));
      expect(health.status).toBe(200);
      const metrics = await (await fetch(new URL("/metrics", base))).text();
      expect(metrics).toContain("mnemo_graphql_requests_total");
    }
    const gatewayMetrics = await (await fetch(new URL("/metrics", env.mnemo.url("gateway")))).text();
    expect(gatewayMetrics).toMatch(
      /mnemo_graphql_requests_total\{operation="CountAgents",outcome="ok",transport="http",service="gateway"\} [1-9]/,
    );
    expect(gatewayMetrics).toMatch(
      /mnemo_graphql_errors_total\{code="UNAUTHENTICATED",service="gateway"\} [1-9]/,
    );
  });

  it("rejects a body over the size limit with PAYLOAD_TOO_LARGE and keeps serving", async () => {
    const token = await env.mnemo.token(ADMIN);
    const big = "x".repeat(env.mnemo.config.limits.requestBodyBytes + 10);
    const response = await fetch(env.mnemo.url("gateway"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ agents { totalCount } }", variables: { big } }),
    });
    expect(response.status).toBe(413);
    expect(
      ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe("PAYLOAD_TOO_LARGE");
    const after = await env.mnemo.query(`{ agents { totalCount } }`);
    expect(after.errors).toBeUndefined();
  });
});
