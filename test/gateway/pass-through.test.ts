/**
 * Operations one subgraph answers as asked go straight to it (gateway/pass-through.ts). Each
 * case compares the answer sent straight through with Apollo Gateway's own answer to the same
 * operation (the same text plus a comment no one has sent before, so it is planned and walked
 * afresh), in the default one-process start and with the subgraphs over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../core/auth/principal.js";
import type { GraphQLResponse } from "../support/graphql-client.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

async function passedThrough(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", gatewayUrl))).text();
  const line = text.split("\n").find((l) => l.startsWith("mnemo_gateway_pass_through_total"));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe.each([
  { mode: "subgraphs in process", gatewayOverHttp: false },
  { mode: "subgraphs over HTTP", gatewayOverHttp: true },
])("the gateway, $mode, sends single-subgraph operations straight through", ({ gatewayOverHttp }) => {
  let redis: RedisServer;
  let mnemo: TestStack;
  let fresh = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({ redisUrl: redis.url, gatewayOverHttp });
    await mnemo.query(
      `mutation { putState(agentId: "pt-1", data: { goal: "ship", steps: [1, 2] }) { version } }`,
    );
    await mnemo.query(`mutation { putState(agentId: "pt-2", data: { goal: "other" }) { version } }`);
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  /** Apollo Gateway's answer: a document it has never seen, so it plans and walks it. */
  const planned = (query: string, variables?: Record<string, unknown>, as: Principal = ADMIN) =>
    mnemo.query(`${query}\n# planned ${++fresh}`, variables, as);

  /**
   * The answer to `query` once it is known (the first request plans it), the answer Apollo
   * Gateway gives, and how many of the later requests went straight through.
   */
  async function compare(query: string, variables?: Record<string, unknown>, as: Principal = ADMIN) {
    await mnemo.query(query, variables, as);
    const before = await passedThrough(mnemo.url("gateway"));
    const sent: GraphQLResponse = await mnemo.query(query, variables, as);
    const straight = (await passedThrough(mnemo.url("gateway"))) - before;
    return { sent, reference: await planned(query, variables, as), straight };
  }

  it("answers a read with variables, aliases and directives exactly as the query plan does", async () => {
    const query = `query Read($id: ID!, $withData: Boolean!) {
      agent(id: $id) { id now: state { v: version data @include(if: $withData) } }
    }`;
    for (const withData of [true, false]) {
      const { sent, reference, straight } = await compare(query, { id: "pt-1", withData });
      expect(straight).toBe(1);
      expect(sent).toEqual(reference);
      expect(sent.errors).toBeUndefined();
    }
    const { sent } = await compare(query, { id: "pt-1", withData: true });
    expect(sent.data).toEqual({
      agent: { id: "pt-1", now: { v: 1, data: { goal: "ship", steps: [1, 2] } } },
    });
  });

  it("returns a subgraph's error as the query plan does: same code, message, path and service", async () => {
    const query = `query Other($id: ID!) { agent(id: $id) { state { version } } }`;
    const { sent, reference, straight } = await compare(query, { id: "pt-2" }, agentPrincipal("pt-1"));
    expect(straight).toBe(1);
    expect(sent.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", serviceName: "state" });
    expect(sent).toEqual(reference);
  });

  it("refuses variables that do not fit the supergraph before any subgraph sees them", async () => {
    const query = `query Typed($id: ID!) { agent(id: $id) { state { version } } }`;
    await mnemo.query(query, { id: "pt-1" });
    const before = await passedThrough(mnemo.url("gateway"));
    const sent = await mnemo.query(query, { id: { not: "an id" } });
    expect((await passedThrough(mnemo.url("gateway"))) - before).toBe(1);
    const reference = await planned(query, { id: { not: "an id" } });
    expect(sent.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(sent).toEqual(reference);
  });

  it("sends mutations straight through, and they take effect once", async () => {
    const query = `mutation Write($id: ID!, $n: Int!) { putState(agentId: $id, data: { n: $n }) { version data } }`;
    await mnemo.query(query, { id: "pt-3", n: 1 });
    const before = await passedThrough(mnemo.url("gateway"));
    const second = await mnemo.query<{ putState: { version: number } }>(query, { id: "pt-3", n: 2 });
    expect((await passedThrough(mnemo.url("gateway"))) - before).toBe(1);
    expect(second.errors).toBeUndefined();
    expect(second.data).toEqual({ putState: { version: 2, data: { n: 2 } } });
    const read = await mnemo.query<{ agent: { state: { version: number } } }>(
      `{ agent(id: "pt-3") { state { version } } }`,
    );
    expect(read.data?.agent.state.version).toBe(2);
  });

  it("leaves to the query plan what one fetch cannot answer as asked", async () => {
    const cases = [
      // Two subgraphs.
      `query Both { agent(id: "pt-1") { state { version } memoryConfig { weights { lexical } } } }`,
      // Fragments, which the planner rewrites.
      `query WithFragment { agent(id: "pt-1") { ...Parts } } fragment Parts on Agent { state { version } }`,
      // __typename at the root is answered by the gateway itself.
      `query Root { __typename agent(id: "pt-1") { state { version } } }`,
    ];
    for (const query of cases) {
      const { sent, reference, straight } = await compare(query);
      expect(straight, query).toBe(0);
      expect(sent.errors, query).toBeUndefined();
      expect(sent, query).toEqual(reference);
    }
  });
});
