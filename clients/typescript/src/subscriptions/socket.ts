/**
 * The one graphql-ws connection a client's subscriptions share: created on the first
 * subscription, closed when the last ends (graphql-ws `lazy`), reconnected with capped
 * exponential backoff after it drops, and every active subscription re-subscribed on the new
 * socket (graphql-ws does that itself). The token is read again for every (re)connection, so a
 * token function can hand out a fresh one.
 */
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import {
  errorFromGraphQL,
  type GraphQLErrorPayload,
  MnemoError,
  UnauthenticatedError,
  UnavailableError,
} from "../errors.js";
import { resolveToken, type TokenSource } from "../transport.js";

export interface SocketOptions {
  /** ws:// or wss:// URL of the gateway's /graphql. */
  url: string;
  token?: TokenSource;
  /**
   * Reconnections in a row before active subscriptions fail (graphql-ws `retryAttempts`;
   * default 10). The count restarts after every successful connection.
   */
  retryAttempts?: number;
  /** Waits before reconnection `retries` (0, 1, ...); default 0.5 s * 2^retries, at most 15 s, plus up to 50 % jitter. */
  retryWait?: (retries: number) => Promise<void>;
  /** A WebSocket class; default: the global one (browsers, Node 22+), else the `ws` package (Node 20). */
  webSocketImpl?: unknown;
}

export const DEFAULT_RETRY_ATTEMPTS = 10;

/** Mnemo's close codes (gateway/subscriptions): 4403 no or bad token, 4413 too slow a consumer. */
export const CloseCode = { Unauthenticated: 4403, SlowConsumer: 4413 } as const;

const cappedBackoff = (retries: number) => {
  const base = Math.min(15_000, 500 * 2 ** retries);
  return new Promise<void>((resolve) => setTimeout(resolve, base + Math.random() * base * 0.5));
};

export function createSocket(options: SocketOptions, onReconnected: () => void): Client {
  return createClient({
    url: options.url,
    webSocketImpl: options.webSocketImpl ?? globalThis.WebSocket ?? WebSocket,
    connectionParams: async () => {
      const token = await resolveToken(options.token);
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    lazy: true,
    retryAttempts: options.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
    retryWait: options.retryWait ?? cappedBackoff,
    // graphql-ws's default retries close events only, but a dropped connection or a gateway that
    // is down reaches it from the `ws` package as an error event first. Both are the network's
    // fault and worth retrying; the fatal cases (bad protocol, 4400-4499 client errors other than
    // 4403) are thrown by graphql-ws before it asks.
    shouldRetry: () => true,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) onReconnected();
      },
    },
  });
}

/** What graphql-ws hands a sink's `error`: GraphQL errors, a CloseEvent, or an Error. */
export function subscriptionError(error: unknown): MnemoError {
  if (Array.isArray(error)) return errorFromGraphQL(error as GraphQLErrorPayload[]);
  if (isCloseEvent(error)) {
    const reason = error.reason ? `: ${error.reason}` : "";
    const message = `The subscription socket closed with code ${error.code}${reason}`;
    if (error.code === CloseCode.Unauthenticated) {
      return new UnauthenticatedError("UNAUTHENTICATED", message, { cause: error });
    }
    return new UnavailableError("UNAVAILABLE", message, { cause: error });
  }
  if (error instanceof MnemoError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new UnavailableError("UNAVAILABLE", `The subscription socket failed: ${message}`, { cause: error });
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && typeof value.code === "number";
}
