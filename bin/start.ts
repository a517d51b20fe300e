/**
 * `npm start [service]`: runs all services in one process (default), or one of gateway, state,
 * memory, cache-admin (how docker-compose runs them). Ctrl-C drains and shuts down cleanly.
 */
import { issueToken } from "../core/auth/tokens.js";
import { ConfigError, loadConfig, SERVICE_NAMES, type ServiceName } from "../core/config.js";
import { startStack } from "./stack.js";

/** A stuck shutdown is abandoned after this long. */
const SHUTDOWN_TIMEOUT_MS = 15_000;
/** A repeated signal within this window is the same Ctrl-C delivered twice, not a second one. */
const FORCE_EXIT_AFTER_MS = 1000;

function parseServices(argument: string | undefined): readonly ServiceName[] {
  if (argument === undefined || argument === "all") return SERVICE_NAMES;
  if ((SERVICE_NAMES as readonly string[]).includes(argument)) return [argument as ServiceName];
  console.error(`Unknown service "${argument}". Use one of: all, ${SERVICE_NAMES.join(", ")}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const services = parseServices(process.argv[2]);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, { services });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const stack = await startStack(config, { services });
  const { logger } = stack.runtime;
  logger.info(
    {
      services,
      store: config.store,
      dataDir: config.store === "sqlite" ? config.dataDir : undefined,
      redis: config.redis ? config.redis.mode : "off",
    },
    config.redis
      ? "Mnemo started with Redis (shared cache and pub/sub)"
      : "Mnemo started without Redis: in-process cache and pub/sub (single process only)",
  );

  const gateway = stack.services.gateway;
  const lines: string[] = [""];
  if (gateway) {
    lines.push(`  Mnemo gateway ready: ${gateway.url}`);
    if (config.introspection) {
      lines.push(
        `  Apollo Sandbox:       open ${gateway.url} in a browser (loads from Apollo's CDN)`,
        `  GraphiQL (offline):   open ${new URL("/graphiql", gateway.url)} in a browser`,
      );
    }
    lines.push(`  MCP over HTTP:        ${new URL("/mcp", gateway.url)} (stdio: npm run mcp)`);
  }
  for (const name of ["state", "memory", "cache-admin"] as const) {
    const service = stack.services[name];
    if (service) lines.push(`  ${`${name} subgraph:`.padEnd(21)} ${service.url}`);
  }
  if (gateway && config.auth.jwtSecretGenerated) {
    const token = await issueToken(config.auth, { sub: "dev-admin", role: "admin", agents: ["*"] });
    lines.push(
      "",
      "  Development admin token (AUTH_JWT_SECRET is unset, so a secret was generated for this run):",
      `  Authorization: Bearer ${token}`,
    );
  }
  console.log(`${lines.join("\n")}\n`);

  let stoppingSince = 0;
  const stop = (signal: string) => {
    if (stoppingSince > 0) {
      // A terminal's Ctrl-C reaches this process twice (directly and relayed by npm): only a
      // deliberate second Ctrl-C, a moment later, skips the drain.
      if (Date.now() - stoppingSince < FORCE_EXIT_AFTER_MS) return;
      logger.warn({ signal }, "second signal: exiting without waiting");
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, "shutting down: draining requests");
    const timer = setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    // pino writes asynchronously: flush before exiting so the last lines are not lost.
    const exit = (code: number) => logger.flush(() => process.exit(code));
    stack.close().then(
      () => {
        logger.info("stopped");
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: String(error) }, "error while shutting down");
        exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error("Mnemo failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
