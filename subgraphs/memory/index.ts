/**
 * The memory subgraph: an agent's long-term memories as a knowledge graph, recalled by meaning,
 * words and connections.
 */

import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { createEmbedder } from "./analysis/embedder.js";
import { acquireAnalysisPool } from "./analysis/pool.js";
import { MemoryService } from "./domain/memory-service.js";
import { createMemoryResolvers, type MemoryContext } from "./resolvers.js";
import { createNeo4jMemoryStore } from "./store/neo4j.js";
import type { MemoryStore } from "./store/port.js";
import { createSqliteMemoryStore } from "./store/sqlite.js";

export async function createMemoryStore(runtime: Runtime): Promise<MemoryStore> {
  const { config } = runtime;
  const dimensions = config.embeddings.dimensions;
  if (config.store === "neo4j")
    return createNeo4jMemoryStore(runtime.neo4j!, config.neo4j!.database, dimensions, runtime.encryption);
  return createSqliteMemoryStore(config.dataDir, dimensions, runtime.encryption);
}

export async function startMemorySubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const store = await createMemoryStore(runtime);
  const pool = acquireAnalysisPool(runtime.config.embeddings.workers);
  const service = new MemoryService({
    store,
    embedder: createEmbedder(runtime.config.embeddings, pool),
    pool,
    cache: runtime.cache,
    events: runtime.events,
    agents: runtime.agents,
    audit: runtime.audit,
    fingerprint: runtime.encryption.fingerprint,
    limits: { maxBytes: runtime.config.limits.memoryMaxBytes },
    logger: runtime.logger.child({ service: "memory" }),
  });
  try {
    return await startSubgraph<MemoryContext>({
      name: "memory",
      runtime,
      port: options.port,
      resolvers: createMemoryResolvers(service, runtime.events),
      createContext: (principal) => ({ principal, loaders: service.createLoaders() }),
      readiness: { store: () => store.ping() },
      onClose: async () => {
        await service.close();
        await pool.release();
        await store.close();
      },
    });
  } catch (error) {
    await pool.release();
    await store.close();
    throw error;
  }
}
