/**
 * Upstream subscriptions: the gateway's graphql-ws subscriptions to the subgraphs.
 *
 * Identical upstream subscriptions are shared: same subgraph, same operation and variables, same
 * principal scope. N listeners cost one upstream subscription, which the last one out closes
 * (and with it the subgraph's Redis channel subscription). The scope is the whole principal
 * (sub, role, agents) because a subgraph may answer differently for any of them; the subgraph
 * checks authorisation when the upstream subscription starts.
 *
 * Upstream subscriptions to one subgraph for one principal scope are multiplexed on one
 * WebSocket (graphql-ws), opened on first use and closed when its last subscription ends. A lost
 * socket (subgraph restart, network) is re-opened with exponential backoff and every active
 * subscription re-sent; listeners notice nothing unless it cannot be re-established within the
 * configured attempts, when they get one UNAVAILABLE error. Events published while the socket
 * was down are not replayed: Redis pub/sub keeps no history.
 */

import type { GraphQLFormattedError } from "graphql";
import { type Client, CloseCode, createClient } from "graphql-ws";
import WebSocket from "ws";
import { PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import type { Principal } from "../../core/auth/principal.js";
import type { Logger } from "../../core/logger.js";
import { unavailableError } from "./errors.js";
import type { UpstreamEvent } from "./executor.js";
import type { SubscriptionMetrics } from "./metrics.js";

export interface UpstreamRequest {
  subgraph: string;
  /** The primary fetch's operation text and name, as planned. */
  operation: string;
  operationName?: string;
  /** Only the variables the operation uses (the fetch node's `variableUsages`). */
  variables: Record<string, unknown>;
  principal: Principal;
}

export interface UpstreamListener {
  /** An event: a `next` payload with `data` (which may be null, with field errors). */
  next(event: UpstreamEvent): void;
  /** The subscription could not start (the subgraph refused it) or was lost for good. It is over. */
  error(errors: readonly GraphQLFormattedError[]): void;
  /** The subgraph ended the subscription. */
  complete(): void;
}

export interface UpstreamPoolOptions {
  /** Each subgraph's GraphQL endpoint (http or https); the WebSocket URL is derived from it. */
  urls: Record<string, string>;
  sign: (principal: Principal) => Promise<string>;
  /** Reconnection attempts before listeners get UNAVAILABLE; 0 fails at the first loss. */
  retryAttempts: number;
  metrics: SubscriptionMetrics;
  logger: Logger;
}

/** Upper bound of the wait between reconnection attempts. */
export const MAX_RETRY_DELAY_MS = 8_000;
const FIRST_RETRY_DELAY_MS = 250;
/** A ping is sent after this much silence; no pong within PONG_TIMEOUT_MS means a dead socket. */
const KEEP_ALIVE_MS = 10_000;
const PONG_TIMEOUT_MS = 5_000;
const CONNECTION_ACK_TIMEOUT_MS = 10_000;

/** Exponential backoff with jitter, so replicas do not reconnect in lockstep after a restart. */
export function retryDelay(retries: number): number {
  const ceiling = Math.min(FIRST_RETRY_DELAY_MS * 2 ** retries, MAX_RETRY_DELAY_MS);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Everything about a principal that a subgraph may base its answer on. */
export function principalScope(principal: Principal): string {
  return JSON.stringify([principal.sub, principal.role, [...principal.agents].sort()]);
}

interface Upstream {
  readonly listeners: Set<UpstreamListener>;
  ended: boolean;
  end(notify: (listener: UpstreamListener) => void): void;
}

interface SubgraphConnection {
  readonly client: Client;
  users: number;
}

export class UpstreamPool {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly connections = new Map<string, SubgraphConnection>();

  constructor(private readonly options: UpstreamPoolOptions) {}

  /** Upstream subscriptions open now. */
  get size(): number {
    return this.upstreams.size;
  }

  /** Listens to the shared upstream subscription for `request`; returns the function that stops. */
  subscribe(request: UpstreamRequest, listener: UpstreamListener): () => void {
    const key = JSON.stringify([
      request.subgraph,
      principalScope(request.principal),
      request.operationName ?? "",
      request.operation,
      request.variables,
    ]);
    const upstream = this.upstreams.get(key) ?? this.open(key, request);
    upstream.listeners.add(listener);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      upstream.listeners.delete(listener);
      if (upstream.listeners.size === 0) upstream.end(() => {});
    };
  }

  /** Closes every upstream subscription and socket (at shutdown, after the clients are gone). */
  async dispose(): Promise<void> {
    for (const upstream of [...this.upstreams.values()]) upstream.end(() => {});
    await Promise.all([...this.connections.values()].map((connection) => connection.client.dispose()));
    this.connections.clear();
  }

  private open(key: string, request: UpstreamRequest): Upstream {
    const { metrics, logger } = this.options;
    const labels = { subgraph: request.subgraph };
    const connectionKey = JSON.stringify([request.subgraph, principalScope(request.principal)]);
    const connection = this.connection(connectionKey, request);
    let unsubscribe = () => {};
    const upstream: Upstream = {
      listeners: new Set(),
      ended: false,
      end: (notify) => {
        if (upstream.ended) return;
        upstream.ended = true;
        this.upstreams.delete(key);
        metrics.upstreamSubscriptions.dec(labels);
        unsubscribe();
        this.releaseConnection(connectionKey, connection);
        for (const listener of [...upstream.listeners]) notify(listener);
        upstream.listeners.clear();
      },
    };
    this.upstreams.set(key, upstream);
    metrics.upstreamSubscriptions.inc(labels);

    unsubscribe = connection.client.subscribe<Record<string, unknown>>(
      { query: request.operation, operationName: request.operationName, variables: request.variables },
      {
        next: (payload) => {
          if (upstream.ended) return;
          // A result without `data` is a request error: the subgraph refused to start the
          // subscription (e.g. FORBIDDEN from its resolver). graphql-ws sends it as `next`
          // followed by `complete`; for the listeners it is the end, with these errors.
          if (payload.data === undefined) {
            const errors = payload.errors?.length
              ? payload.errors
              : [unavailableError("Subscription refused")];
            upstream.end((listener) => listener.error(errors));
            return;
          }
          for (const listener of upstream.listeners) listener.next(payload as UpstreamEvent);
        },
        error: (error: unknown) => {
          if (upstream.ended) return;
          if (isGraphQLErrorList(error)) {
            upstream.end((listener) => listener.error(error));
            return;
          }
          metrics.upstreamFailures.inc(labels);
          logger.warn(
            { subgraph: request.subgraph, err: describeConnectionError(error) },
            "upstream subscription lost and not re-established",
          );
          const errors = [
            unavailableError(
              `The ${request.subgraph} subgraph is unavailable: its subscription connection was lost ` +
                `and could not be re-established (${this.options.retryAttempts} attempts)`,
            ),
          ];
          upstream.end((listener) => listener.error(errors));
        },
        complete: () => upstream.end((listener) => listener.complete()),
      },
    );
    return upstream;
  }

  private connection(key: string, request: UpstreamRequest): SubgraphConnection {
    const existing = this.connections.get(key);
    if (existing) {
      existing.users++;
      return existing;
    }
    const { metrics, sign, retryAttempts } = this.options;
    const labels = { subgraph: request.subgraph };
    const principal = request.principal;
    const url = toWebSocketUrl(this.urlOf(request.subgraph));
    let socketOpen = false;
    let pongTimeout: NodeJS.Timeout | undefined;
    const client: Client = createClient({
      url,
      webSocketImpl: WebSocket,
      // Signed afresh on every (re)connection: the signature is short-lived.
      connectionParams: async () => ({ [PRINCIPAL_HEADER]: await sign(principal) }),
      lazy: true,
      lazyCloseTimeout: 0,
      keepAlive: KEEP_ALIVE_MS,
      connectionAckWaitTimeout: CONNECTION_ACK_TIMEOUT_MS,
      retryAttempts,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelay(retries)).unref()),
      // Every loss is worth retrying (the default skips errors that are not close events, such as
      // a refused connection while the subgraph restarts), except a refused signature: that is a
      // configuration error (INTERNAL_SECRET) which retrying cannot fix.
      shouldRetry: (error) => !(isCloseEvent(error) && error.code === CloseCode.Forbidden),
      on: {
        connecting: (isRetry) => {
          if (isRetry) metrics.upstreamRetries.inc(labels);
        },
        connected: () => {
          socketOpen = true;
          metrics.upstreamSockets.inc(labels);
        },
        closed: () => {
          clearTimeout(pongTimeout);
          if (socketOpen) metrics.upstreamSockets.dec(labels);
          socketOpen = false;
        },
        // graphql-ws sends pings but does not notice missing pongs: a socket whose peer vanished
        // without closing it would otherwise look healthy until TCP gives up.
        ping: (received) => {
          if (received) return;
          clearTimeout(pongTimeout);
          pongTimeout = setTimeout(() => client.terminate(), PONG_TIMEOUT_MS);
        },
        pong: (received) => {
          if (received) clearTimeout(pongTimeout);
        },
      },
    });
    const connection: SubgraphConnection = { client, users: 1 };
    this.connections.set(key, connection);
    return connection;
  }

  private releaseConnection(key: string, connection: SubgraphConnection): void {
    connection.users--;
    if (connection.users > 0) return;
    if (this.connections.get(key) === connection) this.connections.delete(key);
    // The lazy client closes its socket when its last subscription ends; dispose() also stops a
    // connection attempt or a retry wait in progress.
    Promise.resolve(connection.client.dispose()).catch(() => {});
  }

  private urlOf(subgraph: string): string {
    const url = this.options.urls[subgraph];
    if (!url)
      throw new Error(`the supergraph names subgraph "${subgraph}", which this gateway has no URL for`);
    return url;
  }
}

export function toWebSocketUrl(httpUrl: string): string {
  const url = new URL(httpUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

function isGraphQLErrorList(value: unknown): value is GraphQLFormattedError[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((item) => typeof item === "object" && item !== null && "message" in item)
  );
}

function describeConnectionError(error: unknown): string {
  if (isCloseEvent(error)) return `closed with code ${error.code}${error.reason ? `: ${error.reason}` : ""}`;
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}
