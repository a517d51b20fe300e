/**
 * MCP over Streamable HTTP at `/mcp` on the gateway: the SDK's transport, one `McpSession` per
 * `Mcp-Session-Id`, guarded as `/graphql` is.
 *
 * - Auth: every request (POST, the GET event stream, DELETE) carries `Authorization: Bearer
 *   <JWT>`, checked by the gateway's own verifier; a session belongs to the principal (`sub`)
 *   that opened it and answers no one else. Tools call `/graphql` with the token of the request
 *   they answer, so a refreshed token takes effect at once.
 * - Limits: bodies up to REQUEST_MAX_BYTES and JSON nested at most MAX_REQUEST_JSON_DEPTH deep,
 *   as on /graphql; sessions per principal on this gateway up to MAX_CONNECTIONS_PER_PRINCIPAL;
 *   a session with no request and no open event stream for MCP_SESSION_IDLE_MS is closed (a
 *   client that goes away without DELETE leaves one behind).
 * - Rate limit: each MCP request spends one operation of the principal's budget (the gateway's
 *   `authenticate` does it); the GraphQL calls made to answer it are marked by the gateway so they
 *   are not counted twice.
 *
 * Sessions live in this process: behind a load balancer, route a session's requests to one
 * gateway (sticky on the Mcp-Session-Id header). A request for an unknown session gets 404, on
 * which MCP clients start a new session.
 */
import { randomUUID } from "node:crypto";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import cors from "cors";
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from "express";
import { Agent } from "undici";
import type { Principal } from "../core/auth/principal.js";
import { ErrorCode, MnemoError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { HttpRoutes } from "../core/service/http-service.js";
import { jsonDepthExceeds, MAX_REQUEST_JSON_DEPTH } from "../core/service/http-service.js";
import { createGraphQLClient } from "./graphql-client.js";
import { createMcpSession, type McpSession } from "./session.js";

export const MCP_PATH = "/mcp";
/** How often idle sessions are looked for, at most. */
const SWEEP_INTERVAL_MS = 60_000;

export interface McpEndpointOptions {
  /**
   * The caller of a request: verifies its bearer token and spends one operation of its rate
   * limit, exactly as for /graphql. Null when the request has no token; throws MnemoError
   * (UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE) when it is refused.
   */
  authenticate(req: Request): Promise<{ principal: Principal; token: string } | null>;
  /**
   * Headers that mark the tools' calls to the gateway's own /graphql as already counted by the
   * rate limit (the MCP request they answer spent it).
   */
  selfCallHeaders: Record<string, string>;
  /**
   * The gateway serves TLS. Its certificate names the public host, not the loopback address the
   * endpoint calls the gateway on, so those calls (to this very process) skip verification.
   */
  tls: boolean;
  requestBodyBytes: number;
  maxSessionsPerPrincipal: number;
  /** A session with no request and no open event stream for this long is closed. */
  sessionIdleMs: number;
  logger: Logger;
}

interface SessionEntry {
  session: McpSession;
  transport: StreamableHTTPServerTransport;
  sub: string;
  /** The token of the latest request: what resource subscriptions (re)connect with. */
  token: string;
  lastSeen: number;
  openStreams: number;
}

/** JSON-RPC error codes of the refusals answered here (the SDK's transport answers the rest). */
const JsonRpc = {
  /** Implementation-defined server error; the Mnemo code is in `error.data.code`. */
  Refused: -32000,
  InvalidRequest: -32600,
  ParseError: -32700,
} as const;

export function createMcpEndpoint(
  options: McpEndpointOptions,
): HttpRoutes & { readonly sessionCount: number } {
  const { logger } = options;
  const sessions = new Map<string, SessionEntry>();
  let gatewayUrl = (): string => {
    throw new Error("the MCP endpoint is not mounted");
  };
  const selfDispatcher = options.tls ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  const graphql = createGraphQLClient({
    url: () => gatewayUrl(),
    headers: options.selfCallHeaders,
    dispatcher: selfDispatcher,
  });

  const closeSession = (id: string) => {
    const entry = sessions.get(id);
    if (!entry) return Promise.resolve();
    sessions.delete(id);
    return entry.session.close().catch((error: unknown) => {
      logger.warn({ err: String(error) }, "error while closing an MCP session");
    });
  };
  const sweep = setInterval(
    () => {
      const idleSince = Date.now() - options.sessionIdleMs;
      for (const [id, entry] of sessions) {
        if (entry.openStreams === 0 && entry.lastSeen < idleSince) void closeSession(id);
      }
    },
    Math.min(SWEEP_INTERVAL_MS, options.sessionIdleMs / 2),
  );
  sweep.unref();

  const openSession = async (principal: Principal, token: string): Promise<StreamableHTTPServerTransport> => {
    const open = [...sessions.values()].filter((entry) => entry.sub === principal.sub).length;
    if (open >= options.maxSessionsPerPrincipal) {
      throw new MnemoError(
        ErrorCode.RATE_LIMITED,
        `This principal already has ${open} MCP sessions on this gateway (MAX_CONNECTIONS_PER_PRINCIPAL): ` +
          "end one (DELETE /mcp with its Mcp-Session-Id) or let it expire",
        {},
        { httpStatus: 429 },
      );
    }
    let entry: SessionEntry | undefined;
    const session = createMcpSession({
      graphql,
      tokenFor: (extra) => extra.authInfo?.token ?? entry?.token ?? token,
      watch: {
        url: gatewayUrl().replace(/^http/, "ws"),
        token: () => entry?.token ?? token,
        ...(options.tls ? { tls: { rejectUnauthorized: false } } : {}),
      },
      onWatchFailure: (uri, reason) =>
        logger.info({ sub: principal.sub, uri, reason }, "MCP resource subscription ended"),
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        entry = { session, transport, sub: principal.sub, token, lastSeen: Date.now(), openStreams: 0 };
        sessions.set(id, entry);
      },
      onsessionclosed: (id) => closeSession(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) void closeSession(transport.sessionId);
    };
    await session.server.connect(transport);
    return transport;
  };

  const handle = async (req: Request, res: Response) => {
    const caller = await options.authenticate(req);
    if (!caller) {
      refuse(
        res,
        401,
        ErrorCode.UNAUTHENTICATED,
        "Authentication required: send `Authorization: Bearer <JWT>`",
      );
      return;
    }
    const sessionId = req.header("mcp-session-id");
    let transport: StreamableHTTPServerTransport;
    if (sessionId) {
      const entry = sessions.get(sessionId);
      // Someone else's session is answered as an unknown one: it says nothing about what exists.
      if (!entry || entry.sub !== caller.principal.sub) {
        refuseJsonRpc(res, 404, -32001, "Session not found: start a new one with initialize");
        return;
      }
      entry.token = caller.token;
      entry.lastSeen = Date.now();
      if (req.method === "GET") {
        entry.openStreams += 1;
        res.once("close", () => {
          entry.openStreams -= 1;
          entry.lastSeen = Date.now();
        });
      }
      transport = entry.transport;
    } else if (req.method === "POST" && isInitializeRequest(req.body)) {
      transport = await openSession(caller.principal, caller.token);
    } else {
      refuseJsonRpc(
        res,
        400,
        JsonRpc.InvalidRequest,
        "Bad Request: no Mcp-Session-Id header; start a session with an initialize request",
      );
      return;
    }
    const authInfo = { token: caller.token, clientId: caller.principal.sub, scopes: [] };
    await transport.handleRequest(Object.assign(req, { auth: authInfo }), res, req.body);
  };

  const router = express.Router();
  router.use(
    MCP_PATH,
    cors({ origin: true, maxAge: 600, exposedHeaders: ["Mcp-Session-Id"] }),
    express.json({ limit: options.requestBodyBytes }),
    (req: Request, res: Response, next: NextFunction) => {
      if (jsonDepthExceeds(req.body, MAX_REQUEST_JSON_DEPTH)) {
        refuseJsonRpc(
          res,
          400,
          JsonRpc.InvalidRequest,
          `Request JSON is nested deeper than ${MAX_REQUEST_JSON_DEPTH} levels`,
        );
        return;
      }
      next();
    },
    (req: Request, res: Response, next: NextFunction) => {
      if (!["GET", "POST", "DELETE"].includes(req.method)) {
        res.setHeader("allow", "GET, POST, DELETE");
        refuseJsonRpc(res, 405, JsonRpc.InvalidRequest, `Method ${req.method} is not allowed on ${MCP_PATH}`);
        return;
      }
      handle(req, res).catch(next);
    },
    errorHandler(options.requestBodyBytes, logger),
  );

  return {
    mount(app, self) {
      gatewayUrl = self.url;
      app.use(router);
    },
    async drain() {
      clearInterval(sweep);
      await Promise.all([...sessions.keys()].map((id) => closeSession(id)));
      await selfDispatcher?.close();
    },
    get sessionCount() {
      return sessions.size;
    },
  };
}

function refuseJsonRpc(res: Response, status: number, code: number, message: string, data?: object): void {
  if (res.headersSent) return;
  res.status(status).json({ jsonrpc: "2.0", id: null, error: { code, message, ...(data ? { data } : {}) } });
}

/** A refusal with Mnemo's error code, as /graphql would give it, in a JSON-RPC error. */
function refuse(
  res: Response,
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
) {
  if (status === 401) res.setHeader("www-authenticate", "Bearer");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  refuseJsonRpc(res, status, JsonRpc.Refused, `${code}: ${message}`, { code });
}

function errorHandler(limit: number, logger: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error instanceof MnemoError) {
      const http = error.extensions.http as
        | { status?: number; headers?: Iterable<[string, string]> }
        | undefined;
      const status = http?.status ?? (error.code === ErrorCode.UNAVAILABLE ? 503 : 400);
      refuse(res, status, error.code, error.message, Object.fromEntries(http?.headers ?? []));
      return;
    }
    const type = (error as { type?: string }).type;
    if (type === "entity.too.large") {
      refuse(
        res,
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        `Request body is larger than the ${limit} bytes allowed (REQUEST_MAX_BYTES)`,
      );
      return;
    }
    if (type === "entity.parse.failed") {
      refuseJsonRpc(res, 400, JsonRpc.ParseError, "Parse error: the request body is not valid JSON");
      return;
    }
    logger.error({ err: String(error) }, "MCP request failed");
    refuseJsonRpc(res, 500, -32603, "Internal error");
  };
}
