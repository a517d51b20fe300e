/**
 * The memory subgraph: an agent's long-term memories as a knowledge graph, recalled by meaning,
 * words and connections.
 */

import { createLockManager } from "../../core/locks/lock.js";
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { createEmbedder, type Embedder } from "./analysis/embedder.js";
import { acquireAnalysisPool } from "./analysis/pool.js";
import { ForgettingRunner } from "./domain/forgetting.js";
import { MemoryMaintenance } from "./domain/maintenance.js";
import { MemoryService } from "./domain/memory-service.js";
import type { MemoryStore } from "./domain/store-port.js";
import { createMemoryResolvers, type MemoryContext } from "./resolvers.js";
import { createNeo4jMemoryStore } from "./store/neo4j.js";
import { createSqliteMemoryStore } from "./store/sqlite.js";

export async function createMemoryStore(runtime: Runtime): Promise<MemoryStore> {
  const { config } = runtime;
  const dimensions = config.embeddings.dimensions;
  if (config.store === "neo4j")
    return createNeo4jMemoryStore(runtime.neo4j!, config.neo4j!.database, dimensions, runtime.encryption);
  return createSqliteMemoryStore(config.dataDir, dimensions, runtime.encryption);
}

export interface MemoryComponents {
  store: MemoryStore;
  service: MemoryService;
  maintenance: MemoryMaintenance;
  /** Applies forgetting policies (started by the subgraph with MEMORY_FORGET_INTERVAL_MS). */
  forgetting: ForgettingRunner;
  /** Releases the worker pool and closes the store (after the service has flushed). */
  close(): Promise<void>;
}

/**
 * The memory subgraph's parts without the HTTP server: what `startMemorySubgraph` serves, and
 * what an in-process caller (the recall benchmark) uses directly. `embedder` replaces the
 * configured one (e.g. a caching wrapper around it).
 */
export async function createMemoryComponents(
  runtime: Runtime,
  options: { embedder?: (configured: Embedder) => Embedder } = {},
): Promise<MemoryComponents> {
  const store = await createMemoryStore(runtime);
  const pool = acquireAnalysisPool(runtime.config.embeddings.workers);
  const configured = createEmbedder(runtime.config.embeddings, pool);
  const service = new MemoryService({
    store,
    embedder: options.embedder ? options.embedder(configured) : configured,
    pool,
    cache: runtime.cache,
    events: runtime.events,
    agents: runtime.agents,
    audit: runtime.audit,
    fingerprint: runtime.encryption.fingerprint,
    limits: { maxBytes: runtime.config.limits.memoryMaxBytes },
    logger: runtime.logger.child({ service: "memory" }),
  });
  const logger = runtime.logger.child({ service: "memory" });
  const locks = createLockManager(runtime.redis);
  const maintenance = new MemoryMaintenance({
    store,
    cache: runtime.cache,
    agents: runtime.agents,
    audit: runtime.audit,
    locks,
    config: (agentId) => service.config(agentId),
  });
  const forgetting = new ForgettingRunner(
    {
      configuredAgents: () => store.configuredAgents(),
      config: (agentId) => service.config(agentId),
      applyForgetting: (agentId) => maintenance.applyForgetting(agentId),
    },
    locks,
    logger,
  );
  return {
    store,
    service,
    maintenance,
    forgetting,
    async close() {
      await forgetting.stop();
      await service.close();
      await pool.release();
      await store.close();
    },
  };
}

export async function startMemorySubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const memory = await createMemoryComponents(runtime);
  const { service, store, maintenance } = memory;
  memory.forgetting.start(runtime.config.memoryForgetIntervalMs);
  try {
    return await startSubgraph<MemoryContext>({
      name: "memory",
      runtime,
      port: options.port,
      resolvers: createMemoryResolvers(service, runtime.events, maintenance),
      createContext: (principal) => ({ principal, loaders: service.createLoaders() }),
      readiness: { store: () => store.ping() },
      onClose: () => memory.close(),
    });
  } catch (error) {
    await memory.close();
    throw error;
  }
}
