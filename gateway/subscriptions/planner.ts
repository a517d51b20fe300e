/**
 * From a client's GraphQL text to a query plan: parse, validate against the API schema, find the
 * operation, and ask Apollo's query planner. Built from the same supergraph SDL as the Apollo
 * Gateway, so plans match the ones it makes for HTTP. Preparations are cached by text.
 */

import { operationFromDocument, type Schema, Supergraph } from "@apollo/federation-internals";
import { buildOperationContext } from "@apollo/gateway";
import { type QueryPlan, QueryPlanner, type SubscriptionNode } from "@apollo/query-planner";
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  type OperationTypeNode,
  type ParseOptions,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from "graphql";
import { LRUCache } from "lru-cache";
import { ErrorCode, withErrorCode } from "../../core/errors.js";

export type OperationContext = ReturnType<typeof buildOperationContext>;

/** A client operation, checked and planned, ready to execute any number of times. */
export interface PreparedOperation {
  /** Identifies the operation text (the cache key); equal keys mean equal plans. */
  readonly key: string;
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /** The operation's own name in the document (null if anonymous), for logs and metrics. */
  readonly name: string | null;
  readonly kind: OperationTypeNode;
  readonly operationContext: OperationContext;
  readonly plan: QueryPlan;
}

/** A subscription's plan: `primary` runs as an upstream subscription, `rest` once per event. */
export function subscriptionNode(prepared: PreparedOperation): SubscriptionNode {
  const node = prepared.plan.node;
  if (node?.kind !== "Subscription") {
    throw new Error(`expected a subscription plan for a ${prepared.kind} operation, got ${node?.kind}`);
  }
  return node;
}

/** Distinct operations kept planned; the working set of a deployment is usually small. */
const PLAN_CACHE_SIZE = 1000;

export class OperationPlanner {
  readonly apiSchema: Schema;
  /** The API schema as graphql-js sees it: what clients validate against. */
  readonly schema: GraphQLSchema;
  /** The supergraph (with join directives), which the executor needs for entity representations. */
  readonly supergraphSchema: GraphQLSchema;
  private readonly queryPlanner: QueryPlanner;
  private readonly cache = new LRUCache<string, PreparedOperation>({ max: PLAN_CACHE_SIZE });

  private readonly validationRules: readonly ValidationRule[];

  constructor(
    supergraphSdl: string,
    private readonly limits: {
      /** Rules beyond graphql-js's own: the gateway's depth, alias and cost limits. */
      validationRules?: readonly ValidationRule[];
      /** Parser limits (token count), as on HTTP. */
      parseOptions?: ParseOptions;
      /** Remove "Did you mean …?" from validation errors, which would reveal the schema. */
      hideSuggestions?: boolean;
    } = {},
  ) {
    this.validationRules = [...specifiedRules, ...(limits.validationRules ?? [])];
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.schema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.queryPlanner = new QueryPlanner(supergraph);
  }

  /** Returns the prepared operation, or the errors to send to the client instead. */
  prepare(query: string, operationName?: string | null): PreparedOperation | GraphQLError[] {
    const key = `${operationName ?? ""}\u0000${query}`;
    const cached = this.cache.get(key);
    if (cached) return cached;

    let document: DocumentNode;
    try {
      document = parse(query, this.limits.parseOptions);
    } catch (error) {
      return [withErrorCode(error as GraphQLError, "GRAPHQL_PARSE_FAILED")];
    }
    const validationErrors = validate(this.schema, document, this.validationRules);
    if (validationErrors.length > 0) {
      return validationErrors.map((error) =>
        withErrorCode(error, "GRAPHQL_VALIDATION_FAILED", this.limits.hideSuggestions),
      );
    }
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) {
      const message = operationName
        ? `Unknown operation named "${operationName}"`
        : "The document has several operations: send `operationName` to choose one";
      return [new GraphQLError(message, { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
    }

    let operationContext: OperationContext;
    let plan: QueryPlan;
    try {
      operationContext = buildOperationContext({
        schema: this.schema,
        operationDocument: document,
        operationName: operationName ?? undefined,
      });
      plan = this.queryPlanner.buildQueryPlan(
        operationFromDocument(this.apiSchema, document, { operationName: operationName ?? undefined }),
      );
    } catch (error) {
      // A valid operation the planner cannot plan is a gateway bug, not the client's fault.
      const message = error instanceof Error ? error.message : String(error);
      return [
        new GraphQLError(`The operation could not be planned: ${message}`, {
          extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
        }),
      ];
    }
    const prepared: PreparedOperation = {
      key,
      document,
      operationName: operationName ?? undefined,
      name: operation.name?.value ?? null,
      kind: operation.operation,
      operationContext,
      plan,
    };
    this.cache.set(key, prepared);
    return prepared;
  }

  /** Checks the variables against the operation's definitions (types, required, defaults). */
  variableErrors(prepared: PreparedOperation, variables: Record<string, unknown>): GraphQLError[] {
    const definitions = prepared.operationContext.operation.variableDefinitions ?? [];
    const { errors } = getVariableValues(this.schema, definitions, variables);
    return (errors ?? []).map((error) => withErrorCode(error, ErrorCode.BAD_USER_INPUT));
  }
}
