/**
 * A self-signed certificate for 127.0.0.1, made by openssl in a temporary directory, for tests
 * of the gateway over TLS. Make it in a `beforeAll` (not while the suite is collected, when a
 * filtered-out suite would never get to remove it) and remove it in the `afterAll`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate's PEM, to trust it as a CA. */
  pem(): Buffer;
  remove(): void;
}

export function createTestCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-tls-"));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
      .concat(["-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1"])
      .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
    { stdio: "ignore" },
  );
  return {
    certFile,
    keyFile,
    pem: () => readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
