/**
 * One log line and one metrics sample per GraphQL request: operation name, duration, outcome
 * and error codes. Variables and results are deliberately not logged (they hold private data).
 */
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";

export function observabilityPlugin<TContext extends BaseContext>(
  logger: Logger,
  metrics: ServiceMetrics,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ request, response, operationName, errors, operation }) {
          const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
          const name = operationName ?? request.operationName ?? null;
          const label = metrics.operationLabel(name);
          const resultErrors =
            response.body.kind === "single" ? (response.body.singleResult.errors ?? []) : (errors ?? []);
          const codes = resultErrors.map((e) => String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR"));
          const outcome = codes.length > 0 ? "error" : "ok";
          metrics.requests.inc({ operation: label, outcome, transport: "http" });
          metrics.duration.observe({ operation: label, transport: "http" }, durationMs / 1000);
          for (const code of codes) metrics.errors.inc({ code });
          logger.info(
            {
              operation: name ?? "anonymous",
              type: operation?.operation ?? null,
              transport: "http",
              durationMs: Math.round(durationMs * 100) / 100,
              outcome,
              ...(codes.length > 0 ? { errorCodes: [...new Set(codes)] } : {}),
            },
            "graphql request",
          );
        },
      };
    },
  };
}
