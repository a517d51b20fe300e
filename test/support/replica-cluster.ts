/**
 * Mnemo as a replicated deployment on one machine: every service in its own process (as in
 * Kubernetes), replicas of a kind behind a TCP balancer (a Service), all of them on one Redis
 * and one Neo4j. Gateways reach the subgraphs through their balancers; clients reach the
 * gateways through two `failover` balancers with opposite preferences, so a client that writes
 * through one and reads through the other reads from the other gateway while both live.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceProcess } from "./service-process.js";
import { testEnvironment } from "./stack.js";
import { type Backend, TcpBalancer } from "./tcp-balancer.js";

export type ReplicatedKind = "gateway" | "state" | "memory";
export type Kind = ReplicatedKind | "cache-admin";

export interface ReplicaClusterOptions {
  redisUrl: string;
  /** STORE=neo4j and NEO4J_* for every process. */
  neo4jEnv: Record<string, string>;
  /** How many of each replicated kind to start (cache-admin: always one). */
  replicas: Record<ReplicatedKind, number>;
  env?: Record<string, string>;
}

const backendOf = (url: string): Backend => {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
};

export class ReplicaCluster {
  readonly processes: Record<Kind, ServiceProcess[]> = {
    gateway: [],
    state: [],
    memory: [],
    "cache-admin": [],
  };
  private readonly balancers = new Map<Kind, TcpBalancer>();
  /** Clients' two ways in: A prefers gateway 1, B the last gateway. */
  gatewayA!: TcpBalancer;
  gatewayB!: TcpBalancer;
  private readonly dataDirs: string[] = [];

  private constructor(private readonly options: ReplicaClusterOptions) {}

  static async start(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
    const cluster = new ReplicaCluster(options);
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    // One replica first, alone: it creates the Neo4j schema (constraints, indexes) once.
    await this.startReplica("state");
    await Promise.all([this.startReplica("memory"), this.startReplica("cache-admin")]);
    const more: Promise<unknown>[] = [];
    for (const kind of ["state", "memory"] as const) {
      for (let i = 1; i < this.options.replicas[kind]; i++) more.push(this.startReplica(kind));
    }
    await Promise.all(more);
    for (let i = 0; i < this.options.replicas.gateway; i++) await this.startReplica("gateway");
  }

  /** Starts one more replica of a kind and puts it behind its balancer. */
  async startReplica(kind: Kind): Promise<ServiceProcess> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `mnemo-replica-${kind}-`));
    this.dataDirs.push(dataDir);
    const env: Record<string, string> = {
      ...process.env,
      ...testEnvironment({ dataDir, redisUrl: this.options.redisUrl }),
      ...this.options.neo4jEnv,
      ...this.options.env,
    } as Record<string, string>;
    if (kind === "gateway") {
      env.STATE_URL = this.balancers.get("state")!.url();
      env.MEMORY_URL = this.balancers.get("memory")!.url();
      env.CACHE_ADMIN_URL = this.balancers.get("cache-admin")!.url();
    }
    const replica = await ServiceProcess.start(kind, env);
    this.processes[kind].push(replica);
    const backend = backendOf(replica.url(kind));
    if (kind === "gateway") {
      if (!this.gatewayA) {
        this.gatewayA = await TcpBalancer.start([backend], "failover");
        this.gatewayB = await TcpBalancer.start([backend], "failover");
      } else {
        this.gatewayA.add(backend);
        this.gatewayB.prepend(backend);
      }
    } else {
      const balancer = this.balancers.get(kind);
      if (balancer) balancer.add(backend);
      else this.balancers.set(kind, await TcpBalancer.start([backend]));
    }
    return replica;
  }

  /** The GraphQL endpoint of one gateway process (not balanced). */
  gatewayUrl(index: number): string {
    return this.processes.gateway[index]!.url("gateway");
  }

  async close(): Promise<void> {
    for (const kind of ["gateway", "cache-admin", "memory", "state"] as const) {
      await Promise.all(this.processes[kind].map((replica) => replica.stop().catch(() => {})));
    }
    await Promise.all([...this.balancers.values(), this.gatewayA, this.gatewayB].map((b) => b?.close()));
    for (const dir of this.dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}
