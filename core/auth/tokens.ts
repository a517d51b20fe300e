/**
 * Client tokens: HS256 JWTs verified with `jose`. The gateway is the only service that sees them.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { unauthenticated } from "../errors.js";
import { type Principal, principalFromClaims } from "./principal.js";
import { hmacKey, VerifiedTokenCache } from "./verified-cache.js";

export interface TokenSettings {
  jwtSecret: string;
  issuer?: string;
  audience?: string;
}

/** Tolerated clock difference between the token issuer and this server. */
export const CLOCK_TOLERANCE_SECONDS = 30;

export function createTokenVerifier(settings: TokenSettings) {
  const key = hmacKey(settings.jwtSecret);
  const verified = new VerifiedTokenCache();
  return async function verifyToken(token: string): Promise<Principal> {
    const known = verified.get(token);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, await key, {
        algorithms: ["HS256"],
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const principal = principalFromClaims(payload);
      if (typeof principal === "string") throw unauthenticated(`Invalid token: ${principal}`);
      verified.remember(token, principal, payload.exp);
      return principal;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("Invalid token: it has expired");
      if (error instanceof joseErrors.JOSEError)
        throw unauthenticated(`Invalid token: ${describeJoseError(error)}`);
      throw error;
    }
  };
}

function describeJoseError(error: InstanceType<typeof joseErrors.JOSEError>): string {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature verification failed";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" ${error.reason}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed (HS256 expected)";
  return "malformed JWT";
}

/** Extracts the token from an `Authorization: Bearer …` value; throws on any other shape. */
export function bearerToken(header: string | undefined | null): string | null {
  if (header === undefined || header === null || header === "") return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw unauthenticated('Malformed Authorization header: expected "Bearer <JWT>"');
  return match[1];
}

/** Issues a client token; used for the development admin token and by tests. */
export async function issueToken(
  settings: TokenSettings,
  principal: Principal,
  options: { expiresIn?: string | number } = {},
): Promise<string> {
  let jwt = new SignJWT({ role: principal.role, agents: principal.agents })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(principal.sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "30d");
  if (settings.issuer) jwt = jwt.setIssuer(settings.issuer);
  if (settings.audience) jwt = jwt.setAudience(settings.audience);
  return jwt.sign(new TextEncoder().encode(settings.jwtSecret));
}
