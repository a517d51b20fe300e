/**
 * Live updates for subscribed state resources: one graphql-ws connection per MCP session to the
 * gateway's public WebSocket endpoint, with the caller's token, carrying one `agentStateChanged`
 * subscription per subscribed agent. So the same pub/sub that drives GraphQL subscriptions drives
 * MCP `notifications/resources/updated`, and the gateway enforces the same auth, isolation and
 * limits (MAX_CONNECTIONS_PER_PRINCIPAL, MAX_SUBSCRIPTIONS_PER_CONNECTION, the rate limit).
 *
 * The connection opens with the first subscription and closes shortly after the last one ends.
 * When it drops and comes back (network, gateway restart, an expired token replaced by the next
 * request's), every watched resource is reported updated: changes made while it was down were
 * not seen, and the client re-reads what it cares about.
 */
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { STATE_CHANGED } from "./operations.js";

export interface StateWatchOptions {
  /** The gateway's WebSocket endpoint, ws(s)://host:port/graphql. */
  url: string;
  /** The token to open (and reopen) the connection with: the session's latest. */
  token: () => string;
  /** Sends `notifications/resources/updated` for this resource. */
  notify: (uri: string) => Promise<void>;
  /** A subscription the gateway refused or ended with an error; it is no longer watched. */
  onFailure?: (uri: string, reason: string) => void;
  /** TLS options for a wss:// connection to the gateway itself. */
  tls?: { rejectUnauthorized: boolean };
}

/** Reconnections in a row before the watch gives up (each one after graphql-ws's backoff). */
const RETRY_ATTEMPTS = 10;
/** How long the connection stays open after its last subscription ends. */
const IDLE_CLOSE_MS = 3000;

export class StateWatch {
  private client: Client | null = null;
  /** Resource URI → ends its subscription. */
  private readonly watched = new Map<string, () => void>();
  /** The token the current connection was opened with. */
  private connectedWith: string | null = null;

  constructor(private readonly options: StateWatchOptions) {}

  /** Starts sending updates for `uri` (the state of `agentId`); watching it twice is watching it once. */
  watch(uri: string, agentId: string): void {
    if (this.watched.has(uri)) return;
    const dispose = this.connection().subscribe(
      { query: STATE_CHANGED, variables: { agentId }, operationName: "McpStateChanged" },
      {
        next: () => {
          this.options.notify(uri).catch(() => {});
        },
        error: (error) => {
          this.watched.delete(uri);
          this.options.onFailure?.(uri, describe(error));
        },
        complete: () => {
          this.watched.delete(uri);
        },
      },
    );
    this.watched.set(uri, dispose);
  }

  unwatch(uri: string): void {
    this.watched.get(uri)?.();
    this.watched.delete(uri);
  }

  get size(): number {
    return this.watched.size;
  }

  async close(): Promise<void> {
    for (const dispose of this.watched.values()) dispose();
    this.watched.clear();
    const client = this.client;
    this.client = null;
    await client?.dispose();
  }

  private connection(): Client {
    if (this.client) return this.client;
    const { tls } = this.options;
    const client = createClient({
      url: this.options.url,
      webSocketImpl: tls
        ? class extends WebSocket {
            constructor(address: string, protocols?: string | string[]) {
              super(address, protocols, tls);
            }
          }
        : WebSocket,
      lazy: true,
      lazyCloseTimeout: IDLE_CLOSE_MS,
      retryAttempts: RETRY_ATTEMPTS,
      connectionParams: () => {
        this.connectedWith = this.options.token();
        return { authorization: `Bearer ${this.connectedWith}` };
      },
      // 4403 is the gateway refusing the token (expired, say): worth another try only when the
      // session has a different token by now. Anything else (network, restart) is retried.
      shouldRetry: (event) =>
        !(isCloseEvent(event) && event.code === 4403 && this.options.token() === this.connectedWith),
    });
    client.on("connected", (_socket, _payload, wasRetry) => {
      if (!wasRetry) return;
      for (const uri of this.watched.keys()) this.options.notify(uri).catch(() => {});
    });
    this.client = client;
    return client;
  }
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

function describe(error: unknown): string {
  if (Array.isArray(error)) {
    return error
      .map((e: { message?: string; extensions?: { code?: string } }) =>
        e.extensions?.code ? `${e.extensions.code}: ${e.message}` : String(e.message),
      )
      .join("; ");
  }
  if (isCloseEvent(error))
    return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ""})`;
  return error instanceof Error ? error.message : String(error);
}
