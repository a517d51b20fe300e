/**
 * Mnemo services in a child process: for what one process cannot show, such as a subgraph that
 * stops answering (SIGSTOP) while the rest keeps running, or a benchmark that measures each
 * process on its own.
 */
import { type ChildProcess, fork } from "node:child_process";

export class ServiceProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** Each started service's GraphQL endpoint. */
    readonly urls: Record<string, string>,
  ) {}

  /** `services` as for `npm start <service>`, comma-separated; `env` is the whole environment. */
  static start(services: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ServiceProcess> {
    const child = fork(new URL("./service-child.ts", import.meta.url).pathname, [services], {
      execArgv: ["--import", "tsx", ...nodeArgs],
      env,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      const exited = (code: number | null) =>
        reject(new Error(`${services} exited (${code}) before it was ready`));
      child.once("exit", exited);
      child.once("message", (message: { type: string; urls: Record<string, string> }) => {
        if (message.type !== "ready") return;
        child.off("exit", exited);
        resolve(new ServiceProcess(child, message.urls));
      });
    });
  }

  /** The child's process id (for reading its CPU time from /proc). */
  get pid(): number {
    return this.child.pid!;
  }

  url(service: string): string {
    const url = this.urls[service];
    if (!url) throw new Error(`service ${service} is not running in this process`);
    return url;
  }

  /** Freezes the process (SIGSTOP): its sockets stay open, nothing answers. */
  pause(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
  }

  /** SIGKILL, as a crash or an OOM kill would: no shutdown hooks, nothing flushed. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.resume();
    await new Promise<void>((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.send("stop");
    });
  }
}
