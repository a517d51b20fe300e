/**
 * The cache-admin subgraph: statistics and control of the cache layer (role admin only).
 */
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { type SubgraphContext, startSubgraph } from "../../core/service/subgraph.js";
import { createCacheAdminResolvers } from "./resolvers.js";

export async function startCacheAdminSubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  return startSubgraph<SubgraphContext>({
    name: "cache-admin",
    runtime,
    port: options.port,
    resolvers: createCacheAdminResolvers(runtime.cache.admin, runtime.events, runtime.audit),
    createContext: (principal) => ({ principal }),
    readiness: {},
  });
}
