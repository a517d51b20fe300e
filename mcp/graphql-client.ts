/**
 * The MCP server's only way to Mnemo: the public GraphQL API over HTTP, with the caller's own
 * token, exactly as any client would call it. Authorisation, isolation, limits and validation
 * therefore stay where they are (the gateway and the subgraphs); this module never sees a store.
 */
import { type Dispatcher, request } from "undici";

/** A GraphQL error as the API returned it: its `extensions.code` and message. */
export class GraphQLCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The error's other extensions, e.g. `currentVersion` of a VERSION_CONFLICT. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "GraphQLCallError";
  }
}

export interface GraphQLClientOptions {
  /** The gateway's /graphql endpoint (a function when it is known only once the gateway listens). */
  url: string | (() => string);
  /** Extra headers on every request (the gateway's own MCP endpoint marks its calls as counted). */
  headers?: Record<string, string>;
  /** undici dispatcher for the requests (the TLS settings of a call to the gateway itself). */
  dispatcher?: Dispatcher;
  /** How long one call may take before it fails with UNAVAILABLE. */
  timeoutMs?: number;
}

export type GraphQLCall = <T>(
  token: string,
  query: string,
  variables?: Record<string, unknown>,
) => Promise<T>;

const DEFAULT_TIMEOUT_MS = 30_000;

interface GraphQLBody {
  data?: unknown;
  errors?: { message?: unknown; extensions?: Record<string, unknown> }[];
}

/**
 * Returns a function that runs one operation and resolves with its `data`, or rejects with a
 * GraphQLCallError carrying the first error's code (every failure here is a whole-operation one:
 * the tools ask for a single root field).
 */
export function createGraphQLClient(options: GraphQLClientOptions): GraphQLCall {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const urlOf = typeof options.url === "string" ? () => options.url as string : options.url;
  return async <T>(token: string, query: string, variables: Record<string, unknown> = {}) => {
    const url = urlOf();
    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          authorization: `Bearer ${token}`,
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw new GraphQLCallError(
        "UNAVAILABLE",
        `Mnemo's GraphQL API at ${url} cannot be reached: ${describe(error)}`,
      );
    }
    let body: GraphQLBody;
    try {
      body = JSON.parse(text) as GraphQLBody;
    } catch {
      throw new GraphQLCallError(
        status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST",
        `Mnemo's GraphQL API answered HTTP ${status} without a GraphQL response`,
      );
    }
    const first = body.errors?.[0];
    if (first) {
      const { code, stacktrace: _stacktrace, ...details } = first.extensions ?? {};
      throw new GraphQLCallError(
        typeof code === "string" ? code : "INTERNAL_SERVER_ERROR",
        typeof first.message === "string" ? first.message : "The operation failed",
        details,
      );
    }
    return body.data as T;
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}
