/**
 * Starts a set of Mnemo services in this process on one shared Runtime: all four for
 * `npm start`, or one for a container. Subgraphs start first so the gateway knows their ports.
 */
import type { Config, ServiceName } from "../core/config.js";
import { createRuntime, type Runtime } from "../core/runtime.js";
import type { RunningService } from "../core/service/http-service.js";
import { startGateway } from "../gateway/index.js";
import type { SubgraphName } from "../gateway/supergraph.js";
import { startCacheAdminSubgraph } from "../subgraphs/cache-admin/index.js";
import { startMemorySubgraph } from "../subgraphs/memory/index.js";
import { startStateSubgraph } from "../subgraphs/state/index.js";

export interface Stack {
  readonly runtime: Runtime;
  readonly services: Partial<Record<ServiceName, RunningService>>;
  close(): Promise<void>;
}

export interface StackOptions {
  services: readonly ServiceName[];
  /** Use this runtime instead of creating one (it is then not closed with the stack). */
  runtime?: Runtime;
  /** Subgraph URLs for a gateway whose subgraphs run elsewhere. */
  subgraphUrls?: Partial<Record<SubgraphName, string>>;
}

const SUBGRAPH_STARTERS = {
  state: startStateSubgraph,
  memory: startMemorySubgraph,
  "cache-admin": startCacheAdminSubgraph,
} as const;

export async function startStack(config: Config, options: StackOptions): Promise<Stack> {
  const runtime = options.runtime ?? (await createRuntime(config));
  const services: Partial<Record<ServiceName, RunningService>> = {};
  const started: RunningService[] = [];
  const close = async () => {
    // Gateway first (stop taking client requests), then subgraphs, then connections.
    for (const service of [...started].reverse()) await service.close();
    if (!options.runtime) await runtime.close();
  };
  try {
    for (const name of ["state", "memory", "cache-admin"] as const) {
      if (!options.services.includes(name)) continue;
      const service = await SUBGRAPH_STARTERS[name](runtime, { port: config.ports[name] });
      services[name] = service;
      started.push(service);
    }
    if (options.services.includes("gateway")) {
      const local = Object.fromEntries(
        (["state", "memory", "cache-admin"] as const).flatMap((name) =>
          services[name] ? [[name, services[name].url]] : [],
        ),
      );
      const gateway = await startGateway(runtime, {
        port: config.ports.gateway,
        subgraphUrls: { ...options.subgraphUrls, ...local },
      });
      services.gateway = gateway;
      started.push(gateway);
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { runtime, services, close };
}
