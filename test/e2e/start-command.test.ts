import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postGraphQL } from "../support/graphql-client.js";

/**
 * `npm start` as a user runs it: one process, every service, no Redis, SQLite under DATA_DIR.
 * Ports are 0 so the test never collides; the banner tells where everything listens.
 */
describe("the start command", () => {
  // Made when the suite runs, not when it is collected: a filtered-out suite never removes it.
  let dataDir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-start-"));
  });
  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("starts everything in one process, prints Sandbox and a dev token, and stops cleanly on SIGINT", async () => {
    child = spawn(process.execPath, ["--import", "tsx", "bin/start.ts"], {
      env: {
        ...process.env,
        NODE_ENV: "development",
        GATEWAY_PORT: "0",
        STATE_PORT: "0",
        MEMORY_PORT: "0",
        CACHE_ADMIN_PORT: "0",
        DATA_DIR: dataDir,
        REDIS_URL: "",
        AUTH_JWT_SECRET: "",
        INTERNAL_SECRET: "",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));

    const deadline = Date.now() + 30_000;
    while (!/Authorization: Bearer (\S+)/.test(output)) {
      if (Date.now() > deadline) throw new Error(`no banner:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toContain("in-process cache and pub/sub");
    const gatewayUrl = /Mnemo gateway ready: (\S+)/.exec(output)![1]!;
    expect(output).toContain(`Apollo Sandbox:       open ${gatewayUrl}`);
    const graphiqlUrl = /GraphiQL \(offline\): {3}open (\S+)/.exec(output)![1]!;
    expect(graphiqlUrl).toBe(new URL("/graphiql", gatewayUrl).toString());
    expect((await fetch(graphiqlUrl)).status).toBe(200);
    expect(output).toContain(`MCP over HTTP:        ${new URL("/mcp", gatewayUrl)}`);
    const token = /Authorization: Bearer (\S+)/.exec(output)![1]!;

    const write = await postGraphQL(
      gatewayUrl,
      `mutation { putState(agentId: "cli-1", data: {n: 1}) { version } }`,
      {},
      {
        authorization: `Bearer ${token}`,
      },
    );
    expect(write.data).toEqual({ putState: { version: 1 } });

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');

    // One JSON line per request at info level, naming the operation, never its data or the token.
    const afterBanner = output.slice(output.indexOf(token) + token.length);
    expect(afterBanner).toMatch(/"msg":"graphql request"/);
    expect(afterBanner).not.toContain(token);
    expect(output).not.toContain("private-state-text");
    expect(output).not.toContain("private-memory-text");
  });
});
