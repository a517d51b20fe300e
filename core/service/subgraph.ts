/**
 * Starting a subgraph: its SDL file from `schema/`, built with `@apollo/subgraph`, served over
 * HTTP and graphql-ws on `/graphql` by the shared service shell, and in process to a gateway in
 * the same process (`RunningService.local`). Every path accepts only requests carrying a
 * principal signed by the gateway, verified by the same function.
 */
import { readFileSync } from "node:fs";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { type DocumentNode, type GraphQLError, getOperationAST, parse } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { createPrincipalVerifier, PRINCIPAL_HEADER } from "../auth/internal.js";
import type { Principal } from "../auth/principal.js";
import { exportCacheMetrics } from "../cache/metrics.js";
import type { ServiceName } from "../config.js";
import { subscribeWithEventContext } from "../graphql/subscribe.js";
import { createLogger } from "../logger.js";
import { ServiceMetrics } from "../metrics.js";
import type { Runtime } from "../runtime.js";
import { instrumentRootFields, type UsageOfResult } from "../usage/root-field-usage.js";
import { type LocalEndpoint, type RunningService, startService } from "./http-service.js";
import type { ReadinessChecks } from "./readiness.js";
import { OperationRecords } from "./ws-operations.js";

/** A subgraph's endpoint for a gateway in the same process (header: the signed principal). */
export type LocalSubgraph = LocalEndpoint;

/** Every subgraph's context starts with the caller. */
export interface SubgraphContext {
  principal: Principal;
}

export const SCHEMA_DIR = new URL("../../schema/", import.meta.url);

export function loadSubgraphSdl(name: Exclude<ServiceName, "gateway">): DocumentNode {
  return parse(readFileSync(new URL(`${name}.graphql`, SCHEMA_DIR), "utf8"));
}

/** What a subgraph remembers about one graphql-ws connection (from the gateway). */
interface SubgraphSocketExtra extends Record<PropertyKey, unknown> {
  principal?: Principal;
  /** Ids of the connection's open subscription streams, for the active-subscriptions gauge. */
  streams?: Set<string>;
  /** The log line and metrics of each operation (see ws-operations.ts). */
  operations?: OperationRecords;
}

export interface SubgraphOptions<TContext extends SubgraphContext> {
  name: Exclude<ServiceName, "gateway">;
  runtime: Runtime;
  port: number;
  resolvers: GraphQLResolverMap<TContext>;
  /** Extends the base context (principal) with per-request state such as DataLoaders. */
  createContext: (principal: Principal) => TContext;
  readiness: ReadinessChecks;
  onClose?: () => Promise<void>;
  /** The service's metrics, when the caller registers its own in them (e.g. store timing). */
  metrics?: ServiceMetrics;
  /** What each write field stored, for usage analytics (see core/usage/root-field-usage.ts). */
  usage?: UsageOfResult;
}

export async function startSubgraph<TContext extends SubgraphContext>(
  options: SubgraphOptions<TContext>,
): Promise<RunningService> {
  const { runtime, name } = options;
  const logger = createLogger(runtime.config, name);
  const metrics = options.metrics ?? new ServiceMetrics(name);
  exportCacheMetrics(runtime.cache, metrics.registry);
  const schema = buildSubgraphSchema({
    typeDefs: loadSubgraphSdl(name),
    resolvers: options.resolvers as GraphQLResolverMap<unknown>,
  });
  instrumentRootFields(schema, {
    recorder: runtime.usage,
    stored: options.usage,
    latency: metrics.rootFieldDuration,
  });
  const verifyPrincipal = createPrincipalVerifier(runtime.config.auth.internalSecret);

  return startService<TContext>({
    name,
    config: runtime.config,
    logger,
    metrics,
    schema,
    port: options.port,
    host: runtime.config.host,
    landingPage: false,
    cors: false,
    readiness: { ...runtime.readiness(), ...options.readiness },
    onClose: options.onClose,
    async context(req) {
      const principal = await verifyPrincipal(req.header(PRINCIPAL_HEADER));
      return options.createContext(principal);
    },
    async localContext(header) {
      const principal = await verifyPrincipal(header);
      return options.createContext(principal);
    },
    attachWebSocket(httpServer) {
      const wsServer = new WebSocketServer({ server: httpServer, path: "/graphql" });
      const cleanup = useServer<Record<string, unknown>, SubgraphSocketExtra>(
        {
          schema,
          // The gateway sends the signed principal in connection_init; anything else is refused.
          onConnect: async (ctx) => {
            try {
              const header = ctx.connectionParams?.[PRINCIPAL_HEADER];
              ctx.extra.principal = await verifyPrincipal(typeof header === "string" ? header : undefined);
              ctx.extra.streams = new Set();
              ctx.extra.operations = new OperationRecords(logger, metrics);
              metrics.websocketConnections.inc();
              return true;
            } catch {
              return false;
            }
          },
          onDisconnect: (ctx) => {
            metrics.websocketConnections.dec();
            ctx.extra.operations?.finishAll();
          },
          onSubscribe: (ctx, id, payload) => {
            ctx.extra.operations?.start(id, payload.operationName);
          },
          // A fresh context per operation, and per event for subscriptions (see subscribe.ts).
          context: (ctx) => options.createContext(ctx.extra.principal!),
          subscribe: (args) =>
            subscribeWithEventContext(args, () =>
              options.createContext((args.contextValue as TContext).principal),
            ),
          onOperation: (ctx, id, _payload, args, result) => {
            const operations = ctx.extra.operations!;
            const operation = getOperationAST(args.document, args.operationName);
            if (operation) operations.describe(id, operation.name?.value, operation.operation);
            operations.executing(id);
            if (result && Symbol.asyncIterator in result) {
              ctx.extra.streams!.add(id);
              metrics.activeSubscriptions.inc();
            } else {
              operations.errors(id, (result as { errors?: readonly GraphQLError[] }).errors);
            }
          },
          onError: (ctx, id, _payload, errors) => {
            ctx.extra.operations?.failed(id, errors);
          },
          onComplete: (ctx, id) => {
            if (ctx.extra.streams?.delete(id)) metrics.activeSubscriptions.dec();
            ctx.extra.operations?.finish(id);
          },
        },
        wsServer,
      );
      return {
        async dispose() {
          await cleanup.dispose();
        },
      };
    },
  });
}
