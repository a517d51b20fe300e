/**
 * The memory subgraph: an agent's long-term memories.
 */

import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { createMemoryResolvers, type MemoryContext } from "./resolvers.js";
import { createSqliteMemoryStore } from "./store/sqlite.js";

export async function startMemorySubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const store = createSqliteMemoryStore(runtime.config.dataDir);
  return startSubgraph<MemoryContext>({
    name: "memory",
    runtime,
    port: options.port,
    resolvers: createMemoryResolvers(store, runtime.agents, {
      maxBytes: runtime.config.limits.memoryMaxBytes,
    }),
    createContext: (principal) => ({ principal }),
    readiness: { store: () => store.ping() },
    onClose: () => store.close(),
  });
}
