/**
 * Client tokens, verified with `jose`: HS256 with AUTH_JWT_SECRET, and RS256/ES256 against the
 * keys published at AUTH_JWKS_URL (fetched and cached by jose, refreshed when an unknown `kid`
 * appears). The gateway is the only service that sees them.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { unauthenticated, unavailable } from "../errors.js";
import { type Principal, principalFromClaims } from "./principal.js";
import { hmacKey, VerifiedTokenCache } from "./verified-cache.js";

export interface TokenSettings {
  jwtSecret: string;
  /** Accept HS256 tokens signed with jwtSecret (default true). */
  acceptHs256?: boolean;
  /** Accept RS256/ES256 tokens signed by a key of this JWKS. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /**
   * Accept tokens without an `exp` claim (AUTH_ALLOW_NO_EXP, default false): such a token is
   * valid until the secret changes, so a leaked one cannot be contained by waiting.
   */
  allowNoExp?: boolean;
}

const ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"];

/** Tolerated clock difference between the token issuer and this server. */
export const CLOCK_TOLERANCE_SECONDS = 30;

export function createTokenVerifier(settings: TokenSettings) {
  const hsKey = settings.acceptHs256 === false ? null : hmacKey(settings.jwtSecret);
  const jwks = settings.jwksUrl
    ? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : null;
  const accepted = [...(hsKey ? ["HS256"] : []), ...(jwks ? ASYMMETRIC_ALGORITHMS : [])];
  const verified = new VerifiedTokenCache();

  return async function verifyToken(token: string): Promise<Principal> {
    const known = verified.get(token);
    if (known) return known;
    let algorithm: string | undefined;
    try {
      algorithm = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthenticated("Invalid token: malformed JWT");
    }
    if (!algorithm || !accepted.includes(algorithm)) {
      throw unauthenticated(
        `Invalid token: algorithm ${algorithm ?? "(none)"} not accepted (use ${accepted.join(" or ")})`,
      );
    }
    const options = {
      algorithms: [algorithm],
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    };
    try {
      const { payload } =
        algorithm === "HS256"
          ? await jwtVerify(token, await hsKey!, options)
          : await jwtVerify(token, jwks!, options);
      if (payload.exp === undefined && !settings.allowNoExp) {
        throw unauthenticated(
          "Invalid token: it has no `exp` claim; this server accepts only tokens that expire",
        );
      }
      const principal = principalFromClaims(payload);
      if (typeof principal === "string") throw unauthenticated(`Invalid token: ${principal}`);
      verified.remember(token, principal, payload.exp);
      return principal;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("Invalid token: it has expired");
      if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
        throw unavailable(
          "The identity provider's key set (AUTH_JWKS_URL) cannot be fetched; try again shortly",
        );
      }
      if (error instanceof joseErrors.JOSEError) {
        throw unauthenticated(`Invalid token: ${describeJoseError(error)}`);
      }
      if (error instanceof TypeError || (error as { code?: string }).code === "ECONNREFUSED") {
        throw unavailable(
          "The identity provider's key set (AUTH_JWKS_URL) cannot be fetched; try again shortly",
        );
      }
      throw error;
    }
  };
}

function describeJoseError(error: InstanceType<typeof joseErrors.JOSEError>): string {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature verification failed";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" ${error.reason}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "no key in the key set matches the token's kid";
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
