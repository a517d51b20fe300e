/**
 * A real 3-node Redis Cluster for tests: three `redis-server --cluster-enabled yes` on free
 * ports, joined with `redis-cli --cluster create` (three masters, no replicas).
 */
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { RedisServer } from "./redis-server.js";

export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  /** `host:port,host:port,...` as REDIS_CLUSTER_NODES expects. */
  get nodesSetting(): string {
    return this.servers.map((server) => `127.0.0.1:${server.port}`).join(",");
  }

  static async start(size = 3): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        servers.push(
          await RedisServer.start({
            args: (port) => [
              "--cluster-enabled",
              "yes",
              "--cluster-config-file",
              `nodes-${port}.conf`,
              "--cluster-node-timeout",
              "5000",
            ],
          }),
        );
      }
      await run("redis-cli", [
        "--cluster",
        "create",
        ...servers.map((server) => `127.0.0.1:${server.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ]);
      const cluster = new RedisCluster(servers);
      await cluster.waitUntilReady();
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((server) => server.close()));
      throw error;
    }
  }

  /** Every node reports cluster_state:ok and all 16384 slots assigned. */
  private async waitUntilReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const server of this.servers) {
      const client = new Redis(server.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        for (;;) {
          const info = await client.cluster("INFO");
          if (/cluster_state:ok/.test(info) && /cluster_slots_assigned:16384/.test(info)) break;
          if (Date.now() > deadline) throw new Error(`cluster not ready: ${info}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        client.disconnect();
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.close()));
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${output}`)),
    );
  });
}
