/**
 * Gateway protections: rate limits shared through Redis, query depth/alias/cost limits, batch
 * refusal. Abusive requests are refused quickly and the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../support/graphql-client.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

describe("rate limits across two gateways sharing Redis", () => {
  let redis: RedisServer;
  let first: TestStack;
  let second: TestStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    first = await startTestStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MINUTE: "10" } });
    second = await startTestStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MINUTE: "10" } });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await redis?.close();
  });

  it("counts one principal's requests on every replica and answers 429 with Retry-After", async () => {
    const principal = agentPrincipal("limited");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await first.query(`{ agent(id: "limited") { id } }`, {}, principal)).status);
    for (let i = 0; i < 4; i++)
      statuses.push((await second.query(`{ agent(id: "limited") { id } }`, {}, principal)).status);
    expect(statuses).toEqual(Array(10).fill(200));

    const token = await first.token(principal);
    const refused = await fetch(second.url("gateway"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ agent(id: "limited") { id } }` }),
    });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await refused.json()) as {
      errors: { message: string; extensions: Record<string, unknown> }[];
    };
    expect(body.errors[0]?.extensions.code).toBe("RATE_LIMITED");
    expect(body.errors[0]?.extensions.retryAfterSeconds).toBe(retryAfter);
    expect(body.errors[0]?.message).toMatch(/retry in \d+ s/);

    // Another principal has its own budget.
    expect((await first.query(`{ agent(id: "other") { id } }`, {}, agentPrincipal("other"))).status).toBe(
      200,
    );
  });
});

describe("query limits", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack();
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("refuses deep nesting quickly", async () => {
    let selection = "id";
    for (let i = 0; i < 20; i++) selection = `state { agent { ${selection} } }`;
    const started = performance.now();
    const response = await mnemo.query(`{ agent(id: "deep") { ${selection} } }`);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.message).toMatch(/depth|cost/i);
  });

  it("refuses alias amplification, and oversized documents while parsing", async () => {
    const aliases = (n: number) =>
      Array.from({ length: n }, (_, i) => `a${i}: agent(id: "x") { id }`).join(" ");
    const many = await mnemo.query(`{ ${aliases(200)} }`);
    expect(many.status).toBe(400);
    expect(many.errors?.[0]?.message).toMatch(/aliases/i);
    const huge = await mnemo.query(`{ ${aliases(5000)} }`);
    expect(huge.status).toBe(400);
    expect(huge.errors?.[0]?.message).toMatch(/more that 5000 tokens|more than 5000 tokens/);
  });

  it("refuses batched requests", async () => {
    const token = await mnemo.token(ADMIN);
    const response = await fetch(mnemo.url("gateway"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: "{ agents { totalCount } }" }, { query: "{ agents { totalCount } }" }]),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/batch/i);
  });

  it("keeps serving normal queries after refusing abusive ones", async () => {
    const response = await mnemo.query(`{ agents { totalCount } }`);
    expect(response.errors).toBeUndefined();
    expect(errorCodes(response)).toEqual([]);
  });
});
