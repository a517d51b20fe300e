/**
 * Prometheus metrics per service. Each service owns its own Registry so several services (or
 * several test stacks) can live in one process without clashing.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
  private readonly operations = new Set<string>();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: "mnemo_" });
    this.requests = new Counter({
      name: "mnemo_graphql_requests_total",
      help: "GraphQL operations handled, by operation name, outcome (ok | error) and transport (http | ws)",
      labelNames: ["operation", "outcome", "transport"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: "mnemo_graphql_request_duration_seconds",
      help: "GraphQL query and mutation latency in seconds, by operation name and transport (http | ws)",
      labelNames: ["operation", "transport"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
