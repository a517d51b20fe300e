/**
 * A TCP load balancer on loopback, standing in for a Kubernetes Service in front of replicas:
 * each new connection goes to a backend that accepts it (a killed replica's port refuses, so it
 * is skipped, as an endpoint that failed its readiness probe would be). `round-robin` spreads
 * connections; `failover` sends each to the first backend in its list that accepts, so a test
 * can make two clients talk to different replicas for as long as both live.
 * Connections are spliced byte for byte, so HTTP keep-alive and WebSockets pass through; when
 * either side closes, the other is closed too, as when a pod dies under a connection.
 */
import net from "node:net";

export interface Backend {
  host: string;
  port: number;
}

export type BalancePolicy = "round-robin" | "failover";

export class TcpBalancer {
  private next = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private readonly backends: Backend[],
    private readonly policy: BalancePolicy,
  ) {}

  static async start(backends: Backend[], policy: BalancePolicy = "round-robin"): Promise<TcpBalancer> {
    const server = net.createServer();
    const balancer = new TcpBalancer(server, [...backends], policy);
    server.on("connection", (client) => balancer.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return balancer;
  }

  /** The address as a service URL, e.g. http://127.0.0.1:PORT/graphql */
  url(path = "/graphql"): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}${path}`;
  }

  add(backend: Backend): void {
    this.backends.push(backend);
  }

  /** Puts a backend first (for `failover`: the one preferred from now on). */
  prepend(backend: Backend): void {
    this.backends.unshift(backend);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.pause();
    client.on("error", () => client.destroy());
    const start = this.policy === "round-robin" ? this.next++ : 0;
    const attempt = (tried: number) => {
      if (tried >= this.backends.length || client.destroyed) {
        client.destroy();
        return;
      }
      const backend = this.backends[(start + tried) % this.backends.length]!;
      const upstream = net.connect(backend.port, backend.host);
      this.track(upstream);
      // Refused before connecting: the replica is gone, try the next one.
      const refused = () => {
        upstream.destroy();
        attempt(tried + 1);
      };
      upstream.once("error", refused);
      upstream.once("connect", () => {
        upstream.off("error", refused);
        upstream.on("error", () => client.destroy());
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }
}
