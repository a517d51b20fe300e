/**
 * A real redis-server for tests, on a free port, with nothing persisted. It can be stopped and
 * started again on the same port to test outages and reconnection.
 *
 * A free port is only free when it is chosen: another worker's server can take it before ours
 * binds. Then our redis-server exits, and a plain PING would be answered by the other worker's
 * Redis, which the test would silently share (and which its own outage tests stop and flush).
 * So a start counts only when the server answering reports our process id, and a fresh start
 * tries another port when it lost the race.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "./ports.js";

export function redisServerAvailable(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

export class RedisServer {
  private process: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-redis-"));

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  /** The running redis-server's process id, or null while stopped. */
  get pid(): number | null {
    return this.process?.pid ?? null;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `args` may depend on the port (a cluster node names its config file after it). */
  static async start(
    options: { port?: number; args?: string[] | ((port: number) => string[]) } = {},
  ): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      const args = typeof options.args === "function" ? options.args(port) : (options.args ?? []);
      const server = new RedisServer(port, args);
      try {
        await server.start();
        return server;
      } catch (error) {
        await server.close();
        const retry = error instanceof PortTakenError && options.port === undefined && attempt < 5;
        if (!retry) throw error;
      }
    }
  }

  async start(): Promise<void> {
    if (this.process) return;
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
        ...this.extraArgs,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.process = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answeredBy = await serverProcessId(this.port);
      if (answeredBy === child.pid) return;
      if (child.exitCode !== null || answeredBy !== null) {
        this.process = null;
        if (child.exitCode === null) child.kill("SIGKILL");
        if (answeredBy !== null || /address already in use/i.test(stderr)) {
          throw new PortTakenError(`port ${this.port} is taken by another process: ${stderr}`);
        }
        throw new Error(`redis-server exited (${child.exitCode}): ${stderr}`);
      }
      if (Date.now() > deadline)
        throw new Error(`redis-server did not start on port ${this.port}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class PortTakenError extends Error {}

/** The process id of the Redis answering on the port (INFO server), or null when none answers. */
export function serverProcessId(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (pid: number | null) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(500, () => done(null));
    socket.on("error", () => done(null));
    socket.on("connect", () => socket.write("INFO server\r\n"));
    socket.on("data", (data) => {
      reply += data.toString();
      const match = /process_id:(\d+)/.exec(reply);
      if (match) done(Number(match[1]));
      else if (reply.startsWith("-")) done(null);
    });
  });
}
