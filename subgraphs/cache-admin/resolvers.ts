/**
 * GraphQL resolvers of the cache-admin subgraph. Every field is admin only; input outside the
 * cache's namespace is refused before anything is touched; a Redis failure is UNAVAILABLE.
 */
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { DateTimeResolver } from "graphql-scalars";
import { assertAgentId } from "../../core/agents/agent-id.js";
import { type AuditLog, SYSTEM_AUDIT_SCOPE } from "../../core/audit/audit-log.js";
import { authorizeAdmin } from "../../core/auth/authorize.js";
import type { CacheAdmin } from "../../core/cache/admin.js";
import type { CacheAutoTuner, Decision } from "../../core/cache/auto-tune.js";
import { InvalidCursorError, type KeyDetails } from "../../core/cache/backend.js";
import { CACHE_EVENTS_TOPIC, type CacheEvent } from "../../core/cache/cache-events.js";
import { parseCacheKey } from "../../core/cache/keys.js";
import {
  CACHE_DATA_TYPES,
  type CacheDataType,
  type CachePolicyPatch,
  isCacheDataType,
  RETIRED_CACHE_TYPE,
} from "../../core/cache/policy.js";
import { badUserInput, MnemoError, unavailable } from "../../core/errors.js";
import type { EventBus } from "../../core/events.js";
import { pageSize } from "../../core/graphql/pagination.js";
import { KEY_PREFIX } from "../../core/redis.js";
import type { SubgraphContext } from "../../core/service/subgraph.js";
import { isUsageWindow } from "../../core/usage/buckets.js";
import type { UsageRecorder } from "../../core/usage/recorder.js";

/** Longest prefix or key accepted (cache keys are far shorter; this only stops abuse). */
export const MAX_KEY_LENGTH = 1024;

const ratio = (hits: number, misses: number) => (hits + misses === 0 ? 0 : hits / (hits + misses));

function assertInNamespace(value: string, argument: "prefix" | "key"): string {
  if (typeof value !== "string" || value.length > MAX_KEY_LENGTH) {
    throw badUserInput(`${argument} must be a string of at most ${MAX_KEY_LENGTH} characters`, { argument });
  }
  if (!value.startsWith(KEY_PREFIX)) {
    throw badUserInput(
      `${argument} ${JSON.stringify(value.slice(0, 80))} is outside the cache's namespace: it must start with "${KEY_PREFIX}"`,
      { argument },
    );
  }
  return value;
}

function assertType(type: unknown): CacheDataType {
  if (type === RETIRED_CACHE_TYPE) {
    throw badUserInput(
      `${RETIRED_CACHE_TYPE} is not a cached type: recall results are not cached, since a stored ranking goes stale with time and with every recall's access counts (docs/cache.md)`,
      { argument: "type" },
    );
  }
  if (!isCacheDataType(type)) throw badUserInput(`Unknown cache data type ${JSON.stringify(type)}`);
  return type;
}

/** Runs an operation against Redis; a failure becomes UNAVAILABLE with what may have happened. */
async function againstRedis<T>(what: string, run: () => Promise<T>, partial = false): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof MnemoError) throw error;
    throw unavailable(
      `Redis did not answer, so ${what} failed` +
        (partial ? "; some entries may already be invalidated, retry to finish" : "; nothing was changed") +
        " (check /ready)",
    );
  }
}

function keyNode(details: KeyDetails) {
  const parsed = parseCacheKey(details.key);
  return {
    key: details.key,
    type: parsed?.type ?? null,
    agentId: parsed?.agentId ?? null,
    id: parsed?.id ?? null,
    revision: details.entry?.revision ?? null,
    tombstone: details.entry?.kind === "tombstone",
    ttlMs: details.ttlMs,
    sizeBytes: details.bytes,
  };
}

export function createCacheAdminResolvers(
  cache: CacheAdmin,
  events: EventBus,
  audit: AuditLog,
  usage: UsageRecorder,
  autoTune: CacheAutoTuner,
): GraphQLResolverMap<SubgraphContext> {
  const decisionNode = (decision: Decision) => ({ ...decision, verdict: decision.verdict.toUpperCase() });
  return {
    DateTime: DateTimeResolver,
    Query: {
      cacheStats: async (_: unknown, _args: unknown, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        const snapshot = await cache.statsSnapshot();
        const byType = snapshot.byType.map((stats) => ({
          ...stats,
          hitRatio: ratio(stats.hits, stats.misses),
        }));
        const hits = byType.reduce((sum, t) => sum + t.hits, 0);
        const misses = byType.reduce((sum, t) => sum + t.misses, 0);
        return { ...snapshot, hits, misses, hitRatio: ratio(hits, misses), byType };
      },
      usage: async (
        _: unknown,
        args: {
          window?: string | null;
          agentId?: string | null;
          principal?: string | null;
          first?: number | null;
        },
        context: SubgraphContext,
      ) => {
        authorizeAdmin(context.principal);
        const window = args.window ?? "LAST_DAY";
        if (!isUsageWindow(window)) throw badUserInput(`Unknown usage window ${JSON.stringify(window)}`);
        if (args.agentId != null && args.principal != null) {
          throw badUserInput("Give at most one of agentId and principal", { argument: "principal" });
        }
        const agentId = args.agentId == null ? null : assertAgentId(args.agentId);
        if (args.principal != null && (args.principal === "" || args.principal.length > 256)) {
          throw badUserInput("principal must be a token `sub` of 1 to 256 characters", {
            argument: "principal",
          });
        }
        return againstRedis("usage", () =>
          usage.report({ window, agentId, principal: args.principal ?? null, first: pageSize(args.first) }),
        );
      },
      cacheAutoTune: (_: unknown, _args: unknown, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        const { settings } = autoTune;
        return {
          enabled: settings.enabled,
          intervalSeconds: settings.intervalMs / 1000,
          targetHitRatio: settings.targetHitRatio,
          bounds: CACHE_DATA_TYPES.map((type) => ({ type, ...settings.bounds[type] })),
          lastRunAt: autoTune.lastRunAt,
          decisions: autoTune.lastDecisions().map(decisionNode),
        };
      },
      cachePolicies: (_: unknown, _args: unknown, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        return cache.policyRecords();
      },
      cacheKeys: async (
        _: unknown,
        args: { prefix: string; first?: number | null; after?: string | null },
        context: SubgraphContext,
      ) => {
        authorizeAdmin(context.principal);
        const prefix = assertInNamespace(args.prefix, "prefix");
        const first = pageSize(args.first);
        const page = await againstRedis("listing keys", async () => {
          try {
            return await cache.listKeys(prefix, first, args.after ?? null);
          } catch (error) {
            if (error instanceof InvalidCursorError) {
              throw badUserInput(`Invalid cursor: ${error.message}`, { argument: "after" });
            }
            throw error;
          }
        });
        const edges = page.keys.map(({ details, cursor }) => ({ cursor, node: keyNode(details) }));
        return {
          edges,
          pageInfo: { hasNextPage: page.cursor !== null, endCursor: edges.at(-1)?.cursor ?? page.cursor },
        };
      },
    },
    Mutation: {
      invalidateAgent: async (_: unknown, args: { agentId: string }, context: SubgraphContext) => {
        const admin = authorizeAdmin(context.principal);
        const agentId = assertAgentId(args.agentId);
        const invalidated = await againstRedis("invalidateAgent", () => cache.invalidateAgent(agentId));
        await audit.record(admin, {
          agentId,
          action: "cache.invalidateAgent",
          target: null,
          details: { invalidated },
        });
        return invalidated;
      },
      invalidateType: async (_: unknown, args: { type: string }, context: SubgraphContext) => {
        const admin = authorizeAdmin(context.principal);
        const type = assertType(args.type);
        const invalidated = await againstRedis("invalidateType", () => cache.invalidateType(type), true);
        await audit.record(admin, {
          agentId: SYSTEM_AUDIT_SCOPE,
          action: "cache.invalidateType",
          target: type,
          details: { invalidated },
        });
        return invalidated;
      },
      invalidateKey: async (_: unknown, args: { key: string }, context: SubgraphContext) => {
        const admin = authorizeAdmin(context.principal);
        const key = assertInNamespace(args.key, "key");
        const parsed = parseCacheKey(key);
        if (!parsed) {
          throw badUserInput(
            `${JSON.stringify(key.slice(0, 80))} is not a cache entry key: expected ${KEY_PREFIX}{<agentId>}:<TYPE>:<id>`,
            { argument: "key" },
          );
        }
        const invalidated = await againstRedis("invalidateKey", () => cache.invalidateKey(key));
        await audit.record(admin, {
          agentId: parsed.agentId,
          action: "cache.invalidateKey",
          target: `${parsed.type}:${parsed.id}`,
          details: { invalidated },
        });
        return invalidated;
      },
      setCachePolicy: async (
        _: unknown,
        args: { type: string; policy: CachePolicyPatch },
        context: SubgraphContext,
      ) => {
        const admin = authorizeAdmin(context.principal);
        const type = assertType(args.type);
        const result = await againstRedis("setCachePolicy", () =>
          cache.updatePolicy(type, args.policy ?? {}, admin.sub),
        );
        if (Array.isArray(result))
          throw badUserInput(`Invalid cache policy: ${result.join("; ")}`, { argument: "policy" });
        await audit.record(admin, {
          agentId: SYSTEM_AUDIT_SCOPE,
          action: "cache.setCachePolicy",
          target: type,
          details: { ...args.policy },
        });
        return result;
      },
      runCacheAutoTune: async (_: unknown, _args: unknown, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        if (!autoTune.settings.enabled) {
          throw unavailable(
            "Cache TTL auto-tuning is off (set CACHE_AUTOTUNE=true on cache-admin to turn it on)",
          );
        }
        const decisions = await againstRedis("runCacheAutoTune", () => autoTune.runOnce());
        return decisions.map(decisionNode);
      },
      warmAgent: async (_: unknown, args: { agentId: string }, context: SubgraphContext) => {
        const admin = authorizeAdmin(context.principal);
        const agentId = assertAgentId(args.agentId);
        const warmed = await againstRedis("warmAgent", () => cache.warmAgent(agentId));
        await audit.record(admin, { agentId, action: "cache.warmAgent", target: null, details: { warmed } });
        return warmed;
      },
    },
    Subscription: {
      cacheEvents: {
        subscribe: (_: unknown, _args: unknown, context: SubgraphContext) => {
          authorizeAdmin(context.principal);
          return events.subscribe<CacheEvent>(CACHE_EVENTS_TOPIC);
        },
        resolve: (event: CacheEvent) => event,
      },
    },
    Agent: {
      __resolveReference: (reference: { id: string }, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        return { id: assertAgentId(reference.id, "id") };
      },
    },
  };
}
