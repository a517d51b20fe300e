/**
 * The gateway: Apollo Gateway inside Apollo Server, serving the checked-in supergraph. It is the
 * only service that sees client tokens: it verifies them and forwards the principal to the
 * subgraphs, signed with the internal secret.
 */
import { ApolloGateway } from "@apollo/gateway";
import { type ApolloServerPlugin, HeaderMap } from "@apollo/server";
import type { GatewayInterface } from "@apollo/server-gateway-interface";
import type { Request } from "express";
import {
  type DocumentNode,
  GraphQLError,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { Counter } from "prom-client";
import { createPrincipalSigner } from "../core/auth/internal.js";
import type { Principal } from "../core/auth/principal.js";
import { bearerToken, createTokenVerifier } from "../core/auth/tokens.js";
import { unauthenticated } from "../core/errors.js";
import { createLogger } from "../core/logger.js";
import { ServiceMetrics } from "../core/metrics.js";
import type { ProcessRuntime } from "../core/runtime.js";
import { type RunningService, startService } from "../core/service/http-service.js";
import type { ReadinessChecks } from "../core/service/readiness.js";
import type { LocalSubgraph } from "../core/service/subgraph.js";
import { createMcpEndpoint } from "../mcp/index.js";
import { createDataSources } from "./data-sources.js";
import { createGraphiqlRoutes } from "./graphiql/index.js";
import { PassThrough } from "./pass-through.js";
import { createArmor } from "./protection.js";
import { createRateLimiter } from "./rate-limit.js";
import { createSelfCallMark, SELF_CALL_HEADER } from "./self-calls.js";
import { createSubgraphFetcher } from "./subgraph-fetcher.js";
import { createSubscriptions } from "./subscriptions/index.js";
import { readSupergraph, SUBGRAPH_NAMES, type SubgraphName } from "./supergraph.js";

export interface GatewayContext {
  /** null only for anonymous introspection (Sandbox loading the schema), see requireAuthentication. */
  principal: Principal | null;
}

export interface GatewayOptions {
  port: number;
  /** Where each subgraph's /graphql endpoint is; defaults to the configured URLs. */
  subgraphUrls?: Partial<Record<SubgraphName, string>>;
  /** Subgraphs running in this process: called in process instead of over HTTP. */
  localSubgraphs?: Partial<Record<SubgraphName, LocalSubgraph>>;
}

export async function startGateway(
  runtime: ProcessRuntime,
  options: GatewayOptions,
): Promise<RunningService> {
  const { config } = runtime;
  const logger = createLogger(config, "gateway");
  const metrics = new ServiceMetrics("gateway");
  const urls: Record<SubgraphName, string> = { ...config.subgraphUrls, ...options.subgraphUrls };
  const sign = createPrincipalSigner(config.auth.internalSecret);
  const subgraphFetcher = createSubgraphFetcher();
  const verifyToken = createTokenVerifier(config.auth);
  const rateLimited = new Counter({
    name: "mnemo_rate_limited_total",
    help: "Operations and connections refused with RATE_LIMITED (over HTTP or WebSocket)",
    registers: [metrics.registry],
  });
  const rateLimiter = createRateLimiter(runtime.redis, config.protection.rateLimitPerMinute, () =>
    rateLimited.inc(),
  );
  const armor = createArmor(config);
  const selfCalls = createSelfCallMark();

  /**
   * The caller of an HTTP request (/graphql and /mcp alike), after spending one operation of its
   * rate limit. Counted before any parsing or planning, so refused floods cost as little as
   * possible; the MCP endpoint's own calls to /graphql were counted as the MCP request they answer.
   */
  const authenticate = async (req: Request) => {
    const token = bearerToken(req.header("authorization"));
    const principal = token ? await verifyToken(token) : null;
    if (!selfCalls.isMarked(req.header(SELF_CALL_HEADER))) {
      await rateLimiter?.consume(principal ? `sub:${principal.sub}` : `ip:${req.ip}`);
    }
    return { token, principal };
  };

  const supergraphSdl = readSupergraph();
  // One data source per subgraph, shared by Apollo Gateway and the subscription executor.
  const dataSources = createDataSources(urls, sign, subgraphFetcher.fetcher, options.localSubgraphs);

  const passedThrough = new Counter({
    name: "mnemo_gateway_pass_through_total",
    help: "Operations sent straight to the one subgraph that answers them, without a query plan walk",
    registers: [metrics.registry],
  });
  const passThrough = new PassThrough(dataSources, () => passedThrough.inc());
  const apolloGateway = new ApolloGateway({
    supergraphSdl,
    logger: logger.child({ component: "apollo-gateway" }),
    experimental_didResolveQueryPlan: passThrough.learn,
    buildService: ({ name }) => {
      const dataSource = dataSources[name as SubgraphName];
      if (!dataSource) {
        throw new Error(`the supergraph names subgraph "${name}", which this gateway has no URL for`);
      }
      return dataSource;
    },
  });
  // Apollo Gateway, with single-subgraph operations sent straight through (pass-through.ts).
  const gateway: GatewayInterface = {
    async load(options) {
      const loaded = await apolloGateway.load(options);
      return { ...loaded, executor: passThrough.wrap(loaded.executor) };
    },
    onSchemaLoadOrUpdate(callback) {
      return apolloGateway.onSchemaLoadOrUpdate((schema) => {
        passThrough.reset();
        callback(schema);
      });
    },
    stop: () => apolloGateway.stop(),
  };
  // graphql-ws on the same /graphql path, with the same token check, limits and rate limit.
  const attachWebSocket = createSubscriptions({
    config,
    supergraphSdl,
    urls,
    dataSources,
    sign,
    verifyToken,
    validationRules: armor.validationRules,
    parseOptions: armor.parseOptions,
    rateLimiter,
    redis: runtime.redis,
    metrics,
    logger: logger.child({ component: "subscriptions" }),
  });

  const readiness: ReadinessChecks = { ...runtime.readiness() };
  for (const name of SUBGRAPH_NAMES) {
    const healthUrl = new URL("/health", urls[name]).toString();
    readiness[`subgraph:${name}`] = async () => {
      const response = await fetch(healthUrl, { signal: AbortSignal.timeout(1500) });
      if (!response.ok) throw new Error(`${healthUrl} answered ${response.status}`);
    };
  }

  return startService<GatewayContext>({
    name: "gateway",
    config,
    logger,
    metrics,
    gateway,
    port: options.port,
    host: config.host,
    landingPage: config.introspection,
    cors: true,
    readiness,
    plugins: [
      requireAuthentication(config.introspection),
      operationMustResolve,
      subscriptionsNeedWebSocket,
      ...(armor.plugins as ApolloServerPlugin<GatewayContext>[]),
    ],
    validationRules: armor.validationRules,
    parseOptions: armor.parseOptions,
    tls: config.tls,
    attachWebSocket,
    trustProxyHops: config.protection.trustProxyHops,
    onClose: () => subgraphFetcher.close(),
    routes: [
      createMcpEndpoint({
        async authenticate(req) {
          const { token, principal } = await authenticate(req);
          return token && principal ? { token, principal } : null;
        },
        selfCallHeaders: selfCalls.headers,
        tls: config.tls !== null,
        requestBodyBytes: config.limits.requestBodyBytes,
        maxSessionsPerPrincipal: config.protection.maxConnectionsPerPrincipal,
        sessionIdleMs: config.mcp.sessionIdleMs,
        logger: logger.child({ component: "mcp" }),
      }),
      ...(config.introspection ? [createGraphiqlRoutes()] : []),
    ],
    async context(req) {
      const { principal } = await authenticate(req);
      return { principal };
    },
  });
}

/**
 * Every operation needs a valid token, except pure introspection while introspection is on:
 * Apollo Sandbox loads the schema before the user has pasted a token.
 */
function requireAuthentication(allowAnonymousIntrospection: boolean): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document, operation }) {
          if (contextValue.principal) return;
          if (allowAnonymousIntrospection && operation && isIntrospectionOnly(operation, document)) return;
          throw unauthenticated("Authentication required: send `Authorization: Bearer <JWT>`");
        },
      };
    },
  };
}

/**
 * An operationName the document does not define: a client error, said as such. (Apollo Gateway
 * would throw it from its executor, which reaches the client as INTERNAL_SERVER_ERROR.)
 */
const operationMustResolve: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, request }) {
        if (operation) return;
        throw new GraphQLError(
          request.operationName
            ? `Unknown operation named "${request.operationName}": the document does not define it`
            : "The document has several operations: send operationName to say which one to run",
          {
            extensions: {
              code: "OPERATION_RESOLUTION_FAILURE",
              http: { status: 400, headers: new HeaderMap() },
            },
          },
        );
      },
    };
  },
};

/** Over HTTP a subscription cannot stream; say where it works instead of failing inside the gateway. */
const subscriptionsNeedWebSocket: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== "subscription") return;
        throw new GraphQLError(
          "Subscriptions are served over WebSocket (graphql-transport-ws protocol) on this same /graphql path",
          { extensions: { code: "BAD_REQUEST", http: { status: 400, headers: new HeaderMap() } } },
        );
      },
    };
  },
};

export function isIntrospectionOnly(operation: OperationDefinitionNode, document: DocumentNode): boolean {
  if (operation.operation !== "query") return false;
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === "FragmentDefinition" ? [[d.name.value, d.selectionSet]] : [],
    ),
  );
  const seen = new Set<string>();
  const onlyMeta = (selectionSet: SelectionSetNode): boolean =>
    selectionSet.selections.every((selection) => {
      if (selection.kind === "Field") return selection.name.value.startsWith("__");
      if (selection.kind === "InlineFragment") return onlyMeta(selection.selectionSet);
      const name = selection.name.value;
      if (seen.has(name)) return true;
      seen.add(name);
      const fragment = fragments.get(name);
      return fragment ? onlyMeta(fragment) : false;
    });
  return onlyMeta(operation.selectionSet);
}
