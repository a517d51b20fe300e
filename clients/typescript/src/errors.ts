/**
 * Errors of the Mnemo API as classes: one per `extensions.code` of the server's vocabulary
 * (core/errors.ts), all extending MnemoError, so callers can `catch (e) { if (e instanceof
 * VersionConflictError) ... }` instead of comparing strings.
 */

/** One GraphQL error as the server sends it. */
export interface GraphQLErrorPayload {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

export interface MnemoErrorDetails {
  /** `extensions` of the first error. */
  extensions?: Record<string, unknown>;
  path?: readonly (string | number)[];
  /** Every error of the response (the first one is this error). */
  errors?: readonly GraphQLErrorPayload[];
  /** The HTTP status, when the error came back over HTTP. */
  status?: number;
  cause?: unknown;
}

/** Base class of every error the client throws for a failed operation. */
export class MnemoError extends Error {
  /** Server codes this class stands for (empty for the base class). */
  static readonly codes: readonly string[] = [];
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  readonly path?: readonly (string | number)[];
  readonly errors: readonly GraphQLErrorPayload[];
  readonly status?: number;

  constructor(code: string, message: string, details: MnemoErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.extensions = details.extensions ?? { code };
    this.path = details.path;
    this.errors = details.errors ?? [{ message, extensions: this.extensions }];
    this.status = details.status;
  }
}

/** An argument was invalid (the message says which and what is allowed); nothing was written. */
export class BadUserInputError extends MnemoError {
  static override readonly codes = ["BAD_USER_INPUT"];
}

/** The thing named does not exist (a version that was pruned, a memory id, a checkpoint). */
export class NotFoundError extends MnemoError {
  static override readonly codes = ["NOT_FOUND"];
}

/** A compare-and-set write lost: `currentVersion` is what the agent is at now. */
export class VersionConflictError extends MnemoError {
  static override readonly codes = ["VERSION_CONFLICT"];
  get currentVersion(): number | null {
    const value = this.extensions.currentVersion;
    return typeof value === "number" ? value : null;
  }
}

/** No token, or a token the server refuses (bad signature, expired). */
export class UnauthenticatedError extends MnemoError {
  static override readonly codes = ["UNAUTHENTICATED"];
}

/** The token is valid but may not do this (another agent, or a reader writing). */
export class ForbiddenError extends MnemoError {
  static override readonly codes = ["FORBIDDEN"];
}

/** A document, memory or request is over its configured size limit. */
export class PayloadTooLargeError extends MnemoError {
  static override readonly codes = ["PAYLOAD_TOO_LARGE"];
}

/** Too many operations for this principal; retry after `retryAfterSeconds`. */
export class RateLimitedError extends MnemoError {
  static override readonly codes = ["RATE_LIMITED"];
  get retryAfterSeconds(): number | null {
    const value = this.extensions.retryAfterSeconds;
    return typeof value === "number" ? value : null;
  }
}

/** Mnemo, or a store behind it, cannot be reached right now (also: the network failed). */
export class UnavailableError extends MnemoError {
  static override readonly codes = ["UNAVAILABLE"];
}

/** A bug or an unexpected failure on the server. */
export class InternalServerError extends MnemoError {
  static override readonly codes = ["INTERNAL_SERVER_ERROR"];
}

/**
 * The server could not parse or validate the request: with generated operations this means the
 * client was built against a different schema than the server runs.
 */
export class InvalidRequestError extends MnemoError {
  static override readonly codes = ["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST"];
}

/** Every error class of the vocabulary, for lookups by code. */
export const ERROR_CLASSES = [
  BadUserInputError,
  NotFoundError,
  VersionConflictError,
  UnauthenticatedError,
  ForbiddenError,
  PayloadTooLargeError,
  RateLimitedError,
  UnavailableError,
  InternalServerError,
  InvalidRequestError,
] as const;

const CLASS_BY_CODE = new Map<
  string,
  new (
    code: string,
    message: string,
    details?: MnemoErrorDetails,
  ) => MnemoError
>(ERROR_CLASSES.flatMap((errorClass) => errorClass.codes.map((code) => [code, errorClass] as const)));

/** The error to throw for a response's errors: the first error decides the class. */
export function errorFromGraphQL(
  errors: readonly GraphQLErrorPayload[],
  details: Pick<MnemoErrorDetails, "status"> = {},
): MnemoError {
  const first = errors[0] ?? { message: "The server returned an empty error list" };
  const code = typeof first.extensions?.code === "string" ? first.extensions.code : "INTERNAL_SERVER_ERROR";
  const ErrorClass = CLASS_BY_CODE.get(code) ?? MnemoError;
  return new ErrorClass(code, first.message, {
    extensions: first.extensions ?? { code },
    path: first.path,
    errors,
    status: details.status,
  });
}
