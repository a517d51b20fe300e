/**
 * Remembers tokens that verified, so a client sending the same token on every request costs one
 * signature check per minute instead of one per request (jose verifies through WebCrypto, which
 * is asynchronous and costs far more than the lookup). Only successes are cached, keyed by the
 * whole token including its signature, so a forged or altered token can never hit. An entry
 * never outlives the token's own `exp`.
 */
import { webcrypto } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Principal } from "./principal.js";

const MAX_REUSE_MS = 60_000;

export class VerifiedTokenCache {
  private readonly entries = new LRUCache<string, Principal>({ max: 10_000, ttlAutopurge: false });

  get(token: string): Principal | undefined {
    return this.entries.get(token);
  }

  remember(token: string, principal: Principal, expiresAtSeconds: number | undefined): void {
    const untilExpiry = expiresAtSeconds === undefined ? MAX_REUSE_MS : expiresAtSeconds * 1000 - Date.now();
    const ttl = Math.min(MAX_REUSE_MS, untilExpiry);
    if (ttl > 0) this.entries.set(token, principal, { ttl });
  }
}

/** Imports an HS256 secret once; passing raw bytes to jose would re-import it on every call. */
export function hmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}
