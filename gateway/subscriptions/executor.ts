/**
 * Runs query plans with @apollo/gateway's own executor, `executeQueryPlan`: fetches, entity
 * representations, merging, error paths and the final shaping of the response (only the fields
 * the client asked for, aliases, null propagation) are Apollo's, as for HTTP.
 *
 * `executeQueryPlan` refuses a subscription plan, so an event is executed as the plan
 * `Sequence(primary, rest)` in which the primary fetch is answered by the event the upstream
 * subscription delivered (see EventReplay): `rest` and the shaping then see exactly what they
 * would for a query whose first fetch had returned that data.
 */
import { executeQueryPlan, type GraphQLDataSource, type ServiceMap } from "@apollo/gateway";
import type { PlanNode, QueryPlan } from "@apollo/query-planner";
import type { GatewayGraphQLRequestContext, GatewayGraphQLResponse } from "@apollo/server-gateway-interface";
import type { ExecutionResult, GraphQLFormattedError } from "graphql";
import type { Principal } from "../../core/auth/principal.js";
import type { Logger } from "../../core/logger.js";
import { type OperationPlanner, type PreparedOperation, subscriptionNode } from "./planner.js";

/** One `next` payload of an upstream subscription, as it came over the wire. */
export interface UpstreamEvent {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLFormattedError[];
  extensions?: Record<string, unknown>;
}

export class FederatedExecutor {
  /** The per-event plan of each subscription, derived once from its SubscriptionNode. */
  private readonly eventPlans = new WeakMap<PreparedOperation, QueryPlan>();

  constructor(
    private readonly planner: OperationPlanner,
    private readonly dataSources: ServiceMap,
    private readonly logger: Logger,
  ) {}

  /** A query or mutation. */
  execute(
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    principal: Principal,
  ): Promise<ExecutionResult> {
    return this.run(prepared.plan, this.dataSources, prepared, variables, principal);
  }

  /** One event of a subscription: `rest` runs against the other subgraphs, seeded with `event`. */
  executeEvent(
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    principal: Principal,
    event: UpstreamEvent,
  ): Promise<ExecutionResult> {
    const { primary } = subscriptionNode(prepared);
    const owner = this.dataSources[primary.serviceName];
    if (!owner) throw new Error(`no data source for subgraph "${primary.serviceName}"`);
    const serviceMap: ServiceMap = {
      ...this.dataSources,
      [primary.serviceName]: new EventReplay(primary.operation, event, owner),
    };
    return this.run(this.eventPlan(prepared), serviceMap, prepared, variables, principal);
  }

  private eventPlan(prepared: PreparedOperation): QueryPlan {
    let plan = this.eventPlans.get(prepared);
    if (!plan) {
      const { primary, rest } = subscriptionNode(prepared);
      const node: PlanNode = rest ? { kind: "Sequence", nodes: [primary, rest] } : primary;
      plan = { kind: "QueryPlan", node };
      this.eventPlans.set(prepared, plan);
    }
    return plan;
  }

  private async run(
    plan: QueryPlan,
    serviceMap: ServiceMap,
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    principal: Principal,
  ): Promise<ExecutionResult> {
    // executeQueryPlan reads only these fields of Apollo Server's request context: the
    // variables, the context handed to the data sources (which sign the principal), a logger
    // and a metrics object it may annotate.
    const requestContext = {
      request: { variables, operationName: prepared.operationName },
      context: { principal },
      logger: this.logger,
      metrics: {},
      document: prepared.document,
      operationName: prepared.operationName ?? null,
    } as unknown as GatewayGraphQLRequestContext;
    return executeQueryPlan(
      plan,
      serviceMap,
      requestContext,
      prepared.operationContext,
      this.planner.supergraphSchema,
      this.planner.apiSchema,
    );
  }
}

/**
 * The owning subgraph's data source for one event: the primary fetch (the subscription's own
 * operation, which is never sent over HTTP) is answered with the event; any other fetch to the
 * same subgraph (an entity fetch in `rest`) goes to the real data source.
 */
class EventReplay implements GraphQLDataSource {
  constructor(
    private readonly primaryOperation: string,
    private readonly event: UpstreamEvent,
    private readonly subgraph: GraphQLDataSource,
  ) {}

  process(options: Parameters<GraphQLDataSource["process"]>[0]): Promise<GatewayGraphQLResponse> {
    if (options.request.query !== this.primaryOperation) return this.subgraph.process(options);
    // The executor merges later fetches into this data, and one upstream event is shared by
    // every execution that listens to it: each gets its own copy.
    return Promise.resolve({
      data: this.event.data == null ? this.event.data : structuredClone(this.event.data),
      errors: this.event.errors as GraphQLFormattedError[] | undefined,
      extensions: this.event.extensions,
    });
  }
}
