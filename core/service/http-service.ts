/**
 * The HTTP shell every Mnemo service shares: Apollo Server on `/graphql` (POST and GET, CSRF
 * prevention on), optional graphql-ws on the same path, `/health`, `/ready`, `/metrics`, body
 * limits, and a graceful stop that drains in-flight requests and closes sockets.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import type { GatewayInterface } from "@apollo/server-gateway-interface";
import { expressMiddleware } from "@as-integrations/express5";
import cors from "cors";
import express, { type ErrorRequestHandler, type Request } from "express";
import type { GraphQLFormattedError, GraphQLSchema, ParseOptions, ValidationRule } from "graphql";
import { observabilityPlugin } from "../apollo/observability-plugin.js";
import type { Config, ServiceName } from "../config.js";
import { createErrorFormatter, ErrorCode, unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";
import { createLocalExecution } from "./local-execution.js";
import { type ReadinessChecks, runReadinessChecks } from "./readiness.js";

export interface RunningService {
  readonly name: ServiceName;
  readonly port: number;
  /** The service's GraphQL endpoint, e.g. http://127.0.0.1:4001/graphql */
  readonly url: string;
  readonly httpServer: http.Server | https.Server;
  /** The same endpoint for a caller in this process (a subgraph's, for a gateway sharing it). */
  readonly local?: LocalEndpoint;
  close(): Promise<void>;
}

/** Endpoints a service serves next to /graphql (the gateway's /mcp and /graphiql). */
export interface HttpRoutes {
  /** Adds the routes. `self.url()` is the service's own GraphQL URL, known once it listens. */
  mount(app: express.Express, self: { url(): string }): void;
  /** Ends long-lived responses (event streams) when the server stops, before it drains requests. */
  drain?(): Promise<void>;
}

/** One GraphQL operation as a gateway sends it to a subgraph. */
export interface LocalRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** What the HTTP endpoint would have answered, without the serialisation. */
export interface LocalResponse {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLFormattedError[];
  extensions?: Record<string, unknown>;
}

/**
 * A subgraph's GraphQL endpoint called from this process (local-execution.ts): the context is
 * built from the same header the HTTP path reads, the document validated against the same
 * schema, errors formatted and operations recorded the same way. The HTTP hop, the JSON
 * encoding in both directions and Apollo's per-request pipeline are left out.
 */
export interface LocalEndpoint {
  execute(request: LocalRequest, header: string | undefined): Promise<LocalResponse>;
}

export interface WebSocketAttachment {
  /** Closes every socket and stops accepting connections. */
  dispose(): Promise<void> | void;
}

export interface ServiceOptions<TContext extends BaseContext> {
  name: ServiceName;
  config: Config;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Exactly one of `schema` (a subgraph) or `gateway`. */
  schema?: GraphQLSchema;
  gateway?: GatewayInterface;
  plugins?: ApolloServerPlugin<TContext>[];
  /** Builds the per-request context; throwing a GraphQLError refuses the request. */
  context: (req: Request) => Promise<TContext>;
  readiness: ReadinessChecks;
  /** Serve Apollo Sandbox on GET /graphql from a browser (the gateway, outside production). */
  landingPage: boolean;
  /** Allow browsers from other origins (Sandbox is served from Apollo's CDN). */
  cors: boolean;
  attachWebSocket?: (httpServer: http.Server | https.Server) => WebSocketAttachment;
  /** More endpoints on the same server, mounted before /graphql. */
  routes?: HttpRoutes[];
  /** Extra GraphQL validation rules (query depth, aliases, cost…). */
  validationRules?: ValidationRule[];
  /** graphql-js parse options, e.g. `maxTokens`. */
  parseOptions?: ParseOptions;
  /** Serve HTTPS (and WSS) with these PEM files instead of plain HTTP. */
  tls?: { certFile: string; keyFile: string } | null;
  /** Honour X-Forwarded-* from this many proxy hops (req.ip, req.protocol). */
  trustProxyHops?: number;
  port: number;
  host: string;
  /** Called after Apollo has stopped, to release what the service owns (stores, connections). */
  onClose?: () => Promise<void>;
  /**
   * Offer a subgraph's endpoint in process too (`RunningService.local`): builds the context
   * from the header an HTTP caller would send, exactly as `context` does from the request.
   */
  localContext?: (header: string | undefined) => Promise<TContext>;
}

/** How long a stopping server waits for in-flight requests before cutting connections. */
export const DRAIN_GRACE_MS = 10_000;

export async function startService<TContext extends BaseContext>(
  options: ServiceOptions<TContext>,
): Promise<RunningService> {
  const { config, logger, metrics } = options;
  metrics.watchReadiness(options.readiness);
  const app = express();
  app.disable("x-powered-by");
  if (options.trustProxyHops) app.set("trust proxy", options.trustProxyHops);
  const httpServer = options.tls
    ? https.createServer(
        { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) },
        app,
      )
    : http.createServer(app);
  const websocket = options.attachWebSocket?.(httpServer);

  const plugins: ApolloServerPlugin<TContext>[] = [
    ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: DRAIN_GRACE_MS }),
    observabilityPlugin<TContext>(logger, metrics),
    options.landingPage
      ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
      : ApolloServerPluginLandingPageDisabled(),
    // No field has a cache hint, and the built-in plugin would wrap every resolver to compute a
    // Cache-Control header nobody sets: 6 % of a subgraph's CPU on a 100-agent query.
    ApolloServerPluginCacheControlDisabled(),
    // Federated traces are for Apollo Studio, which Mnemo does not report to; the built-in
    // plugin builds a trace tree for every subgraph request before it looks at the header.
    ApolloServerPluginInlineTraceDisabled(),
    ...(options.plugins ?? []),
  ];
  const longLived = [
    ...(websocket ? [() => websocket.dispose()] : []),
    ...(options.routes ?? []).flatMap((routes) => (routes.drain ? [() => routes.drain!()] : [])),
  ];
  if (longLived.length > 0) {
    plugins.push({
      async serverWillStart() {
        return {
          async drainServer() {
            await Promise.all(longLived.map((end) => end()));
          },
        };
      },
    });
  }

  const production = config.env === "production";
  const common = {
    plugins,
    validationRules: options.validationRules ?? [],
    parseOptions: options.parseOptions ?? {},
    // One operation per HTTP request: batches would multiply every per-request limit.
    allowBatchedHttpRequests: false,
    introspection: config.introspection,
    csrfPrevention: true,
    // bin/start.ts owns signal handling and stops every service in order.
    stopOnTerminationSignals: false,
    formatError: createErrorFormatter(production),
    includeStacktraceInErrorResponses: !production,
    logger: logger.child({ component: "apollo" }),
  };
  const apollo = options.gateway
    ? new ApolloServer<TContext>({ ...common, gateway: options.gateway })
    : new ApolloServer<TContext>({ ...common, schema: options.schema! });
  await apollo.start();

  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: options.name });
  });
  app.get("/ready", async (_req, res) => {
    const report = await runReadinessChecks(options.readiness);
    res.status(report.ready ? 200 : 503).json({ service: options.name, ...report });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.render());
  });

  // Set once the server listens (below); routes read it only while serving requests.
  let url = "";
  for (const routes of options.routes ?? []) routes.mount(app, { url: () => url });

  const corsMiddleware = options.cors
    ? cors({ origin: true, maxAge: 600 })
    : (_req: Request, _res: express.Response, next: express.NextFunction) => next();
  app.use(
    "/graphql",
    corsMiddleware,
    express.json({ limit: config.limits.requestBodyBytes }),
    rejectDeepJson(MAX_REQUEST_JSON_DEPTH),
    expressMiddleware(apollo, { context: async ({ req }) => options.context(req) }),
  );
  app.use(bodyErrorHandler(config.limits.requestBodyBytes));

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const hostForUrl = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
  const scheme = options.tls ? "https" : "http";
  url = `${scheme}://${hostForUrl.includes(":") ? `[${hostForUrl}]` : hostForUrl}:${port}/graphql`;
  logger.debug({ url }, "service listening");

  let closing: Promise<void> | undefined;
  const executeLocally =
    options.localContext && options.schema
      ? createLocalExecution({
          schema: options.schema,
          context: options.localContext,
          formatError: common.formatError,
          includeStacktrace: common.includeStacktraceInErrorResponses,
          logger,
          metrics,
        })
      : undefined;
  const local: LocalEndpoint | undefined = executeLocally && {
    async execute(request, header) {
      // What a caller over HTTP sees from a stopped service, without an address to leak.
      if (closing) throw unavailable(`The ${options.name} service is shutting down; try again shortly`);
      return executeLocally(request, header);
    },
  };
  return {
    name: options.name,
    port,
    url,
    httpServer,
    local,
    close() {
      closing ??= (async () => {
        // Stops accepting, waits for in-flight requests (drain plugin), closes WebSockets.
        await apollo.stop();
        await options.onClose?.();
      })();
      return closing;
    },
  };
}

/**
 * Request bodies nested deeper than this are refused before GraphQL sees them: recursive code
 * further on (scalar parsing, serialisation) would exhaust the stack on hostile inputs.
 */
export const MAX_REQUEST_JSON_DEPTH = 128;

function rejectDeepJson(maxDepth: number): express.RequestHandler {
  return (req, res, next) => {
    if (jsonDepthExceeds(req.body, maxDepth)) {
      res.status(400).json({
        errors: [
          {
            message: `Request JSON is nested deeper than ${maxDepth} levels`,
            extensions: { code: ErrorCode.BAD_USER_INPUT },
          },
        ],
      });
      return;
    }
    next();
  };
}

/** Iterative walk: measuring a hostile document must not itself overflow the stack. */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Turns body-parser failures into GraphQL-shaped errors with a clear code. */
function bodyErrorHandler(limit: number): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const type = (error as { type?: string }).type;
    if (type === "entity.too.large") {
      res.status(413).json({
        errors: [
          {
            message: `Request body is larger than the ${limit} bytes allowed (REQUEST_MAX_BYTES)`,
            extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE },
          },
        ],
      });
      return;
    }
    if (type === "entity.parse.failed") {
      res.status(400).json({
        errors: [{ message: "Request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }],
      });
      return;
    }
    const status = (error as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({
        errors: [{ message: (error as Error).message, extensions: { code: "BAD_REQUEST" } }],
      });
      return;
    }
    next(error);
  };
}
