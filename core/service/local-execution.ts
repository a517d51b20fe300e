/**
 * A subgraph's operation for a gateway in the same process (the default `npm start`), run with
 * graphql-js on the subgraph's schema instead of through a second Apollo Server pipeline.
 *
 * What the subgraph's HTTP endpoint guarantees holds here too: the context comes from the same
 * signed principal header and the same verifier (the caller passes `context`); the document is
 * parsed and validated against the subgraph's schema (once per distinct query, cached); root
 * fields report usage through the same wrapped resolvers (core/usage/root-field-usage.ts);
 * errors get the same codes and the same formatter; each operation is logged and counted
 * (transport `in-process`). What is left out is what only HTTP needs (CSRF, body limits, the
 * landing page) and Apollo's per-request machinery, which cost about a tenth of a one-process
 * read (bench:gateway; docs/architecture.md, "In-process subgraphs").
 */
import {
  type DocumentNode,
  execute,
  type GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  validate,
} from "graphql";
import { LRUCache } from "lru-cache";
import { recordOperation } from "../apollo/observability-plugin.js";
import { ErrorCode, withErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";
import type { LocalRequest, LocalResponse } from "./http-service.js";

export interface LocalExecutionOptions<TContext> {
  schema: GraphQLSchema;
  /** Builds the context from the signed principal header, as the HTTP endpoint does. */
  context: (header: string | undefined) => Promise<TContext>;
  /** The service's error formatter (core/errors.ts), as Apollo Server calls it. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  includeStacktrace: boolean;
  logger: Logger;
  metrics: ServiceMetrics;
}

interface ParsedOperation {
  document: DocumentNode;
  name: string | null;
  type: string | null;
}

/** Distinct documents kept parsed and validated; a gateway sends one per query plan fetch. */
const DOCUMENT_CACHE_SIZE = 1000;

export function createLocalExecution<TContext>(
  options: LocalExecutionOptions<TContext>,
): (request: LocalRequest, header: string | undefined) => Promise<LocalResponse> {
  const { schema, logger, metrics } = options;
  const documents = new LRUCache<string, ParsedOperation>({ max: DOCUMENT_CACHE_SIZE });

  /** The cached operation, or the errors that refuse the document (not cached). */
  const prepare = (request: LocalRequest): ParsedOperation | readonly GraphQLError[] => {
    const key = `${request.operationName ?? ""}\n${request.query}`;
    const known = documents.get(key);
    if (known) return known;
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      return [withErrorCode(error as GraphQLError, "GRAPHQL_PARSE_FAILED")];
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) return invalid.map((error) => withErrorCode(error, "GRAPHQL_VALIDATION_FAILED"));
    const operation = getOperationAST(document, request.operationName);
    const parsed = {
      document,
      name: operation?.name?.value ?? request.operationName ?? null,
      type: operation?.operation ?? null,
    };
    documents.set(key, parsed);
    return parsed;
  };

  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((error) => {
      const extensions: Record<string, unknown> = {
        ...error.extensions,
        code: error.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR,
      };
      delete extensions.http;
      if (options.includeStacktrace) extensions.stacktrace = error.stack?.split("\n");
      return options.formatError({ ...error.toJSON(), extensions }, error);
    });

  return async (request, header) => {
    const started = performance.now();
    const contextValue = await options.context(header);
    const prepared = prepare(request);
    let response: LocalResponse;
    let name = request.operationName ?? null;
    let type: string | null = null;
    if (Array.isArray(prepared)) {
      response = { errors: format(prepared) };
    } else {
      const operation = prepared as ParsedOperation;
      ({ name, type } = operation);
      const result = await execute({
        schema,
        document: operation.document,
        variableValues: request.variables,
        operationName: request.operationName,
        contextValue,
      });
      // Without `data` the operation never ran: its variables did not fit (graphql-js reports
      // that before executing); the caller's input, as Apollo Server also says.
      const errors = result.errors?.map((error) =>
        "data" in result || error.extensions.code ? error : withErrorCode(error, ErrorCode.BAD_USER_INPUT),
      );
      response = { data: result.data, ...(errors ? { errors: format(errors) } : {}) };
    }
    recordOperation(logger, metrics, {
      name,
      type,
      durationMs: performance.now() - started,
      errors: response.errors ?? [],
      transport: "in-process",
    });
    return response;
  };
}
