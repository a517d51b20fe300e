/**
 * Usage analytics (admin `usage`): two replicas sharing one real Redis count into the same
 * numbers; without Redis one process counts in memory. Operations by kind, what was stored,
 * recalls and their latency, per agent and per principal, and never an agent in a metric label.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { errorCodes } from "../support/graphql-client.js";
import { RedisServer } from "../support/redis-server.js";
import { ADMIN, agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

/** Client vectors only: no embedding model to load, recall ranks by words. */
const ENV = { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4", USAGE_FLUSH_MS: "100" };

const USAGE = `query Usage($window: UsageWindow, $agentId: ID, $principal: String, $first: Int) {
  usage(window: $window, agentId: $agentId, principal: $principal, first: $first) {
    window from to bucketSeconds
    total { ...counts }
    byAgent { agentId usage { ...counts } }
    byPrincipal { principal usage { ...counts } }
    series { start usage { operations } }
  }
}
fragment counts on UsageCounts {
  operations errors byKind { kind operations errors }
  memoriesStored stateVersionsStored bytesStored recalls
  recallLatency { meanMs p50Ms p99Ms }
}`;

interface Counts {
  operations: number;
  errors: number;
  byKind: { kind: string; operations: number; errors: number }[];
  memoriesStored: number;
  stateVersionsStored: number;
  bytesStored: number;
  recalls: number;
  recallLatency: { meanMs: number; p50Ms: number; p99Ms: number } | null;
}
interface Report {
  window: string;
  from: string;
  to: string;
  bucketSeconds: number;
  total: Counts;
  byAgent: { agentId: string; usage: Counts }[];
  byPrincipal: { principal: string; usage: Counts }[];
  series: { start: string; usage: { operations: number } }[];
}

const kinds = (counts: Counts) =>
  Object.fromEntries(counts.byKind.map((k) => [k.kind, [k.operations, k.errors]]));

async function usage(stack: TestStack, variables: Record<string, unknown>): Promise<Report> {
  const response = await stack.query<{ usage: Report }>(USAGE, variables);
  expect(response.errors).toBeUndefined();
  return response.data!.usage;
}

describe("usage across two replicas sharing Redis", () => {
  let redis: RedisServer;
  let replicaA: TestStack;
  let replicaB: TestStack;
  const planner = agentPrincipal("usage-planner");
  const stateData = [
    { goal: "ship", step: 1 },
    { goal: "ship", step: 2, notes: "héllo" },
  ];
  const memoryText = "The release is due in May";

  beforeAll(async () => {
    redis = await RedisServer.start();
    replicaA = await startTestStack({ redisUrl: redis.url, env: ENV });
    replicaB = await startTestStack({ redisUrl: redis.url, env: ENV });

    for (const data of stateData) {
      const put = await replicaA.query(
        `mutation($data: JSON!) { putState(agentId: "usage-planner", data: $data) { version } }`,
        { data },
        planner,
      );
      expect(put.errors).toBeUndefined();
    }
    const conflict = await replicaA.query(
      `mutation { putState(agentId: "usage-planner", data: {}, expectedVersion: 1) { version } }`,
      {},
      planner,
    );
    expect(errorCodes(conflict)).toEqual(["VERSION_CONFLICT"]);
    const remembered = await replicaB.query(
      `mutation($content: String!) { remember(agentId: "usage-planner", input: {content: $content}) { outcome } }`,
      { content: memoryText },
      planner,
    );
    expect(remembered.errors).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const recall = await replicaB.query(
        `{ recall(agentId: "usage-planner", query: "release May") { memory { content } } }`,
        {},
        planner,
      );
      expect(recall.errors).toBeUndefined();
    }
    // Another agent, written by the admin, so rankings have two of each.
    await replicaB.query(`mutation { putState(agentId: "usage-other", data: {x: 1}) { version } }`);
  });

  afterAll(async () => {
    await replicaA?.close();
    await replicaB?.close();
    await redis?.close();
  });

  it("adds up one agent's operations, writes and recalls from both replicas", async () => {
    // Replica B flushes every USAGE_FLUSH_MS; replica A reads them from Redis.
    const report = await vi.waitFor(
      async () => {
        const r = await usage(replicaA, { window: "LAST_HOUR", agentId: "usage-planner" });
        expect(r.total.recalls).toBe(2);
        return r;
      },
      { timeout: 5000, interval: 100 },
    );
    const { total } = report;
    expect(kinds(total)).toEqual({ putState: [3, 1], remember: [1, 0], recall: [2, 0] });
    expect(total.operations).toBe(6);
    expect(total.errors).toBe(1);
    expect(total.stateVersionsStored).toBe(2);
    expect(total.memoriesStored).toBe(1);
    expect(total.bytesStored).toBe(
      stateData.reduce((sum, data) => sum + Buffer.byteLength(JSON.stringify(data)), 0) +
        Buffer.byteLength(memoryText),
    );
    expect(total.recallLatency!.meanMs).toBeGreaterThan(0);
    expect(total.recallLatency!.p50Ms).toBeLessThanOrEqual(total.recallLatency!.p99Ms);
    expect(report.window).toBe("LAST_HOUR");
    expect(report.bucketSeconds).toBe(60);
    expect(report.series).toHaveLength(60);
    expect(report.series.at(-1)!.usage.operations).toBeGreaterThan(0);
    expect(report.series.reduce((sum, bucket) => sum + bucket.usage.operations, 0)).toBe(6);
    expect(Date.parse(report.to) - Date.parse(report.from)).toBe(3_600_000);
  });

  it("ranks agents and principals, and reports one principal on its own", async () => {
    const report = await usage(replicaB, { window: "LAST_DAY" });
    expect(report.bucketSeconds).toBe(3600);
    expect(report.series).toHaveLength(24);
    expect(report.byAgent.map((a) => a.agentId)).toEqual(["usage-planner", "usage-other"]);
    expect(report.byAgent[1]!.usage.stateVersionsStored).toBe(1);
    const principals = report.byPrincipal.map((p) => p.principal);
    expect(principals).toContain(planner.sub);
    expect(principals).toContain(ADMIN.sub);
    // Everyone's total includes the admin's own usage queries.
    expect(report.total.operations).toBeGreaterThanOrEqual(7);

    const byPlanner = await usage(replicaA, { window: "LAST_DAY", principal: planner.sub });
    expect(byPlanner.total.operations).toBe(6);
    expect(byPlanner.total.memoriesStored).toBe(1);

    const top = await usage(replicaA, { window: "LAST_15_MINUTES", first: 1 });
    expect(top.byAgent).toHaveLength(1);
    expect(top.series).toHaveLength(15);
  });

  it("is admin only and refuses bad arguments without reading anything", async () => {
    const asAgent = await replicaA.query(USAGE, {}, planner);
    expect(errorCodes(asAgent)).toEqual(["FORBIDDEN"]);
    const both = await replicaA.query(USAGE, { agentId: "usage-planner", principal: planner.sub });
    expect(errorCodes(both)).toEqual(["BAD_USER_INPUT"]);
    expect(both.errors![0]!.message).toMatch(/at most one of agentId and principal/);
    const badAgent = await replicaA.query(USAGE, { agentId: "bad{id}" });
    expect(errorCodes(badAgent)).toEqual(["BAD_USER_INPUT"]);
    const tooMany = await replicaA.query(USAGE, { first: 1000 });
    expect(errorCodes(tooMany)).toEqual(["BAD_USER_INPUT"]);
    const badWindow = await replicaA.query(USAGE, { window: "LAST_YEAR" });
    expect(errorCodes(badWindow)).toEqual(["BAD_USER_INPUT"]);
  });

  it("keeps agents and principals out of Prometheus labels", async () => {
    for (const service of ["state", "memory", "cache-admin", "gateway"] as const) {
      const text = await (await fetch(new URL("/metrics", replicaB.url(service)))).text();
      expect(text).not.toContain("usage-planner");
      expect(text).not.toContain(planner.sub);
    }
    const memoryMetrics = await (await fetch(new URL("/metrics", replicaB.url("memory")))).text();
    expect(memoryMetrics).toMatch(
      /mnemo_graphql_root_field_duration_seconds_count\{[^}]*field="recall"[^}]*\} 2/,
    );
  });
});

describe("usage in one process without Redis", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ env: ENV });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("counts in memory and answers at once", async () => {
    await mnemo.query(`mutation { putState(agentId: "solo", data: {a: "bc"}) { version } }`);
    const report = await usage(mnemo, { window: "LAST_15_MINUTES", agentId: "solo" });
    expect(kinds(report.total)).toEqual({ putState: [1, 0] });
    expect(report.total.stateVersionsStored).toBe(1);
    expect(report.total.bytesStored).toBe(Buffer.byteLength(JSON.stringify({ a: "bc" })));
    expect(report.total.recallLatency).toBeNull();
  });
});
