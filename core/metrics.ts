/**
 * Prometheus metrics per service. Each service owns its own Registry so several services (or
 * several test stacks) can live in one process without clashing.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { type ReadinessChecks, runReadinessChecks } from "./service/readiness.js";

/** Seconds; shared by every latency histogram so dashboards can compare them. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Operation names come from clients; past this many distinct names new ones are counted as "other". */
const MAX_OPERATION_LABELS = 500;

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"operation" | "outcome" | "transport">;
  readonly duration: Histogram<"operation" | "transport">;
  readonly errors: Counter<"code">;
  /** Acknowledged graphql-ws connections (clients on the gateway, the gateway on a subgraph). */
  readonly websocketConnections: Gauge;
  /** Subscription operations open over graphql-ws on this service. */
  readonly activeSubscriptions: Gauge;
  /** Latency of each root Query and Mutation field a subgraph answers (recall: field="recall"). */
  readonly rootFieldDuration: Histogram<"field">;
  /** Latency of store calls, by store port method (see core/store/instrument.ts). */
  readonly storeDuration: Histogram<"store" | "operation">;
  readonly storeErrors: Counter<"store" | "operation">;
  private readonly operations = new Set<string>();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: "mnemo_" });
    this.requests = new Counter({
      name: "mnemo_graphql_requests_total",
      help: "GraphQL operations handled, by operation name, outcome (ok | error) and transport (http | ws | in-process)",
      labelNames: ["operation", "outcome", "transport"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: "mnemo_graphql_request_duration_seconds",
      help: "GraphQL query and mutation latency in seconds, by operation name and transport (http | ws | in-process)",
      labelNames: ["operation", "transport"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: "mnemo_graphql_errors_total",
      help: "GraphQL errors returned, by extensions.code",
      labelNames: ["code"],
      registers: [this.registry],
    });
    this.websocketConnections = new Gauge({
      name: "mnemo_websocket_connections",
      help: "Acknowledged graphql-ws connections open on this service",
      registers: [this.registry],
    });
    this.activeSubscriptions = new Gauge({
      name: "mnemo_subscriptions_active",
      help: "Subscription operations open over graphql-ws on this service",
      registers: [this.registry],
    });
    this.rootFieldDuration = new Histogram({
      name: "mnemo_graphql_root_field_duration_seconds",
      help: "Latency of root Query and Mutation fields answered by this subgraph, by field name (recall latency: field=recall)",
      labelNames: ["field"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.storeDuration = new Histogram({
      name: "mnemo_store_operation_duration_seconds",
      help: "Latency of calls to the store of record, by store (sqlite | neo4j) and store port method",
      labelNames: ["store", "operation"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.storeErrors = new Counter({
      name: "mnemo_store_operation_errors_total",
      help: "Calls to the store of record that failed, by store and store port method",
      labelNames: ["store", "operation"],
      registers: [this.registry],
    });
  }

  /**
   * `mnemo_readiness_check_up{check}`: each /ready check, run when Prometheus scrapes (1 = it
   * answered, 0 = it failed), so alerts see a dependency fail without polling /ready.
   */
  watchReadiness(checks: ReadinessChecks): void {
    new Gauge({
      name: "mnemo_readiness_check_up",
      help: "1 when the /ready check answers, 0 when it fails (checked at scrape time): redis, cache, neo4j, store, subgraph:<name>",
      labelNames: ["check"],
      registers: [this.registry],
      async collect() {
        const report = await runReadinessChecks(checks);
        this.reset();
        for (const [check, result] of Object.entries(report.checks)) this.set({ check }, result.ok ? 1 : 0);
      },
    });
  }

  operationLabel(name: string | null | undefined): string {
    const label = name || "anonymous";
    if (this.operations.has(label)) return label;
    if (this.operations.size >= MAX_OPERATION_LABELS) return "other";
    this.operations.add(label);
    return label;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
