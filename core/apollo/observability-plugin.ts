/**
 * One log line and one metrics sample per GraphQL request: operation name, duration, outcome
 * and error codes. Variables and results are deliberately not logged (they hold private data).
 */
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { GraphQLFormattedError } from "graphql";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";

/** How a request reached the service: `in-process` is a gateway in the same process. */
export type Transport = "http" | "in-process";

export interface OperationRecord {
  name: string | null;
  /** query, mutation or subscription; null when the document did not resolve to one. */
  type: string | null;
  durationMs: number;
  errors: readonly GraphQLFormattedError[];
  transport: Transport;
}

/** Writes the log line and the metrics of one finished request. */
export function recordOperation(logger: Logger, metrics: ServiceMetrics, record: OperationRecord): void {
  const label = metrics.operationLabel(record.name);
  const codes = record.errors.map((e) => String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR"));
  const outcome = codes.length > 0 ? "error" : "ok";
  metrics.requests.inc({ operation: label, outcome, transport: record.transport });
  metrics.duration.observe({ operation: label, transport: record.transport }, record.durationMs / 1000);
  for (const code of codes) metrics.errors.inc({ code });
  logger.info(
    {
      operation: record.name ?? "anonymous",
      type: record.type,
      transport: record.transport,
      durationMs: Math.round(record.durationMs * 100) / 100,
      outcome,
      ...(codes.length > 0 ? { errorCodes: [...new Set(codes)] } : {}),
    },
    "graphql request",
  );
}

export function observabilityPlugin<TContext extends BaseContext>(
  logger: Logger,
  metrics: ServiceMetrics,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ request, response, operationName, errors, operation }) {
          recordOperation(logger, metrics, {
            name: operationName ?? request.operationName ?? null,
            type: operation?.operation ?? null,
            durationMs: Number(process.hrtime.bigint() - started) / 1e6,
            errors:
              response.body.kind === "single" ? (response.body.singleResult.errors ?? []) : (errors ?? []),
            transport: "http",
          });
        },
      };
    },
  };
}
