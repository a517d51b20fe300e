/**
 * A gateway sharing its process with the subgraphs calls them in process: the subgraph still
 * verifies the signed principal with its own verifier, validates the document against its own
 * schema, formats errors and records the operation in its own metrics
 * (core/service/local-execution.ts). A process running only the gateway builds nothing for
 * stores. (test/security/isolation.test.ts runs every principal check both ways.)
 */
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrincipalSigner } from "../../core/auth/internal.js";
import { MnemoError } from "../../core/errors.js";
import { tempDir } from "../support/cache-fixture.js";
import { RedisServer } from "../support/redis-server.js";
import {
  ADMIN,
  agentPrincipal,
  startTestStack,
  TEST_INTERNAL_SECRET,
  type TestStack,
} from "../support/stack.js";

async function requestCount(url: string, operation: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  const line = text
    .split("\n")
    // The gateway names a subgraph's operation after the client's: InProcessProbe__state__0.
    .find((l) => l.startsWith("mnemo_graphql_requests_total{") && l.includes(`operation="${operation}__`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("the gateway and the subgraphs in one process", () => {
  let redis: RedisServer;
  let mnemo: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  it("calls each subgraph in process", () => {
    for (const name of ["state", "memory", "cache-admin"] as const) {
      expect(mnemo.stack.services[name]?.local, name).toBeDefined();
    }
  });

  it("verifies the forwarded principal with the subgraph's own check", async () => {
    const local = mnemo.stack.services.state!.local!;
    const query = { query: `{ agent(id: "ip-1") { id } }` };
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => null,
        (error: unknown) => (error instanceof MnemoError ? error.code : String(error)),
      );
    expect(await refusal(local.execute(query, undefined))).toBe("UNAUTHENTICATED");
    const forged = await createPrincipalSigner("not-the-internal-secret-but-32-bytes-long")(ADMIN);
    expect(await refusal(local.execute(query, forged))).toBe("UNAUTHENTICATED");
    const signed = await createPrincipalSigner(TEST_INTERNAL_SECRET)(agentPrincipal("ip-1"));
    expect(await local.execute(query, signed)).toEqual({ data: { agent: { id: "ip-1" } } });
    // The principal is applied, not just checked: another agent is refused by the resolver.
    const other = await local.execute({ query: `{ agent(id: "ip-2") { id } }` }, signed);
    expect(other.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("refuses a document or variables the subgraph's schema does not accept, with the usual codes", async () => {
    const local = mnemo.stack.services.state!.local!;
    const signed = await createPrincipalSigner(TEST_INTERNAL_SECRET)(ADMIN);
    const codes = async (query: string, variables?: Record<string, unknown>) =>
      (await local.execute({ query, variables }, signed)).errors?.map((e) => e.extensions?.code);
    expect(await codes(`{ agent(id: "ip-4") { state { version `)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(await codes(`{ agent(id: "ip-4") { noSuchField } }`)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(await codes(`query Q($id: ID!) { agent(id: $id) { id } }`, { id: { no: 1 } })).toEqual([
      "BAD_USER_INPUT",
    ]);
    // The same operation with fitting variables answers without errors.
    expect(await codes(`query Q($id: ID!) { agent(id: $id) { id } }`, { id: "ip-4" })).toBeUndefined();
  });

  it("records the call in the subgraph's own metrics", async () => {
    const before = await requestCount(mnemo.url("state"), "InProcessProbe");
    const response = await mnemo.query(`query InProcessProbe { agent(id: "ip-3") { state { version } } }`);
    expect(response.errors).toBeUndefined();
    expect(await requestCount(mnemo.url("state"), "InProcessProbe")).toBe(before + 1);
  });
});

describe("a process running only the gateway", () => {
  let redis: RedisServer;
  let subgraphs: TestStack;
  let gateway: TestStack;
  let gatewayData: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    subgraphs = await startTestStack({ redisUrl: redis.url, services: ["state", "memory", "cache-admin"] });
    gatewayData = tempDir();
    gateway = await startTestStack({
      redisUrl: redis.url,
      services: ["gateway"],
      dataDir: gatewayData.dir,
      subgraphUrls: {
        state: subgraphs.url("state"),
        memory: subgraphs.url("memory"),
        "cache-admin": subgraphs.url("cache-admin"),
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await subgraphs?.close();
    await redis?.close();
    gatewayData?.remove();
  });

  it("builds no cache, store, agent directory or audit log, and serves through the subgraphs over HTTP", async () => {
    const written = await gateway.query<{ putState: { version: number } }>(
      `mutation { putState(agentId: "gw-1", data: { ok: true }) { version } }`,
    );
    expect(written.errors).toBeUndefined();
    expect(written.data?.putState.version).toBe(1);
    expect(readdirSync(gatewayData.dir)).toEqual([]);
    expect(() => gateway.runtime).toThrow(/only the gateway/);

    const ready = (await (await fetch(new URL("/ready", gateway.url("gateway")))).json()) as {
      ready: boolean;
      checks: Record<string, unknown>;
    };
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.checks).sort()).toEqual([
      "redis",
      "subgraph:cache-admin",
      "subgraph:memory",
      "subgraph:state",
    ]);
  });
});
