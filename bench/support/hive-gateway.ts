/**
 * Hive Gateway (`@graphql-hive/gateway`) for bench:gateway only: installed on first use into
 * bench/.tools/hive-gateway (git-ignored, about 500 MB of dependencies), never a dependency of
 * Mnemo. It runs the checked-in supergraph against Mnemo's subgraphs and forwards the signed
 * principal header the client sends, since it cannot sign one itself.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { readSupergraph, SUBGRAPH_NAMES, type SubgraphName } from "../../gateway/supergraph.js";

/** Pinned: the last release checked on this machine with Node 20 (its engines: node >= 20). */
export const HIVE_GATEWAY_VERSION = "2.15.1";
const HOME = new URL("../.tools/hive-gateway/", import.meta.url);
const BIN = new URL("node_modules/@graphql-hive/gateway/dist/bin.js", HOME);

/** Installs Hive Gateway into bench/.tools/hive-gateway unless it is there already. */
export function ensureHiveGateway(): void {
  const installed = new URL("node_modules/@graphql-hive/gateway/package.json", HOME);
  if (existsSync(installed) && existsSync(BIN)) return;
  mkdirSync(HOME, { recursive: true });
  writeFileSync(
    new URL("package.json", HOME),
    `${JSON.stringify(
      {
        name: "mnemo-bench-hive-gateway",
        private: true,
        description: "Installed by bench/support/hive-gateway.ts for bench:gateway only",
        dependencies: { "@graphql-hive/gateway": HIVE_GATEWAY_VERSION },
      },
      null,
      2,
    )}\n`,
  );
  console.log(`installing @graphql-hive/gateway@${HIVE_GATEWAY_VERSION} into bench/.tools (once)…`);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: HOME,
    stdio: "inherit",
  });
}

export interface HiveGateway {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts Hive Gateway on `port` for the supergraph with these subgraph URLs. */
export async function startHiveGateway(
  port: number,
  subgraphUrls: Record<SubgraphName, string>,
  principalHeader: string,
): Promise<HiveGateway> {
  let supergraph = readSupergraph();
  for (const name of SUBGRAPH_NAMES) {
    // Each join__graph value names its subgraph and its routing URL.
    supergraph = supergraph.replace(
      new RegExp(`(@join__graph\\(name: "${name}", )url: "[^"]+"`),
      `$1url: "${subgraphUrls[name]}"`,
    );
    if (!supergraph.includes(`url: "${subgraphUrls[name]}"`)) throw new Error(`no routing URL for ${name}`);
  }
  writeFileSync(new URL("supergraph.graphql", HOME), supergraph);
  writeFileSync(
    new URL("gateway.config.mjs", HOME),
    `import { defineConfig } from "@graphql-hive/gateway";
export const gatewayConfig = defineConfig({
  supergraph: "./supergraph.graphql",
  logging: "error",
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ "${principalHeader}": request.headers.get("${principalHeader}") }),
  },
});
`,
  );
  const child: ChildProcess = spawn(process.execPath, [BIN.pathname, "supergraph", "--port", String(port)], {
    cwd: HOME,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hive-gateway exited (${child.exitCode})`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthcheck`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("hive-gateway did not start within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
