/**
 * In production, responses carry no stack traces, no SQL/Cypher or driver messages and no
 * internal addresses: anything that is not a client error becomes a generic message.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.js";

const PRODUCTION = { NODE_ENV: "production" };

describe("errors in production", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    // Data written with an encryption key, then read without it: a genuine internal failure.
    const seeded = await startTestStack({
      env: { ...PRODUCTION, ENCRYPTION_KEY: randomBytes(32).toString("base64") },
    });
    await seeded.query(`mutation { putState(agentId: "prod-1", data: {a: 1}) { version } }`);
    await seeded.close({ keepData: true });
    mnemo = await startTestStack({ dataDir: seeded.dataDir, env: PRODUCTION });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("keeps client errors as they are, without stack traces", async () => {
    const response = await mnemo.query(`mutation { putState(agentId: "bad id", data: {}) { version } }`);
    expect(response.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0]?.message).toContain("Invalid agentId");
    expect(JSON.stringify(response)).not.toContain("stacktrace");
  });

  it("masks internal failures", async () => {
    const response = await mnemo.query(`{ agent(id: "prod-1") { state { data } } }`);
    expect(response.errors?.[0]).toMatchObject({
      message: "Internal server error",
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    });
    const text = JSON.stringify(response);
    expect(text).not.toMatch(/stacktrace|ENCRYPTION|at .*\.ts:|node_modules/);
  });

  it("does not reveal subgraph addresses when a subgraph is down", async () => {
    const stateUrl = mnemo.url("state");
    await mnemo.stack.services.state!.close();
    const response = await mnemo.query(`{ agent(id: "prod-1") { state { version } } }`);
    expect(response.errors?.length).toBeGreaterThan(0);
    const text = JSON.stringify(response);
    expect(text).not.toContain(new URL(stateUrl).host);
    expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stacktrace/);
    expect(response.errors?.[0]?.extensions?.code).toBe("UNAVAILABLE");
  });
});
