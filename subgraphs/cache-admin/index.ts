/**
 * The cache-admin subgraph: statistics and control of the cache layer, TTL auto-tuning and usage
 * analytics (role admin only).
 */
import { CacheAutoTuner } from "../../core/cache/auto-tune.js";
import { createLockManager } from "../../core/locks/lock.js";
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { type SubgraphContext, startSubgraph } from "../../core/service/subgraph.js";
import { createCacheAdminResolvers } from "./resolvers.js";

export async function startCacheAdminSubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const autoTune = new CacheAutoTuner({
    cache: runtime.cache.admin,
    settings: runtime.config.cache.autoTune,
    audit: runtime.audit,
    locks: createLockManager(runtime.redis),
    logger: runtime.logger.child({ service: "cache-admin", component: "auto-tune" }),
  });
  autoTune.start();
  try {
    return await startSubgraph<SubgraphContext>({
      name: "cache-admin",
      runtime,
      port: options.port,
      resolvers: createCacheAdminResolvers(
        runtime.cache.admin,
        runtime.events,
        runtime.audit,
        runtime.usage,
        autoTune,
      ),
      createContext: (principal) => ({ principal }),
      readiness: {},
      onClose: () => autoTune.stop(),
    });
  } catch (error) {
    await autoTune.stop();
    throw error;
  }
}
