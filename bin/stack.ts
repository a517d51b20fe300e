/**
 * Starts a set of Mnemo services in this process on one shared runtime: all four for
 * `npm start`, or one for a container. Subgraphs start first so the gateway knows their ports;
 * a gateway that shares the process with a subgraph calls it in-process (gateway/data-sources.ts).
 */
import type { Config, ServiceName } from "../core/config.js";
import { createGatewayRuntime, createRuntime, type ProcessRuntime, type Runtime } from "../core/runtime.js";
import type { RunningService } from "../core/service/http-service.js";
import type { LocalSubgraph } from "../core/service/subgraph.js";
import { startGateway } from "../gateway/index.js";
import type { SubgraphName } from "../gateway/supergraph.js";
import { startCacheAdminSubgraph } from "../subgraphs/cache-admin/index.js";
import { startMemorySubgraph } from "../subgraphs/memory/index.js";
import { startStateSubgraph } from "../subgraphs/state/index.js";

export interface Stack {
  readonly runtime: ProcessRuntime;
  readonly services: Partial<Record<ServiceName, RunningService>>;
  close(): Promise<void>;
}

export interface StackOptions {
  services: readonly ServiceName[];
  /** Use this runtime instead of creating one (it is then not closed with the stack). */
  runtime?: Runtime;
  /** Subgraph URLs for a gateway whose subgraphs run elsewhere. */
  subgraphUrls?: Partial<Record<SubgraphName, string>>;
  /**
   * Call subgraphs in this process over HTTP like remote ones, instead of in-process (to
   * measure or test the separate-process path in one process). Default false.
   */
  gatewayOverHttp?: boolean;
}

const SUBGRAPH_STARTERS = {
  state: startStateSubgraph,
  memory: startMemorySubgraph,
  "cache-admin": startCacheAdminSubgraph,
} as const;

const SUBGRAPHS = ["state", "memory", "cache-admin"] as const;

export async function startStack(config: Config, options: StackOptions): Promise<Stack> {
  const runsSubgraphs = SUBGRAPHS.some((name) => options.services.includes(name));
  // A gateway alone builds no cache, stores, agent directory or audit log.
  const full = options.runtime ?? (runsSubgraphs ? await createRuntime(config) : null);
  const runtime: ProcessRuntime = full ?? (await createGatewayRuntime(config));
  const services: Partial<Record<ServiceName, RunningService>> = {};
  const started: RunningService[] = [];
  const close = async () => {
    // Gateway first (stop taking client requests), then subgraphs, then connections.
    for (const service of [...started].reverse()) await service.close();
    if (!options.runtime) await runtime.close();
  };
  try {
    const local: Partial<Record<SubgraphName, LocalSubgraph>> = {};
    for (const name of SUBGRAPHS) {
      if (!options.services.includes(name) || !full) continue;
      const service = await SUBGRAPH_STARTERS[name](full, { port: config.ports[name] });
      services[name] = service;
      started.push(service);
      if (service.local) local[name] = service.local;
    }
    if (options.services.includes("gateway")) {
      const urls = Object.fromEntries(
        SUBGRAPHS.flatMap((name) => (services[name] ? [[name, services[name].url]] : [])),
      );
      const gateway = await startGateway(runtime, {
        port: config.ports.gateway,
        subgraphUrls: { ...options.subgraphUrls, ...urls },
        localSubgraphs: options.gatewayOverHttp ? {} : local,
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
