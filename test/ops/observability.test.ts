/**
 * The Grafana dashboard and the Prometheus alert rules only name metrics the services export:
 * a real stack (with a real Redis) gets some of every kind of traffic, its four /metrics are
 * scraped, and every metric a panel or rule names must be there, with samples matching the
 * label values the query selects. Every alert links to its section of docs/operations.md.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { errorCodes } from "../support/graphql-client.js";
import { RedisServer } from "../support/redis-server.js";
import { agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";
import { gatewayClient, Recorder } from "../support/subscriptions.js";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Dashboard {
  uid: string;
  panels: {
    id: number;
    type: string;
    title: string;
    targets?: { expr: string }[];
    gridPos: { x: number; w: number };
  }[];
}
interface AlertRules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { runbook: string } }[] }[];
}
const dashboard = JSON.parse(read("deploy/grafana/mnemo.json")) as Dashboard;
const alertRules = parseYaml(read("deploy/prometheus/alerts.yml")) as AlertRules;
const alerts = alertRules.groups.flatMap((group) => group.rules);

/** Where each PromQL expression comes from, for failure messages. */
const expressions: { where: string; expr: string }[] = [
  ...dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
  ),
  ...alerts.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
];

/** Counters that only move when something goes wrong: exported, but without samples after healthy traffic. */
const FAILURE_ONLY = new Set([
  "mnemo_subscription_slow_consumers_total",
  "mnemo_subscription_overloads_total",
  "mnemo_subscription_upstream_failures_total",
  "mnemo_store_operation_errors_total",
]);

interface Sample {
  name: string;
  labels: Record<string, string>;
}

/** Prometheus text format: `# TYPE name kind` lines and `name{label="value",...} number` samples. */
function parseExposition(text: string): { names: Set<string>; samples: Sample[] } {
  const names = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(name + suffix);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const labels: Record<string, string> = {};
    for (const match of (sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[match[1]!] = match[2]!;
    samples.push({ name: sample[1]!, labels });
  }
  return { names, samples };
}

/** Each `mnemo_*` selector in an expression, with its equality matchers (dashboard variables left out). */
function selectors(expr: string): { metric: string; equals: Record<string, string> }[] {
  return [...expr.matchAll(/\b(mnemo_\w+)(?:\{([^}]*)\})?/g)].map((match) => {
    const equals: Record<string, string> = {};
    for (const matcher of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) {
      if (!matcher[2]!.includes("$")) equals[matcher[1]!] = matcher[2]!;
    }
    return { metric: match[1]!, equals };
  });
}

describe("dashboard and alert rules against a running stack", () => {
  let redis: RedisServer;
  let mnemo: TestStack;
  let exported: { names: Set<string>; samples: Sample[] };

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({
      redisUrl: redis.url,
      env: { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4", RATE_LIMIT_PER_MINUTE: "40" },
    });
    const writer = agentPrincipal("obs-1");

    // A live subscription, so the gateway's subscription metrics have samples.
    const client = gatewayClient(mnemo.url("gateway"), `Bearer ${await mnemo.token(writer)}`);
    const watch = new Recorder(client, `subscription { agentStateChanged(agentId: "obs-1") { version } }`);
    for (let i = 0; watch.events.length === 0; i++) {
      if (i > 50) throw new Error("the subscription never delivered an event");
      await mnemo.query(`mutation { putState(agentId: "obs-1", data: {i: ${i}}) { version } }`, {}, writer);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Reads through the cache (a miss, then hits), a memory and recalls, a client error.
    for (let i = 0; i < 3; i++) {
      expect(
        (await mnemo.query(`{ agent(id: "obs-1") { state { version } } }`, {}, writer)).errors,
      ).toBeUndefined();
    }
    await mnemo.query(
      `mutation { remember(agentId: "obs-1", input: {content: "metrics matter"}) { outcome } }`,
      {},
      writer,
    );
    expect(
      (await mnemo.query(`{ recall(agentId: "obs-1", query: "metrics") { score } }`, {}, writer)).errors,
    ).toBeUndefined();
    expect(
      errorCodes(await mnemo.query(`{ agent(id: "bad{id}") { state { version } } }`, {}, writer)),
    ).toEqual(["BAD_USER_INPUT"]);
    // One principal past RATE_LIMIT_PER_MINUTE.
    const flooder = agentPrincipal("obs-flood");
    let limited = false;
    for (let i = 0; i < 60 && !limited; i++) {
      const response = await mnemo.query(`{ agent(id: "obs-flood") { state { version } } }`, {}, flooder);
      limited = errorCodes(response).includes("RATE_LIMITED");
    }
    expect(limited).toBe(true);
    watch.dispose();
    await client.dispose();

    const texts = await Promise.all(
      (["gateway", "state", "memory", "cache-admin"] as const).map(async (service) => {
        const response = await fetch(new URL("/metrics", mnemo.url(service)));
        expect(response.status).toBe(200);
        return response.text();
      }),
    );
    exported = parseExposition(texts.join("\n"));
  }, 120_000);

  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  it("finds every metric a panel or rule names among the exported ones", () => {
    const missing = expressions.flatMap(({ where, expr }) =>
      selectors(expr)
        .filter(({ metric }) => !exported.names.has(metric))
        .map(({ metric }) => `${where}: ${metric}`),
    );
    expect(missing).toEqual([]);
    expect(expressions.length).toBeGreaterThan(30);
  });

  it("finds samples with the label values each query selects", () => {
    const unmatched = expressions.flatMap(({ where, expr }) =>
      selectors(expr)
        .filter(({ metric }) => !FAILURE_ONLY.has(metric))
        .filter(
          ({ metric, equals }) =>
            !exported.samples.some(
              (sample) =>
                sample.name === metric &&
                Object.entries(equals).every(([label, value]) => sample.labels[label] === value),
            ),
        )
        .map(({ metric, equals }) => `${where}: ${metric}${JSON.stringify(equals)}`),
    );
    expect(unmatched).toEqual([]);
  });

  it("covers what the issue asks the dashboard and alerts to show", () => {
    const all = expressions.map((e) => e.expr).join("\n");
    for (const metric of [
      "mnemo_graphql_requests_total",
      "mnemo_graphql_errors_total",
      "mnemo_graphql_request_duration_seconds_bucket",
      "mnemo_cache_reads_total",
      "mnemo_subscriptions_active",
      "mnemo_subscription_events_total",
      "mnemo_graphql_root_field_duration_seconds_bucket",
      "mnemo_store_operation_duration_seconds_bucket",
      "mnemo_readiness_check_up",
      "mnemo_subscription_slow_consumers_total",
      "mnemo_rate_limited_total",
      "mnemo_cache_degraded",
    ]) {
      expect(all, metric).toContain(metric);
    }
    const names = alerts.map((rule) => rule.alert);
    for (const alert of [
      "MnemoHighErrorRate",
      "MnemoHighLatency",
      "MnemoCacheDegraded",
      "MnemoRedisNotReady",
    ]) {
      expect(names).toContain(alert);
    }
    for (const alert of ["MnemoStoreNotReady", "MnemoSlowConsumers", "MnemoRateLimitSpike"]) {
      expect(names).toContain(alert);
    }
  });

  it("puts no agent id or principal in any label", () => {
    const values = exported.samples.flatMap((sample) => Object.values(sample.labels));
    expect(values.filter((value) => value.includes("obs-"))).toEqual([]);
  });
});

describe("dashboard and alert files", () => {
  it("gives every panel a unique id and a place on the 24-column grid", () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    expect(dashboard.uid).toBe("mnemo-overview");
  });

  it("links every alert to its own section of docs/operations.md", () => {
    const anchors = new Set(
      [...read("docs/operations.md").matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^\w\- ]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    for (const rule of alerts) {
      expect(rule.annotations.runbook).toBe(`docs/operations.md#${rule.alert.toLowerCase()}`);
      expect(anchors, rule.alert).toContain(rule.alert.toLowerCase());
    }
  });
});
