/**
 * What goes on the wire: results and errors formatted with the same formatter as Apollo Server's
 * `formatError` on the HTTP path (codes kept, stack traces dropped, internals masked in
 * production), once per result however many clients receive it.
 */
import type { ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from "graphql";

export type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

export class WireFormat {
  constructor(private readonly formatError: ErrorFormatter) {}

  result(result: ExecutionResult): FormattedExecutionResult {
    const formatted: FormattedExecutionResult = { data: result.data ?? null };
    if (result.errors?.length) formatted.errors = result.errors.map((error) => this.error(error));
    if (result.extensions) formatted.extensions = result.extensions;
    return formatted;
  }

  error(error: GraphQLError): GraphQLFormattedError {
    return this.formatError(withoutHttp(error.toJSON()), error);
  }

  /**
   * Errors a subgraph answered a subscribe message with. Their `locations` point into the
   * subgraph's operation, not the client's, so they are dropped; the subgraph is named, as the
   * gateway does for errors of HTTP fetches.
   */
  upstreamErrors(subgraph: string, errors: readonly GraphQLFormattedError[]): GraphQLFormattedError[] {
    return errors.map((error) => {
      const { locations: _locations, ...rest } = error;
      const formatted = { ...rest, extensions: { ...error.extensions, serviceName: subgraph } };
      return this.formatError(withoutHttp(formatted), error);
    });
  }
}

/** `extensions.http` tells Apollo Server the HTTP status; like Apollo, it is not sent to clients. */
function withoutHttp(error: GraphQLFormattedError): GraphQLFormattedError {
  if (!error.extensions || !("http" in error.extensions)) return error;
  const { http: _http, ...extensions } = error.extensions;
  return { ...error, extensions };
}
