/**
 * Live subscriptions through the gateway. The open-source Apollo Gateway refuses to execute
 * subscription plans; these modules do it:
 *
 * - planner.ts        client text → validated operation → Apollo query plan (cached)
 * - upstream-pool.ts  the plan's `primary` fetch as a shared graphql-ws subscription to the
 *                     owning subgraph, with retries
 * - executor.ts       each event through Apollo's `executeQueryPlan`: `rest`, then shaping
 * - hub.ts            identical client subscriptions grouped: one execution per event
 * - client-stream.ts  each client's bounded outgoing queue
 * - connection-quota.ts MAX_CONNECTIONS_PER_PRINCIPAL, counted on every gateway through Redis
 * - ws-server.ts      the graphql-ws endpoint on /graphql: auth, protocol, error formatting
 */
import type http from "node:http";
import type https from "node:https";
import type { ServiceMap } from "@apollo/gateway";
import type { ParseOptions, ValidationRule } from "graphql";
import type { Principal } from "../../core/auth/principal.js";
import type { Config } from "../../core/config.js";
import { createErrorFormatter } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { ServiceMetrics } from "../../core/metrics.js";
import type { RedisClient } from "../../core/redis.js";
import type { WebSocketAttachment } from "../../core/service/http-service.js";
import type { RateLimiter } from "../rate-limit.js";
import { createConnectionQuota } from "./connection-quota.js";
import { FederatedExecutor } from "./executor.js";
import { WireFormat } from "./format.js";
import { SubscriptionHub } from "./hub.js";
import { SubscriptionMetrics } from "./metrics.js";
import { OperationPlanner } from "./planner.js";
import { UpstreamPool } from "./upstream-pool.js";
import { attachSubscriptionServer } from "./ws-server.js";

export interface SubscriptionOptions {
  config: Config;
  supergraphSdl: string;
  /** Each subgraph's HTTP GraphQL endpoint; subscriptions use the same path over WebSocket. */
  urls: Record<string, string>;
  /** The gateway's HTTP data sources, for the entity fetches of each event. */
  dataSources: ServiceMap;
  sign: (principal: Principal) => Promise<string>;
  verifyToken: (token: string) => Promise<Principal>;
  /** The HTTP path's request limits (graphql-armor rules, parser token limit), applied alike. */
  validationRules?: readonly ValidationRule[];
  parseOptions?: ParseOptions;
  /** The HTTP path's per-principal rate limit; each operation over the socket spends from it. */
  rateLimiter?: RateLimiter | null;
  /** Shared with the other gateways: connections per principal are counted there. */
  redis: RedisClient | null;
  metrics: ServiceMetrics;
  logger: Logger;
}

/** Builds the subscription machinery; returns the hook that serves it on the HTTP server. */
export function createSubscriptions(
  options: SubscriptionOptions,
): (httpServer: http.Server | https.Server) => WebSocketAttachment {
  const { config, logger } = options;
  const metrics = new SubscriptionMetrics(options.metrics);
  const format = new WireFormat(createErrorFormatter(config.env === "production"));
  const planner = new OperationPlanner(options.supergraphSdl, {
    validationRules: options.validationRules,
    parseOptions: options.parseOptions,
    hideSuggestions: !config.introspection,
  });
  const executor = new FederatedExecutor(planner, options.dataSources, logger);
  const pool = new UpstreamPool({
    urls: options.urls,
    sign: options.sign,
    retryAttempts: config.subscriptions.upstreamRetryAttempts,
    metrics,
    logger,
  });
  const hub = new SubscriptionHub({
    pool,
    executor,
    format,
    metrics,
    logger,
    backlogLimit: config.subscriptions.queueLimit,
  });
  const connectionQuota = createConnectionQuota(
    options.redis,
    config.protection.maxConnectionsPerPrincipal,
    logger,
  );
  return (httpServer) =>
    attachSubscriptionServer(httpServer, {
      planner,
      executor,
      hub,
      verifyToken: options.verifyToken,
      rateLimiter: options.rateLimiter ?? null,
      format,
      queueLimit: config.subscriptions.queueLimit,
      maxSubscriptionsPerConnection: config.protection.maxSubscriptionsPerConnection,
      connectionQuota,
      maxPayload: config.limits.requestBodyBytes,
      metrics,
      logger,
      onDispose: async () => {
        await pool.dispose();
        await connectionQuota.close();
      },
    });
}
