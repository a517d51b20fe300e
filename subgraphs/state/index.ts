/**
 * The state subgraph: versioned agent state.
 */

import { ServiceMetrics } from "../../core/metrics.js";
import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { instrumentStore } from "../../core/store/instrument.js";
import type { UsageOfResult } from "../../core/usage/root-field-usage.js";
import {
  type CheckpointContext,
  createCheckpointResolvers,
  mergeResolverMaps,
} from "./checkpoint-resolvers.js";
import type { CheckpointStore } from "./domain/checkpoint-port.js";
import { CheckpointService } from "./domain/checkpoints.js";
import { StateService } from "./domain/state-service.js";
import type { StateStore } from "./domain/store-port.js";
import { createStateResolvers, type StateContext } from "./resolvers.js";
import { createNeo4jStateStore } from "./store/neo4j.js";
import { createNeo4jCheckpointStore } from "./store/neo4j-checkpoints.js";
import { createSqliteStateStore } from "./store/sqlite.js";
import { createSqliteCheckpointStore } from "./store/sqlite-checkpoints.js";

export async function createStateStore(runtime: Runtime): Promise<StateStore> {
  const { config } = runtime;
  if (config.store === "neo4j") {
    return createNeo4jStateStore(runtime.neo4j!, config.neo4j!.database, runtime.encryption);
  }
  return createSqliteStateStore(config.dataDir, runtime.encryption);
}

export async function createCheckpointStore(runtime: Runtime): Promise<CheckpointStore> {
  const { config } = runtime;
  if (config.store === "neo4j") {
    return createNeo4jCheckpointStore(runtime.neo4j!, config.neo4j!.database, runtime.encryption);
  }
  return createSqliteCheckpointStore(config.dataDir, runtime.encryption);
}

export async function startStateSubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const metrics = new ServiceMetrics("state");
  const store = instrumentStore(await createStateStore(runtime), runtime.config.store, metrics);
  const checkpointStore = instrumentStore(
    await createCheckpointStore(runtime),
    runtime.config.store,
    metrics,
  );
  const checkpoints = new CheckpointService({
    store: checkpointStore,
    audit: runtime.audit,
    limits: { maxBytes: runtime.config.limits.stateMaxBytes },
    fingerprint: runtime.encryption.fingerprint,
  });
  const service = new StateService({
    store,
    cache: runtime.cache,
    events: runtime.events,
    agents: runtime.agents,
    audit: runtime.audit,
    limits: {
      maxBytes: runtime.config.limits.stateMaxBytes,
      historyLimit: runtime.config.limits.stateHistoryLimit,
    },
    logger: runtime.logger.child({ service: "state" }),
    checkpoints,
  });
  return startSubgraph<StateContext & CheckpointContext>({
    name: "state",
    runtime,
    port: options.port,
    resolvers: mergeResolverMaps<StateContext & CheckpointContext>(
      createStateResolvers(service, runtime.events, runtime.agents, runtime.audit),
      createCheckpointResolvers(checkpoints),
    ),
    createContext: (principal) => ({
      principal,
      loaders: service.createLoaders(),
      checkpointLoaders: checkpoints.createLoaders(),
    }),
    readiness: { store: () => store.ping(), checkpoints: () => checkpointStore.ping() },
    onClose: async () => {
      await checkpointStore.close();
      await store.close();
    },
    metrics,
    usage: STATE_USAGE,
  });
}

/** What each state write stored, for usage analytics: one version of its serialised data. */
const versionWritten = (result: unknown) => {
  const data = (result as { data?: unknown }).data;
  return { stateVersions: 1, bytes: Buffer.byteLength(JSON.stringify(data ?? null)) };
};
const STATE_USAGE: UsageOfResult = {
  putState: versionWritten,
  patchState: versionWritten,
  rollbackState: versionWritten,
};
