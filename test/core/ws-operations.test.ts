/**
 * The log line and metrics of graphql-ws operations (core/service/ws-operations.ts), with a real
 * pino logger and a real Prometheus registry: what an operator reads for a WebSocket operation
 * matches what observabilityPlugin writes for an HTTP request.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ServiceMetrics } from "../../core/metrics.js";
import { OperationRecords } from "../../core/service/ws-operations.js";

function recordsWithLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const metrics = new ServiceMetrics("test");
  return { records: new OperationRecords(pino(sink), metrics), lines, metrics };
}

const sample = async (metrics: ServiceMetrics, name: string, labels: Record<string, string>) => {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as {
    labels: Record<string, unknown>;
    value: number;
    metricName?: string;
  }[];
  return values
    .filter((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected))
    .reduce((sum, value) => sum + value.value, 0);
};

describe("WebSocket operation records", () => {
  it("log one line per operation when it ends: name, type, transport, duration, outcome and codes", async () => {
    const { records, lines, metrics } = recordsWithLog();
    records.start("1", undefined);
    records.describe("1", "Watch", "subscription");
    records.executing("1");
    records.failed("1", [{ extensions: { code: "UNAVAILABLE" } }]);
    expect(lines).toHaveLength(0); // executing: it ends in onComplete
    records.finish("1");
    records.finish("1"); // graphql-ws may complete twice (complete, then disconnect): one line
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "graphql request",
      operation: "Watch",
      type: "subscription",
      transport: "ws",
      outcome: "error",
      errorCodes: ["UNAVAILABLE"],
    });
    expect(typeof lines[0]!.durationMs).toBe("number");
    expect(
      await sample(metrics, "mnemo_graphql_requests_total", { operation: "Watch", transport: "ws" }),
    ).toBe(1);
    expect(await sample(metrics, "mnemo_graphql_errors_total", { code: "UNAVAILABLE" })).toBe(1);
  });

  it("end an operation refused before execution at once, and the rest when the socket closes", async () => {
    const { records, lines, metrics } = recordsWithLog();
    records.start("bad", "Broken");
    records.failed("bad", [{ extensions: { code: "GRAPHQL_PARSE_FAILED" } }]);
    expect(lines.map((line) => [line.operation, line.outcome])).toEqual([["Broken", "error"]]);

    records.start("q", null);
    records.describe("q", null, "query");
    records.executing("q");
    records.start("s", "Live");
    records.describe("s", "Live", "subscription");
    records.executing("s");
    records.finishAll();
    expect(lines.map((line) => [line.operation, line.type, line.outcome])).toEqual([
      ["Broken", null, "error"],
      ["anonymous", "query", "ok"],
      ["Live", "subscription", "ok"],
    ]);
    // Queries and mutations are timed; a subscription's lifetime is not a latency.
    const timed = (operation: string) =>
      sample(metrics, "mnemo_graphql_request_duration_seconds", { operation, transport: "ws" });
    expect(await timed("anonymous")).toBeGreaterThan(0);
    expect(await timed("Live")).toBe(0);
  });
});
