/**
 * Reports every root Query and Mutation field a subgraph answers: to usage analytics (with its
 * agent, principal and what it stored) and to the Prometheus histogram of root-field latency
 * (labelled by field name only; recall latency is `field="recall"`).
 *
 * Over HTTP only: the gateway sends queries and mutations to subgraphs over HTTP; graphql-ws
 * carries subscriptions, whose events are not operations a client asked for.
 */
import type { ApolloServerPlugin } from "@apollo/server";
import type { Histogram } from "prom-client";
import type { Principal } from "../auth/principal.js";
import type { StoredUsage } from "./counts.js";
import type { UsageRecorder } from "./recorder.js";

/**
 * Per root field, what its result stored. A subgraph declares these for its writes (e.g.
 * putState: one state version of so many bytes); fields without one stored nothing.
 */
export type UsageOfResult = Record<string, (result: unknown) => StoredUsage>;

const ROOT_TYPES = new Set(["Query", "Mutation"]);
/** Root fields whose `id` argument is an agent id (elsewhere `id` names a memory or an entity). */
const AGENT_ID_FIELDS = new Set(["agent", "deleteAgent"]);

export function usagePlugin<TContext extends { principal: Principal }>(options: {
  recorder: UsageRecorder;
  stored?: UsageOfResult;
  latency?: Histogram<"field">;
}): ApolloServerPlugin<TContext> {
  const { recorder, stored = {}, latency } = options;
  return {
    async requestDidStart() {
      return {
        async executionDidStart() {
          return {
            willResolveField({ info, args, contextValue }) {
              // Root fields only; federation's own (_entities, _service) are not client operations.
              if (info.path.prev !== undefined || !ROOT_TYPES.has(info.parentType.name)) return;
              if (info.fieldName.startsWith("_")) return;
              const started = performance.now();
              return (error, result) => {
                const durationMs = performance.now() - started;
                latency?.observe({ field: info.fieldName }, durationMs / 1000);
                const storedUsage = !error && result != null ? stored[info.fieldName]?.(result) : undefined;
                recorder.record({
                  kind: info.fieldName,
                  agentId: agentOf(info.fieldName, args, result),
                  principal: contextValue.principal?.sub ?? "anonymous",
                  ok: !error,
                  durationMs,
                  stored: storedUsage,
                });
              };
            },
          };
        },
      };
    },
  };
}

/** The agent an operation was about: its agentId argument, or the agent of what it returned. */
function agentOf(field: string, args: Record<string, unknown>, result: unknown): string | null {
  if (typeof args.agentId === "string") return args.agentId;
  if (AGENT_ID_FIELDS.has(field) && typeof args.id === "string") return args.id;
  if (result && typeof result === "object") {
    const value = result as { agentId?: unknown; memory?: { agentId?: unknown } };
    if (typeof value.agentId === "string") return value.agentId;
    if (typeof value.memory?.agentId === "string") return value.memory.agentId;
  }
  return null;
}
