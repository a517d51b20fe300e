/**
 * Reports every root Query and Mutation field a subgraph answers: to usage analytics (with its
 * agent, principal and what it stored) and to the Prometheus histogram of root-field latency
 * (labelled by field name only; recall latency is `field="recall"`).
 *
 * It wraps the root fields' resolvers once, when the schema is built, rather than being an
 * Apollo plugin: a plugin's `willResolveField` makes Apollo instrument every field of every
 * response, and the subgraph's in-process path (core/service/local-execution.ts) runs without
 * Apollo's pipeline. Both paths, HTTP and in process, run the same wrapped resolvers.
 */
import { defaultFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from "graphql";
import type { Histogram } from "prom-client";
import type { Principal } from "../auth/principal.js";
import type { StoredUsage } from "./counts.js";
import type { UsageRecorder } from "./recorder.js";

/**
 * Per root field, what its result stored. A subgraph declares these for its writes (e.g.
 * putState: one state version of so many bytes); fields without one stored nothing.
 */
export type UsageOfResult = Record<string, (result: unknown) => StoredUsage>;

/** Root fields whose `id` argument is an agent id (elsewhere `id` names a memory or an entity). */
const AGENT_ID_FIELDS = new Set(["agent", "deleteAgent"]);

export interface RootFieldUsageOptions {
  recorder: UsageRecorder;
  stored?: UsageOfResult;
  latency?: Histogram<"field">;
}

/** Wraps the schema's Query and Mutation resolvers in place (federation's `_` fields excepted). */
export function instrumentRootFields(schema: GraphQLSchema, options: RootFieldUsageOptions): void {
  const { recorder, stored = {}, latency } = options;
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      if (field.name.startsWith("_")) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      const storedBy = stored[field.name];
      field.resolve = (source, args: Record<string, unknown>, context, info: GraphQLResolveInfo) => {
        const started = performance.now();
        const done = (error: unknown, result: unknown) => {
          const durationMs = performance.now() - started;
          latency?.observe({ field: field.name }, durationMs / 1000);
          recorder.record({
            kind: field.name,
            agentId: agentOf(field.name, args, result),
            principal: (context as { principal?: Principal } | null)?.principal?.sub ?? "anonymous",
            ok: !error,
            durationMs,
            stored: !error && result != null ? storedBy?.(result) : undefined,
          });
        };
        let result: unknown;
        try {
          result = resolve(source, args, context, info);
        } catch (error) {
          done(error, undefined);
          throw error;
        }
        if (!isPromiseLike(result)) {
          done(result instanceof Error ? result : null, result);
          return result;
        }
        return Promise.resolve(result).then(
          (value) => {
            done(value instanceof Error ? value : null, value);
            return value;
          },
          (error: unknown) => {
            done(error, undefined);
            throw error;
          },
        );
      };
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
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
