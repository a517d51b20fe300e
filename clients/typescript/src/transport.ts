/**
 * GraphQL over HTTP: POSTs a generated operation with its variables and the bearer token, and
 * turns the response into data or a MnemoError. Nothing here knows an operation by name.
 */
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { errorFromGraphQL, type GraphQLErrorPayload, MnemoError, UnavailableError } from "./errors.js";

/** A bearer token, or a function that returns the current one (called for every request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface HttpTransportOptions {
  /** The gateway's GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  token?: TokenSource;
  /** Sent with every request (after the authorization header, so they may replace it). */
  headers?: Record<string, string>;
  /** Defaults to the global fetch (Node 20 has one). */
  fetch?: typeof fetch;
}

/** A generated document: the operation text, typed with its result and variables. */
export type Operation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & {
  toString(): string;
};

export async function resolveToken(token: TokenSource | undefined): Promise<string | undefined> {
  return typeof token === "function" ? await token() : token;
}

export class HttpTransport {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpTransportOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  get url(): string {
    return this.options.url;
  }

  async execute<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables,
  ): Promise<TResult> {
    const token = await resolveToken(this.options.token);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...this.options.headers,
    };
    let response: Response;
    try {
      response = await this.fetch(this.options.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: operation.toString(), variables }),
      });
    } catch (cause) {
      throw new UnavailableError(
        "UNAVAILABLE",
        `Could not reach Mnemo at ${this.options.url}: ${describe(cause)}`,
        {
          cause,
        },
      );
    }
    let body: { data?: TResult | null; errors?: GraphQLErrorPayload[] };
    try {
      body = (await response.json()) as typeof body;
    } catch (cause) {
      throw new UnavailableError(
        "UNAVAILABLE",
        `Mnemo at ${this.options.url} answered HTTP ${response.status} without a GraphQL response`,
        { status: response.status, cause },
      );
    }
    if (body.errors?.length) throw errorFromGraphQL(body.errors, { status: response.status });
    if (body.data === undefined || body.data === null) {
      throw new MnemoError("INTERNAL_SERVER_ERROR", "The server returned neither data nor errors", {
        status: response.status,
      });
    }
    return body.data;
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
