/**
 * A real Redis Sentinel setup for tests: a master, one replica and one sentinel (quorum 1), each
 * a redis-server on a free port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";
import { RedisServer, serverProcessId } from "./redis-server.js";

export const SENTINEL_MASTER_NAME = "mymaster";

export class RedisSentinelSetup {
  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinelPort: number,
    private readonly sentinel: ChildProcess,
    private readonly dir: string,
  ) {}

  /** `host:port` as REDIS_SENTINELS expects. */
  get sentinelsSetting(): string {
    return `127.0.0.1:${this.sentinelPort}`;
  }

  static async start(): Promise<RedisSentinelSetup> {
    const master = await RedisServer.start();
    const replica = await RedisServer.start({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    const sentinelPort = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-sentinel-"));
    const config = path.join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${sentinelPort}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
        "",
      ].join("\n"),
    );
    const sentinel = spawn("redis-server", [config, "--sentinel"], { stdio: "ignore" });
    const setup = new RedisSentinelSetup(master, replica, sentinelPort, sentinel, dir);
    try {
      await setup.waitFor(async (client) => {
        const replicas = (await client.call("SENTINEL", "REPLICAS", SENTINEL_MASTER_NAME)) as string[][];
        return replicas.length === 1;
      });
      // Another worker's sentinel (same master name) could hold the port: see redis-server.ts.
      if ((await serverProcessId(sentinelPort)) !== sentinel.pid) {
        throw new Error(`sentinel port ${sentinelPort} is answered by another process`);
      }
    } catch (error) {
      await setup.close();
      throw error;
    }
    return setup;
  }

  /** The port of the current master, as the sentinel sees it. */
  async masterPort(): Promise<number> {
    const client = new Redis(this.sentinelPort, "127.0.0.1");
    try {
      const [, port] = (await client.call(
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        SENTINEL_MASTER_NAME,
      )) as string[];
      return Number(port);
    } finally {
      client.disconnect();
    }
  }

  /** Asks the sentinel to fail over and waits until the replica is the master. */
  async failover(): Promise<void> {
    const before = await this.masterPort();
    const client = new Redis(this.sentinelPort, "127.0.0.1");
    try {
      await client.call("SENTINEL", "FAILOVER", SENTINEL_MASTER_NAME);
    } finally {
      client.disconnect();
    }
    await this.waitFor(async () => (await this.masterPort()) !== before, 30_000);
  }

  private async waitFor(check: (client: Redis) => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const client = new Redis(this.sentinelPort, "127.0.0.1", { retryStrategy: () => 100 });
    client.on("error", () => {});
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const ok = await check(client).catch(() => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error("sentinel setup did not reach the expected state");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      client.disconnect();
    }
  }

  async close(): Promise<void> {
    if (this.sentinel.exitCode === null) {
      const exited = new Promise((resolve) => this.sentinel.once("exit", resolve));
      this.sentinel.kill("SIGKILL");
      await exited;
    }
    await this.replica.close();
    await this.master.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
