/**
 * The state subgraph: versioned agent state.
 */

import type { Runtime } from "../../core/runtime.js";
import type { RunningService } from "../../core/service/http-service.js";
import { startSubgraph } from "../../core/service/subgraph.js";
import { StateService } from "./domain/state-service.js";
import type { StateStore } from "./domain/store-port.js";
import { createStateResolvers, type StateContext } from "./resolvers.js";
import { createNeo4jStateStore } from "./store/neo4j.js";
import { createSqliteStateStore } from "./store/sqlite.js";

export async function createStateStore(runtime: Runtime): Promise<StateStore> {
  const { config } = runtime;
  if (config.store === "neo4j") {
    return createNeo4jStateStore(runtime.neo4j!, config.neo4j!.database, runtime.encryption);
  }
  return createSqliteStateStore(config.dataDir, runtime.encryption);
}

export async function startStateSubgraph(
  runtime: Runtime,
  options: { port: number },
): Promise<RunningService> {
  const store = await createStateStore(runtime);
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
  });
  return startSubgraph<StateContext>({
    name: "state",
    runtime,
    port: options.port,
    resolvers: createStateResolvers(service, runtime.events, runtime.agents, runtime.audit),
    createContext: (principal) => ({ principal, loaders: service.createLoaders() }),
    readiness: { store: () => store.ping() },
    onClose: () => store.close(),
  });
}
