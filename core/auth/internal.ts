/**
 * Gateway → subgraph trust. The gateway forwards the verified principal in the
 * `x-mnemo-principal` header as a short-lived JWT signed with INTERNAL_SECRET; a subgraph
 * accepts a request only with a valid one, so a client cannot reach a subgraph directly and
 * claim to be someone else.
 */
import { jwtVerify, SignJWT } from "jose";
import { LRUCache } from "lru-cache";
import { unauthenticated } from "../errors.js";
import { type Principal, principalFromClaims } from "./principal.js";
import { hmacKey, VerifiedTokenCache } from "./verified-cache.js";

export const PRINCIPAL_HEADER = "x-mnemo-principal";
const AUDIENCE = "mnemo-subgraph";
const ISSUER = "mnemo-gateway";
const LIFETIME_SECONDS = 300;
/** A signed header is reused for this long, so fan-out (one event, many clients) does not re-sign. */
const REUSE_SECONDS = 60;

export function createPrincipalSigner(internalSecret: string) {
  const key = hmacKey(internalSecret);
  const recent = new LRUCache<string, { token: string; issuedAt: number }>({ max: 10_000 });
  return async function signPrincipal(principal: Principal): Promise<string> {
    const cacheKey = JSON.stringify([principal.sub, principal.role, principal.agents]);
    const now = Math.floor(Date.now() / 1000);
    const cached = recent.get(cacheKey);
    if (cached && now - cached.issuedAt < REUSE_SECONDS) return cached.token;
    const token = await new SignJWT({ role: principal.role, agents: principal.agents })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(principal.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + LIFETIME_SECONDS)
      .sign(await key);
    recent.set(cacheKey, { token, issuedAt: now });
    return token;
  };
}

export function createPrincipalVerifier(internalSecret: string) {
  const key = hmacKey(internalSecret);
  const verified = new VerifiedTokenCache();
  return async function verifyForwardedPrincipal(header: string | undefined | null): Promise<Principal> {
    if (!header) {
      throw unauthenticated("This subgraph only accepts requests forwarded by the Mnemo gateway");
    }
    const known = verified.get(header);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(header, await key, {
        algorithms: ["HS256"],
        audience: AUDIENCE,
        issuer: ISSUER,
        clockTolerance: 30,
      });
      const principal = principalFromClaims(payload);
      if (typeof principal === "string") throw new Error(principal);
      verified.remember(header, principal, payload.exp);
      return principal;
    } catch {
      throw unauthenticated(
        "The forwarded principal's signature is invalid: requests must come through the gateway",
      );
    }
  };
}
