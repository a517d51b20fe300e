import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";

describe("gateway over TLS", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-tls-"));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  let mnemo: TestStack;

  beforeAll(async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    mnemo = await startTestStack({ env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } });
  });
  afterAll(async () => {
    await mnemo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves https with the configured certificate and refuses plain http", async () => {
    const url = mnemo.url("gateway");
    expect(url.startsWith("https://")).toBe(true);
    const dispatcher = new Agent({ connect: { ca: readFileSync(certFile) } });
    const response = await request(url, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", authorization: `Bearer ${await mnemo.token(ADMIN)}` },
      body: JSON.stringify({ query: "{ agents { totalCount } }" }),
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ data: { agents: { totalCount: 0 } } });
    await dispatcher.close();
    await expect(fetch(url.replace("https:", "http:"), { method: "POST" })).rejects.toThrow();
  });
});
