/**
 * The gateway's graphql-ws endpoint (`graphql-transport-ws` on /graphql, the HTTP port).
 *
 * graphql-ws runs the protocol (connection_init and its timeout, ping/pong, ids, close codes);
 * this module plugs Mnemo in:
 * - connection_init must carry `{ authorization: "Bearer <JWT>" }`; a missing or bad token closes
 *   the socket with 4403 and a reason that says which ("Missing token: …", "Invalid token: …");
 * - each subscribe message is parsed, validated against the API schema and planned; request
 *   errors (syntax, validation, variables) answer with an `error` message and the socket stays;
 * - subscriptions stream from the SubscriptionHub, their events written to the socket directly
 *   (client-stream.ts); queries and mutations run once through the federated executor (`next`
 *   then `complete`);
 * - errors are formatted as for HTTP (codes kept, internals masked in production).
 */
import type http from "node:http";
import type https from "node:https";
import { type FormattedExecutionResult, GraphQLError } from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { decodeJwt } from "jose";
import { type WebSocket, WebSocketServer } from "ws";
import type { Principal } from "../../core/auth/principal.js";
import { bearerToken, CLOCK_TOLERANCE_SECONDS } from "../../core/auth/tokens.js";
import { ErrorCode, MnemoError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { WebSocketAttachment } from "../../core/service/http-service.js";
import { OperationRecords } from "../../core/service/ws-operations.js";
import type { RateLimiter } from "../rate-limit.js";
import { ClientConnection } from "./client-stream.js";
import type { ConnectionQuota } from "./connection-quota.js";
import { SubscriptionFailure } from "./errors.js";
import type { FederatedExecutor } from "./executor.js";
import type { WireFormat } from "./format.js";
import type { SubscriptionHub } from "./hub.js";
import type { SubscriptionMetrics } from "./metrics.js";
import type { OperationPlanner, PreparedOperation } from "./planner.js";

/** Close codes this server sends besides graphql-ws's own (4403 Forbidden, 4400, 4408, …). */
export const GatewayCloseCode = {
  /** The client let more than SUBSCRIPTION_QUEUE_LIMIT events wait; it has missed events. */
  SlowConsumer: 4413,
  /** WebSocket's own "policy violation": the principal has MAX_CONNECTIONS_PER_PRINCIPAL open. */
  TooManyConnections: 1008,
} as const;

export interface SubscriptionServerOptions {
  planner: OperationPlanner;
  executor: FederatedExecutor;
  hub: SubscriptionHub;
  verifyToken: (token: string) => Promise<Principal>;
  /** Spends one request of the principal's budget per operation, as an HTTP request would. */
  rateLimiter: RateLimiter | null;
  format: WireFormat;
  /** Events that may wait per client connection (SUBSCRIPTION_QUEUE_LIMIT). */
  queueLimit: number;
  /** Open subscriptions one connection may hold (MAX_SUBSCRIPTIONS_PER_CONNECTION). */
  maxSubscriptionsPerConnection: number;
  /** Connections per principal (`sub`), on all gateways (MAX_CONNECTIONS_PER_PRINCIPAL). */
  connectionQuota: ConnectionQuota;
  /** Largest incoming message, as for HTTP bodies (REQUEST_MAX_BYTES). */
  maxPayload: number;
  metrics: SubscriptionMetrics;
  logger: Logger;
  /** Called after the client sockets are closed, to release what the streams used upstream. */
  onDispose?: () => Promise<void>;
}

/** What the server keeps per client socket (graphql-ws `ctx.extra`, next to socket and request). */
interface SocketState extends Record<PropertyKey, unknown> {
  principal?: Principal;
  connection?: ClientConnection;
  /** Ids of the connection's open subscriptions, for MAX_SUBSCRIPTIONS_PER_CONNECTION. */
  subscriptions?: Set<string>;
  /** The log line and metrics of each operation (see core/service/ws-operations.ts). */
  operations?: OperationRecords;
}

/** The contextValue of one operation. */
interface OperationState {
  principal: Principal;
  prepared: PreparedOperation;
  connection: ClientConnection;
  /** The graphql-ws message id of the subscribe message. */
  id: string;
  operations: OperationRecords;
}

export function attachSubscriptionServer(
  httpServer: http.Server | https.Server,
  options: SubscriptionServerOptions,
): WebSocketAttachment {
  const { planner, executor, hub, metrics, logger } = options;
  const { format } = options;
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: "/graphql",
    maxPayload: options.maxPayload,
    // Stated, not left to the default: events are written to the socket as ready-made frames
    // (client-stream.ts), which needs ws to send every frame as it comes, never compressing
    // and queueing some of them.
    perMessageDeflate: false,
  });
  const slowConsumerReason = `Too slow: more than ${options.queueLimit} events were waiting to be sent; events were missed`;

  const cleanup = useServer<Record<string, unknown>, SocketState>(
    {
      onConnect: async (ctx) => {
        try {
          const { socket } = ctx.extra;
          // Key names are not case-sensitive as HTTP header names are not: GraphiQL sends the
          // headers of its editor, often spelled "Authorization".
          const params = ctx.connectionParams ?? {};
          const header = params.authorization ?? params.Authorization;
          const token = bearerToken(typeof header === "string" ? header : undefined);
          if (!token) {
            socket.close(CloseCode.Forbidden, MISSING_TOKEN_REASON);
            return false;
          }
          const principal = await options.verifyToken(token);
          if (!(await options.connectionQuota.acquire(principal.sub))) {
            socket.close(
              GatewayCloseCode.TooManyConnections,
              `This principal already has ${options.connectionQuota.limit} connections ` +
                "(MAX_CONNECTIONS_PER_PRINCIPAL, counted on every gateway)",
            );
            return false;
          }
          if (socket.readyState !== socket.OPEN) {
            // Gone while the slot was taken: nothing will close it later.
            options.connectionQuota.release(principal.sub);
            return false;
          }
          socket.once("close", () => options.connectionQuota.release(principal.sub));
          closeWhenExpired(socket, token);
          ctx.extra.principal = principal;
          ctx.extra.subscriptions = new Set();
          ctx.extra.operations = new OperationRecords(logger, metrics.service);
          ctx.extra.connection = new ClientConnection(socket, options.queueLimit, () => {
            metrics.slowConsumers.inc();
            logger.warn({ sub: principal.sub }, "closing a subscription client that cannot keep up");
            socket.close(GatewayCloseCode.SlowConsumer, slowConsumerReason);
          });
          metrics.clientConnections.inc();
          return true;
        } catch (error) {
          logger.debug({ err: error instanceof Error ? error.message : String(error) }, "WebSocket refused");
          // A client-facing refusal (malformed header, invalid or expired token, key set
          // unreachable) says why; anything else keeps graphql-ws's bare "Forbidden".
          if (error instanceof MnemoError)
            ctx.extra.socket.close(CloseCode.Forbidden, closeReason(error.message));
          return false;
        }
      },
      onDisconnect: (ctx) => {
        metrics.clientConnections.dec();
        ctx.extra.operations?.finishAll();
      },
      onComplete: (ctx, id) => {
        ctx.extra.subscriptions?.delete(id);
        ctx.extra.operations?.finish(id);
      },
      onOperation: (ctx, id) => {
        ctx.extra.operations?.executing(id);
      },
      onSubscribe: async (ctx, id, payload) => {
        const principal = ctx.extra.principal!;
        const operations = ctx.extra.operations!;
        operations.start(id, payload.operationName);
        try {
          await options.rateLimiter?.consume(`sub:${principal.sub}`);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const prepared = planner.prepare(payload.query, payload.operationName);
        if (Array.isArray(prepared)) return prepared;
        operations.describe(id, prepared.name, prepared.kind);
        const variables = payload.variables ?? {};
        const variableErrors = planner.variableErrors(prepared, variables);
        if (variableErrors.length > 0) return variableErrors;
        if (prepared.kind === "subscription") {
          const open = ctx.extra.subscriptions!;
          if (open.size >= options.maxSubscriptionsPerConnection) {
            return [
              new MnemoError(
                ErrorCode.RATE_LIMITED,
                `This connection already has ${open.size} subscriptions (MAX_SUBSCRIPTIONS_PER_CONNECTION): ` +
                  "complete one first, or open another connection",
              ),
            ];
          }
          open.add(id);
        }
        const state: OperationState = {
          principal,
          prepared,
          connection: ctx.extra.connection!,
          id,
          operations,
        };
        return {
          schema: planner.schema,
          document: prepared.document,
          operationName: prepared.operationName,
          variableValues: variables,
          contextValue: state,
        };
      },
      subscribe: (args) => {
        const { prepared, principal, connection, id } = args.contextValue as OperationState;
        return hub.subscribe(prepared, args.variableValues ?? {}, principal, connection, id) as never;
      },
      execute: async (args) => {
        const { prepared, principal, id, operations } = args.contextValue as OperationState;
        let result: FormattedExecutionResult;
        try {
          result = format.result(await executor.execute(prepared, args.variableValues ?? {}, principal));
        } catch (error) {
          logger.error({ err: String(error) }, "WebSocket operation failed");
          result = {
            data: null,
            errors: [
              { message: "The operation failed", extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } },
            ],
          };
        }
        operations.errors(id, result.errors);
        return result as never;
      },
      // Subscription events do not pass here (see client-stream.ts); query and mutation results
      // are formatted where they are produced, so they go out as they are.
      onNext: (_ctx, _id, _payload, _args, result) => result as FormattedExecutionResult as never,
      onError: (ctx, id, _payload, errors) => {
        const formatted = errors.flatMap((error) =>
          error.originalError instanceof SubscriptionFailure
            ? error.originalError.errors
            : [format.error(error)],
        );
        ctx.extra.operations?.failed(id, formatted);
        return formatted;
      },
    },
    wsServer,
  );

  return {
    async dispose() {
      await cleanup.dispose();
      await options.onDispose?.();
    },
  };
}

/** The close reason of a connection_init without a token. */
export const MISSING_TOKEN_REASON =
  'Missing token: send { "authorization": "Bearer <JWT>" } in the connection_init payload';

/** RFC 6455 allows 123 bytes of reason in a close frame; ws throws on longer ones. */
const MAX_CLOSE_REASON_BYTES = 123;

function closeReason(message: string): string {
  if (Buffer.byteLength(message) <= MAX_CLOSE_REASON_BYTES) return message;
  let reason = message;
  while (Buffer.byteLength(`${reason}…`) > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return `${reason}…`;
}

/** setTimeout's longest delay (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A connection lives as long as its token: when the token expires (with the same clock
 * tolerance as on HTTP) the socket is closed with 4403, and the client reconnects with a new one.
 */
function closeWhenExpired(socket: WebSocket, token: string): void {
  const { exp } = decodeJwt(token);
  if (typeof exp !== "number") return;
  const deadline = (exp + CLOCK_TOLERANCE_SECONDS) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const wait = deadline - Date.now();
    if (wait <= 0) {
      socket.close(CloseCode.Forbidden, "Token expired");
      return;
    }
    timer = setTimeout(check, Math.min(wait, MAX_TIMER_MS));
  };
  check();
  socket.once("close", () => clearTimeout(timer));
}
