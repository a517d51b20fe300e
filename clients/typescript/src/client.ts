/**
 * createMnemoClient: one object for state, memory and subscriptions, sharing the URL and token.
 */
import { CheckpointApi } from "./checkpoints.js";
import { MemoryApi } from "./memory.js";
import { StateApi } from "./state.js";
import { type SocketOptions, SubscriptionApi } from "./subscriptions/index.js";
import { HttpTransport, type Operation, type TokenSource } from "./transport.js";

export interface MnemoClientOptions {
  /** The gateway's GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  /** A bearer token (JWT), or a function returning the current one, read for every request and (re)connection. */
  token?: TokenSource;
  /** The WebSocket endpoint; default: `url` with ws:// or wss://. */
  wsUrl?: string;
  /** Extra HTTP headers for every request. */
  headers?: Record<string, string>;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Subscription reconnections in a row before active subscriptions fail (default 10). */
  retryAttempts?: SocketOptions["retryAttempts"];
  /** Wait before reconnection number `retries`; default capped exponential backoff with jitter. */
  retryWait?: SocketOptions["retryWait"];
  /** WebSocket class; default: the global one, else the `ws` package. */
  webSocketImpl?: unknown;
}

export interface MnemoClient {
  readonly state: StateApi;
  readonly memory: MemoryApi;
  readonly subscribe: SubscriptionApi;
  /** Thread checkpoints (what MnemoSaver stores LangGraph runs in). */
  readonly checkpoints: CheckpointApi;
  /** Runs any generated operation (or your own typed document) over HTTP. */
  request<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables,
  ): Promise<TResult>;
  /** Closes the subscription socket (HTTP needs no closing). */
  close(): Promise<void>;
}

export function createMnemoClient(options: MnemoClientOptions): MnemoClient {
  const transport = new HttpTransport({
    url: options.url,
    token: options.token,
    headers: options.headers,
    fetch: options.fetch,
  });
  const state = new StateApi(transport);
  const subscribe = new SubscriptionApi(
    {
      url: options.wsUrl ?? webSocketUrl(options.url),
      token: options.token,
      retryAttempts: options.retryAttempts,
      retryWait: options.retryWait,
      webSocketImpl: options.webSocketImpl,
    },
    state,
  );
  return {
    state,
    memory: new MemoryApi(transport),
    subscribe,
    checkpoints: new CheckpointApi(transport),
    request: (operation, variables) => transport.execute(operation, variables),
    close: () => subscribe.close(),
  };
}

/** http://host/graphql -> ws://host/graphql (https -> wss). */
export function webSocketUrl(httpUrl: string): string {
  const url = new URL(httpUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url.toString();
}
