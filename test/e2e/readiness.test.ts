import { describe, expect, it } from "vitest";
import { useRedisStack } from "../support/stack.js";

async function ready(
  url: string,
): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean }> } }> {
  const response = await fetch(new URL("/ready", url));
  return { status: response.status, body: (await response.json()) as never };
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("/ready follows Redis", () => {
  const env = useRedisStack();

  it("is ready, turns not-ready when Redis stops, and ready again when it is back", async () => {
    for (const service of ["gateway", "state", "memory", "cache-admin"] as const) {
      const report = await ready(env.mnemo.url(service));
      expect(report.status, service).toBe(200);
      expect(report.body.checks.redis?.ok, service).toBe(true);
    }
    expect((await ready(env.mnemo.url("state"))).body.checks.store?.ok).toBe(true);

    await env.redis.stop();
    await waitFor(async () => (await ready(env.mnemo.url("state"))).status === 503);
    const down = await ready(env.mnemo.url("state"));
    expect(down.body.ready).toBe(false);
    expect(down.body.checks.redis?.ok).toBe(false);
    expect(down.body.checks.store?.ok).toBe(true);
    expect((await ready(env.mnemo.url("gateway"))).status).toBe(503);

    // The service keeps serving from the store while Redis is away.
    const write = await env.mnemo.query(
      `mutation { putState(agentId: "ready-1", data: {ok: true}) { version } }`,
    );
    expect(write.errors).toBeUndefined();

    await env.redis.start();
    await waitFor(async () => (await ready(env.mnemo.url("state"))).status === 200, 15_000);
    for (const service of ["gateway", "state", "memory", "cache-admin"] as const) {
      expect((await ready(env.mnemo.url(service))).status, service).toBe(200);
    }
  });
});
