/**
 * Operations that one subgraph answers as asked go straight to it.
 *
 * Apollo Gateway runs every operation through its query plan: it sends each fetch, then walks
 * the result against the supergraph to build the response. When the whole plan is one fetch
 * whose operation is the client's own operation, that walk reproduces the subgraph's answer,
 * and it is about a fifth of what a one-process read costs (bench:gateway). So the first time an
 * operation is planned, this module looks at its plan; when it is such a fetch, later requests
 * for the same document send that fetch through the same data source (the same signed
 * principal, in process or over HTTP) and return the subgraph's answer as the gateway would.
 *
 * "The client's own operation" is checked strictly, once per document: the fetch prints the
 * same as the client's operation (names aside), so the subgraph resolves exactly the fields
 * the client selected, with the same arguments, aliases and directives; and no plan feature
 * that changes data is present (entity fetches, rewrites, @defer). Everything else (several
 * subgraphs, fragments the planner rewrites, `__typename` at the root, introspection) keeps
 * Apollo Gateway's executor. Variables are validated against the supergraph as the gateway
 * does, and subgraph errors are returned as its executor returns them (with `serviceName`).
 */
import type { Experimental_DidResolveQueryPlanCallback, GraphQLDataSource } from "@apollo/gateway";
import type { GatewayExecutor, GatewayGraphQLRequestContext } from "@apollo/server-gateway-interface";
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
  parse,
  print,
} from "graphql";
import { getVariableValues } from "graphql/execution/values.js";
import { LRUCache } from "lru-cache";

type PlanInfo = Parameters<Experimental_DidResolveQueryPlanCallback>[0];
type FetchNode = Extract<NonNullable<PlanInfo["queryPlan"]["node"]>, { kind: "Fetch" }>;

interface Shortcut {
  serviceName: string;
  fetch: FetchNode;
}

/** Documents remembered with their verdict; about what Apollo's own query plan cache holds. */
const REMEMBERED_OPERATIONS = 1000;

export class PassThrough {
  /** false: this document keeps Apollo Gateway's executor. */
  private readonly verdicts = new LRUCache<string, Shortcut | false>({ max: REMEMBERED_OPERATIONS });

  constructor(
    private readonly dataSources: Readonly<Record<string, GraphQLDataSource>>,
    /** Called for each operation sent straight through (a metric). */
    private readonly onPassThrough: () => void = () => {},
  ) {}

  /** Apollo Gateway's `experimental_didResolveQueryPlan`: judges each document once. */
  readonly learn: Experimental_DidResolveQueryPlanCallback = ({ queryPlan, requestContext }) => {
    const key = keyOf(requestContext);
    if (this.verdicts.has(key)) return;
    const node = queryPlan.node;
    const operation = requestContext.operation;
    const verdict =
      node?.kind === "Fetch" &&
      operation &&
      this.dataSources[node.serviceName] &&
      isPlainFetch(node) &&
      sameOperation(operation, node.operationDocumentNode ?? parse(node.operation))
        ? { serviceName: node.serviceName, fetch: node }
        : false;
    this.verdicts.set(key, verdict);
  };

  /** Forgets every verdict (a new supergraph plans differently). */
  reset(): void {
    this.verdicts.clear();
  }

  /** Apollo Gateway's executor, short-circuited for documents judged to pass through. */
  wrap(executor: GatewayExecutor): GatewayExecutor {
    return (requestContext) => {
      const shortcut = this.verdicts.get(keyOf(requestContext));
      if (!shortcut) return executor(requestContext);
      this.onPassThrough();
      return this.send(shortcut, requestContext);
    };
  }

  private async send(
    { serviceName, fetch }: Shortcut,
    requestContext: GatewayGraphQLRequestContext,
  ): Promise<{ data?: Record<string, unknown> | null; errors?: GraphQLError[] }> {
    const provided = requestContext.request.variables ?? {};
    // The gateway's own check (ApolloGateway.validateIncomingRequest), against the supergraph.
    const definitions = requestContext.operation?.variableDefinitions ?? [];
    const checked = getVariableValues(requestContext.schema, definitions, provided);
    if (checked.errors) return { errors: [...checked.errors] };
    const variables: Record<string, unknown> = Object.create(null);
    for (const name of fetch.variableUsages ?? []) {
      if (Object.hasOwn(provided, name) && provided[name] !== undefined) variables[name] = provided[name];
    }
    const response = await this.dataSources[serviceName]!.process({
      kind: "incoming operation" as never,
      request: { query: fetch.operation, variables, operationName: fetch.operationName },
      incomingRequestContext: requestContext as never,
      context: requestContext.context,
      document: fetch.operationDocumentNode,
      pathInIncomingRequest: [],
    });
    return {
      data: response.data ?? null,
      ...(response.errors ? { errors: response.errors.map((error) => downstream(error, serviceName)) } : {}),
    };
  }
}

function keyOf(requestContext: GatewayGraphQLRequestContext): string {
  return `${requestContext.queryHash}\u0000${requestContext.request.operationName ?? ""}`;
}

function isPlainFetch(fetch: FetchNode): boolean {
  return (
    !fetch.requires &&
    !fetch.hasDefers &&
    !fetch.inputRewrites?.length &&
    !fetch.outputRewrites?.length &&
    !fetch.contextRewrites?.length &&
    (fetch.operationKind === "query" || fetch.operationKind === "mutation")
  );
}

/** The fetch selects what the client's operation selects: both print alike once unnamed. */
function sameOperation(client: OperationDefinitionNode, fetchDocument: DocumentNode): boolean {
  if (fetchDocument.definitions.length !== 1) return false;
  const fetch = fetchDocument.definitions[0];
  if (fetch?.kind !== "OperationDefinition") return false;
  return print({ ...client, name: undefined }) === print({ ...fetch, name: undefined });
}

/** A subgraph's error as Apollo Gateway's executor returns it (downstreamServiceError). */
function downstream(error: GraphQLFormattedError, serviceName: string): GraphQLError {
  return new GraphQLError(error.message || `Error while fetching subquery from service "${serviceName}"`, {
    path: error.path,
    extensions: {
      ...error.extensions,
      code: error.extensions?.code ?? "DOWNSTREAM_SERVICE_ERROR",
      serviceName,
    },
  });
}
