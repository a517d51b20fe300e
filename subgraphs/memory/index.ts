/**
 * The memory subgraph: an agent's long-term memories as a knowledge graph, recalled by meaning,
 * words and connections.
 */

import { createLockManager } from "../../core/locks/lock.js";
import { ServiceMetrics } from "../../core/metrics.js";
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { instrumentStore } from "../../core/store/instrument.js";
import type { UsageOfResult } from "../../core/usage/root-field-usage.js";
import { createEmbedder, type Embedder } from "./analysis/embedder.js";
import { acquireAnalysisPool } from "./analysis/pool.js";
import { ForgettingRunner } from "./domain/forgetting.js";
import { MemoryMaintenance } from "./domain/maintenance.js";
import { MemoryService } from "./domain/memory-service.js";
import type { EmbeddingModel, MemoryStore } from "./domain/store-port.js";
import { createMemoryResolvers, type MemoryContext } from "./resolvers.js";
import { createNeo4jMemoryStore, storedNeo4jDimensions } from "./store/neo4j.js";
import { createSqliteMemoryStore } from "./store/sqlite.js";

/**
 * The memory store, for the vectors of `model` (the embedder's): a store made with another model
 * is refused (EmbeddingModelMismatchError). Without a model (maintenance tools), the store opens
 * with the vectors it holds.
 */
export async function createMemoryStore(runtime: Runtime, model?: EmbeddingModel): Promise<MemoryStore> {
  const { config } = runtime;
  if (config.store === "neo4j") {
    const dimensions =
      model?.dimensions ?? (await storedNeo4jDimensions(runtime.neo4j!, config.neo4j!.database));
    return createNeo4jMemoryStore(
      runtime.neo4j!,
      config.neo4j!.database,
      dimensions,
      runtime.encryption,
      model,
    );
  }
  return createSqliteMemoryStore(config.dataDir, model?.dimensions ?? 0, runtime.encryption, model);
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
  options: { embedder?: (configured: Embedder) => Embedder; metrics?: ServiceMetrics } = {},
): Promise<MemoryComponents> {
  const pool = acquireAnalysisPool(runtime.config.embeddings.workers);
  const logger = runtime.logger.child({ service: "memory" });
  let configured: Embedder;
  let store: MemoryStore;
  try {
    configured = await createEmbedder(runtime.config.embeddings, pool);
    const created = await createMemoryStore(runtime, {
      id: configured.modelId,
      dimensions: configured.dimensions,
    });
    store = options.metrics ? instrumentStore(created, runtime.config.store, options.metrics) : created;
  } catch (error) {
    await pool.release();
    throw error;
  }
  logger.info(
    {
      provider: configured.provider,
      requested: runtime.config.embeddings.requested,
      model: configured.modelId,
      dimensions: configured.dimensions,
    },
    `embeddings: ${configured.modelId} (${configured.dimensions} d, EMBEDDINGS_PROVIDER=${runtime.config.embeddings.requested})`,
  );
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
    contextWeight: runtime.config.embeddings.contextWeight,
    logger: runtime.logger.child({ service: "memory" }),
  });
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
  const metrics = new ServiceMetrics("memory");
  const memory = await createMemoryComponents(runtime, { metrics });
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
      metrics,
      usage: MEMORY_USAGE,
    });
  } catch (error) {
    await memory.close();
    throw error;
  }
}

/** What a memory write stored, for usage analytics: new memories (not merges) and their text. */
interface RememberResultShape {
  outcome?: string;
  memory?: { content?: string; caption?: string | null; metadata?: unknown };
}
function remembered(results: RememberResultShape[]) {
  let memories = 0;
  let bytes = 0;
  for (const { outcome, memory } of results) {
    if (outcome !== "CREATED" || !memory) continue;
    memories++;
    bytes += Buffer.byteLength(memory.content ?? "");
    if (memory.caption) bytes += Buffer.byteLength(memory.caption);
    if (memory.metadata != null) bytes += Buffer.byteLength(JSON.stringify(memory.metadata));
  }
  return { memories, bytes };
}
const MEMORY_USAGE: UsageOfResult = {
  remember: (result) => remembered([result as RememberResultShape]),
  rememberMany: (result) => remembered(result as RememberResultShape[]),
};
