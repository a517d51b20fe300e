/**
 * The gateway's subscription metrics, in its Prometheus registry. Client subscriptions and
 * connections are counted by the shared gauges of ServiceMetrics (`mnemo_subscriptions_active`,
 * `mnemo_websocket_connections`); these describe the upstream side and the fan-out.
 */
import { Counter, Gauge } from "prom-client";
import type { ServiceMetrics } from "../../core/metrics.js";

export class SubscriptionMetrics {
  /** Client subscriptions open (same gauge as the subgraphs' own). */
  readonly clientSubscriptions: Gauge;
  readonly clientConnections: Gauge;
  readonly upstreamSubscriptions: Gauge<"subgraph">;
  readonly upstreamSockets: Gauge<"subgraph">;
  readonly upstreamRetries: Counter<"subgraph">;
  readonly upstreamFailures: Counter<"subgraph">;
  readonly eventsDelivered: Counter;
  readonly slowConsumers: Counter;
  readonly overloadedGroups: Counter;

  /** The service's own metrics (requests, errors, latency), which WebSocket operations share. */
  constructor(readonly service: ServiceMetrics) {
    const registers = [service.registry];
    this.clientSubscriptions = service.activeSubscriptions;
    this.clientConnections = service.websocketConnections;
    this.upstreamSubscriptions = new Gauge({
      name: "mnemo_subscription_upstreams_active",
      help: "Upstream subscriptions open from the gateway to a subgraph (shared by identical client subscriptions)",
      labelNames: ["subgraph"],
      registers,
    });
    this.upstreamSockets = new Gauge({
      name: "mnemo_subscription_upstream_sockets",
      help: "graphql-ws connections open from the gateway to a subgraph",
      labelNames: ["subgraph"],
      registers,
    });
    this.upstreamRetries = new Counter({
      name: "mnemo_subscription_upstream_retries_total",
      help: "Reconnection attempts to a subgraph's graphql-ws endpoint",
      labelNames: ["subgraph"],
      registers,
    });
    this.upstreamFailures = new Counter({
      name: "mnemo_subscription_upstream_failures_total",
      help: "Upstream subscriptions given up after the retries, failing their clients with UNAVAILABLE",
      labelNames: ["subgraph"],
      registers,
    });
    this.eventsDelivered = new Counter({
      name: "mnemo_subscription_events_total",
      help: "Subscription events queued for clients (one per client per event)",
      registers,
    });
    this.overloadedGroups = new Counter({
      name: "mnemo_subscription_overloads_total",
      help: "Subscriptions whose events came faster than the gateway could deliver them, ended with UNAVAILABLE",
      registers,
    });
    this.slowConsumers = new Counter({
      name: "mnemo_subscription_slow_consumers_total",
      help: "Client connections closed because their outgoing queue was full",
      registers,
    });
  }
}
