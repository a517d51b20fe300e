/**
 * Client tokens at the gateway: HS256, RS256 and ES256 (JWKS served by a real HTTP server),
 * expiry and not-before with clock skew, issuer and audience.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { startTestStack, TEST_JWT_SECRET, type TestStack } from "../support/stack.js";

const QUERY = `{ agent(id: "tok-1") { id } }`;
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
type SigningKey = Parameters<SignJWT["sign"]>[0];

describe("token verification", () => {
  let jwksServer: http.Server;
  let mnemo: TestStack;
  let rsa: KeyPair;
  let ec: KeyPair;
  let stranger: KeyPair;

  beforeAll(async () => {
    rsa = await generateKeyPair("RS256");
    ec = await generateKeyPair("ES256");
    stranger = await generateKeyPair("RS256");
    const keys: JWK[] = [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ];
    jwksServer = http.createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const { port } = jwksServer.address() as AddressInfo;
    mnemo = await startTestStack({
      env: {
        AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        AUTH_ISSUER: "https://issuer.example",
        AUTH_AUDIENCE: "mnemo",
      },
    });
  });
  afterAll(async () => {
    await mnemo?.close();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  const sign = (
    key: SigningKey,
    alg: string,
    options: {
      kid?: string;
      /** null: no `exp` claim at all. */
      exp?: number | null;
      nbf?: number;
      iss?: string;
      aud?: string;
      role?: string;
    } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT({ role: options.role ?? "admin", agents: ["*"] })
      .setProtectedHeader({ alg, ...(options.kid ? { kid: options.kid } : {}) })
      .setSubject("someone")
      .setIssuer(options.iss ?? "https://issuer.example")
      .setAudience(options.aud ?? "mnemo")
      .setIssuedAt(now);
    if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? now + 600);
    if (options.nbf !== undefined) jwt = jwt.setNotBefore(options.nbf);
    return jwt.sign(key);
  };
  const ask = (token: string) =>
    postGraphQL(mnemo.url("gateway"), QUERY, {}, { authorization: `Bearer ${token}` });
  const hsKey = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = () => Math.floor(Date.now() / 1000);

  it("accepts HS256, RS256 and ES256 tokens from the configured issuer and audience", async () => {
    for (const token of [
      await sign(hsKey, "HS256"),
      await sign(rsa.privateKey, "RS256", { kid: "rsa-1" }),
      await sign(ec.privateKey, "ES256", { kid: "ec-1" }),
    ]) {
      const response = await ask(token);
      expect(response.errors, token.slice(0, 20)).toBeUndefined();
      expect(response.data).toEqual({ agent: { id: "tok-1" } });
    }
  });

  it("refuses keys not in the JWKS, wrong issuer or audience, expired and not-yet-valid tokens", async () => {
    const cases: [string, string, RegExp][] = [
      ["unknown key", await sign(stranger.privateKey, "RS256", { kid: "rsa-1" }), /signature/],
      ["unknown kid", await sign(stranger.privateKey, "RS256", { kid: "nope" }), /no key in the key set/],
      ["issuer", await sign(hsKey, "HS256", { iss: "https://evil.example" }), /iss/],
      ["audience", await sign(hsKey, "HS256", { aud: "someone-else" }), /aud/],
      ["expired", await sign(hsKey, "HS256", { exp: now() - 120 }), /expired/],
      ["not yet valid", await sign(hsKey, "HS256", { nbf: now() + 600 }), /nbf/],
      [
        "alg none",
        `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"x","role":"admin"}').toString("base64url")}.`,
        /algorithm none not accepted/,
      ],
      ["bad role", await sign(hsKey, "HS256", { role: "root" }), /role/],
      ["no exp (HS256)", await sign(hsKey, "HS256", { exp: null }), /no `exp` claim/],
      ["no exp (RS256)", await sign(rsa.privateKey, "RS256", { kid: "rsa-1", exp: null }), /no `exp` claim/],
    ];
    for (const [name, token, message] of cases) {
      const response = await ask(token);
      expect(response.status, name).toBe(401);
      expect(errorCodes(response), name).toEqual(["UNAUTHENTICATED"]);
      expect(response.errors?.[0]?.message, name).toMatch(message);
    }
  });

  it("tolerates a little clock skew on exp and nbf", async () => {
    const skewed = [
      await sign(hsKey, "HS256", { exp: now() - 10 }),
      await sign(hsKey, "HS256", { nbf: now() + 10 }),
    ];
    for (const token of skewed) expect((await ask(token)).errors).toBeUndefined();
  });
});

describe("tokens without exp, with AUTH_ALLOW_NO_EXP=true", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ env: { AUTH_ALLOW_NO_EXP: "true" } });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("accepts a token that never expires, and still refuses an expired one", async () => {
    const key = new TextEncoder().encode(TEST_JWT_SECRET);
    const base = () =>
      new SignJWT({ role: "admin", agents: ["*"] })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("forever");
    const forever = await base().sign(key);
    const expired = await base()
      .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
      .sign(key);
    const ask = (token: string) =>
      postGraphQL(mnemo.url("gateway"), QUERY, {}, { authorization: `Bearer ${token}` });
    const accepted = await ask(forever);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data).toEqual({ agent: { id: "tok-1" } });
    expect(errorCodes(await ask(expired))).toEqual(["UNAUTHENTICATED"]);
  });
});
