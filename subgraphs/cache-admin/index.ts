/**
 * The cache-admin subgraph: statistics and control of the cache layer (role admin only).
 */
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { assertAgentId } from "../../core/agents/agent-id.js";
import { authorizeAdmin } from "../../core/auth/authorize.js";
import { CACHE_DATA_TYPES } from "../../core/cache/policy.js";
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { type SubgraphContext, startSubgraph } from "../../core/service/subgraph.js";

const ratio = (hits: number, misses: number) => (hits + misses === 0 ? 0 : hits / (hits + misses));

export function createCacheAdminResolvers(runtime: Runtime): GraphQLResolverMap<SubgraphContext> {
  return {
    Query: {
      cacheStats: (_: unknown, _args: unknown, context: SubgraphContext) => {
        authorizeAdmin(context.principal);
        const byType = CACHE_DATA_TYPES.map((type) => {
          const { hits, misses } = runtime.cache.stats(type);
          return { type, hits, misses, hitRatio: ratio(hits, misses) };
        });
        const hits = byType.reduce((sum, t) => sum + t.hits, 0);
        const misses = byType.reduce((sum, t) => sum + t.misses, 0);
        return { hits, misses, hitRatio: ratio(hits, misses), byType, backend: runtime.cache.backend.kind };
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

export async function startCacheAdminSubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  return startSubgraph<SubgraphContext>({
    name: "cache-admin",
    runtime,
    port: options.port,
    resolvers: createCacheAdminResolvers(runtime),
    createContext: (principal) => ({ principal }),
    readiness: {},
  });
}
