/**
 * The error vocabulary of the API. Every error a client can see carries one of these codes in
 * `extensions.code`; anything else is masked as INTERNAL_SERVER_ERROR in production.
 */
import { HeaderMap } from "@apollo/server";
import { GraphQLError, type GraphQLFormattedError } from "graphql";

export const ErrorCode = {
  BAD_USER_INPUT: "BAD_USER_INPUT",
  NOT_FOUND: "NOT_FOUND",
  VERSION_CONFLICT: "VERSION_CONFLICT",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  RATE_LIMITED: "RATE_LIMITED",
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error whose message is meant for the client. `httpStatus` is only for errors that refuse
 * a whole request (authentication, rate limits): a resolver error must keep HTTP 200, or the
 * gateway would see a failed subgraph call instead of a GraphQL error it can pass on.
 */
export class MnemoError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options: { httpStatus?: number; headers?: Record<string, string> } = {},
  ) {
    const status = options.httpStatus;
    const http = status
      ? { status, headers: new HeaderMap(Object.entries(options.headers ?? {})) }
      : undefined;
    super(message, { extensions: { code, ...details, ...(http ? { http } : {}) } });
    this.name = "MnemoError";
  }
}

export const badUserInput = (message: string, details?: Record<string, unknown>) =>
  new MnemoError(ErrorCode.BAD_USER_INPUT, message, details);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new MnemoError(ErrorCode.NOT_FOUND, message, details);
export const unauthenticated = (message: string) =>
  new MnemoError(ErrorCode.UNAUTHENTICATED, message, {}, { httpStatus: 401 });
export const forbidden = (message: string) => new MnemoError(ErrorCode.FORBIDDEN, message);
export const payloadTooLarge = (message: string, details?: Record<string, unknown>) =>
  new MnemoError(ErrorCode.PAYLOAD_TOO_LARGE, message, details);
export const versionConflict = (message: string, currentVersion: number | null) =>
  new MnemoError(ErrorCode.VERSION_CONFLICT, message, { currentVersion });
export const unavailable = (message: string) => new MnemoError(ErrorCode.UNAVAILABLE, message);
/** Refuses a whole request: HTTP 429 with Retry-After. */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new MnemoError(
    ErrorCode.RATE_LIMITED,
    message,
    { retryAfterSeconds },
    { httpStatus: 429, headers: { "retry-after": String(retryAfterSeconds) } },
  );

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode));
/** Codes produced by graphql-js / Apollo itself for malformed requests; safe to show. */
const REQUEST_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

/**
 * Apollo `formatError`: keeps client-facing errors as they are and, in production, replaces
 * anything unexpected (a bug, a driver message with SQL or a hostname) by a generic message.
 */
export function createErrorFormatter(production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    let code = formatted.extensions?.code;
    // Apollo refuses some malformed requests (e.g. a persisted-query hash that does not match)
    // with an HTTP 4xx error that has no code; those are the client's errors, not ours.
    const status = (error as { extensions?: { http?: { status?: number } } } | null)?.extensions?.http
      ?.status;
    if (
      code === ErrorCode.INTERNAL_SERVER_ERROR &&
      typeof status === "number" &&
      status >= 400 &&
      status < 500
    ) {
      code = "BAD_REQUEST";
      formatted = { ...formatted, extensions: { ...formatted.extensions, code } };
    }
    const known = typeof code === "string" && (PUBLIC_CODES.has(code) || REQUEST_CODES.has(code));
    if (known && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      // A client error's stack trace says nothing the message does not; keep responses lean.
      const { stacktrace: _stack, exception: _exception, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    if (!production) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return {
      message: "Internal server error",
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/**
 * The same error with `extensions.code` set: for graphql-js's own errors (parse, validation,
 * variables), which carry none. `hideSuggestions` drops "Did you mean …?" (schema hints).
 */
export function withErrorCode(error: GraphQLError, code: string, hideSuggestions = false): GraphQLError {
  const message = hideSuggestions ? error.message.replace(/ *Did you mean .+\?$/, "") : error.message;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}
