/**
 * `npm run token`: the real command in a child process, its token used against a real stack
 * that shares the secret.
 */
import { spawnSync } from "node:child_process";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { startTestStack, TEST_JWT_SECRET, type TestStack } from "../support/stack.js";

function mintToken(args: string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "bin/token.ts", ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, AUTH_JWT_SECRET: TEST_JWT_SECRET, ...env },
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

describe("npm run token", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack();
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  const readState = (token: string, agentId: string) =>
    postGraphQL(
      mnemo.url("gateway"),
      "query Read($id: ID!) { agent(id: $id) { id } }",
      { id: agentId },
      { authorization: `Bearer ${token}` },
    );

  it("mints an agent token for the given agents and lifetime that the server accepts", async () => {
    const minted = mintToken(["--role", "agent", "--agents", "tc-a,tc-b", "--ttl", "1h"]);
    expect(minted.stderr).toMatch(/agent token for tc-a, tc-b/);
    expect(minted.status).toBe(0);
    const claims = decodeJwt(minted.stdout);
    expect(claims).toMatchObject({ role: "agent", agents: ["tc-a", "tc-b"], sub: "mnemo-cli" });
    expect(claims.exp! - claims.iat!).toBe(3600);

    for (const agentId of ["tc-a", "tc-b"]) {
      const allowed = await readState(minted.stdout, agentId);
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data).toEqual({ agent: { id: agentId } });
    }
    expect(errorCodes(await readState(minted.stdout, "tc-c"))).toEqual(["FORBIDDEN"]);
  });

  it("gives admin all agents by default and takes a subject", async () => {
    const minted = mintToken(["--role", "admin", "--sub", "ops", "--ttl", "30m"]);
    expect(minted.status).toBe(0);
    const claims = decodeJwt(minted.stdout);
    expect(claims).toMatchObject({ role: "admin", agents: ["*"], sub: "ops" });
    expect(claims.exp! - claims.iat!).toBe(1800);
    expect((await readState(minted.stdout, "anyone")).errors).toBeUndefined();
  });

  it("says clearly what is wrong: no secret, a short secret, a bad role, ttl or missing agents", () => {
    const noSecret = mintToken(["--role", "agent", "--agents", "a"], { AUTH_JWT_SECRET: undefined });
    expect(noSecret.status).toBe(1);
    expect(noSecret.stdout).toBe("");
    expect(noSecret.stderr).toMatch(/^AUTH_JWT_SECRET is not set/);

    const shortSecret = mintToken(["--role", "agent", "--agents", "a"], { AUTH_JWT_SECRET: "short" });
    expect(shortSecret.status).toBe(1);
    expect(shortSecret.stderr).toMatch(/AUTH_JWT_SECRET must be at least 32 bytes/);

    const cases: [string[], RegExp][] = [
      [[], /--role is required/],
      [["--role", "root"], /--role must be one of admin, agent, reader/],
      [["--role", "agent"], /--agents is required for role agent/],
      [["--role", "reader", "--agents", "a", "--ttl", "forever"], /--ttl must be a number followed by/],
      [["--role", "reader", "--agents", "a", "--ttl", "0s"], /--ttl must be from 1s/],
      [["--role", "reader", "--agents", "a", "--ttl", "400d"], /--ttl must be from 1s to 366d/],
      [["--role", "reader", "--color", "blue"], /Unknown option '--color'/],
    ];
    for (const [args, message] of cases) {
      const result = mintToken(args);
      expect(result.status, args.join(" ")).toBe(2);
      expect(result.stdout, args.join(" ")).toBe("");
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr).toMatch(/Usage: npm run -s token/);
    }
  });
});
