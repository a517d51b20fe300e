/**
 * How a subscription ends in error. The errors are already in their wire form (they came from a
 * subgraph over graphql-ws, or were formatted once for every client of a shared execution).
 */
import type { GraphQLFormattedError } from "graphql";
import { ErrorCode } from "../../core/errors.js";

/** Thrown by a client's event stream; the WebSocket server sends `errors` in an `error` message. */
export class SubscriptionFailure extends Error {
  constructor(readonly errors: readonly GraphQLFormattedError[]) {
    super(errors.map((error) => error.message).join("; "));
    this.name = "SubscriptionFailure";
  }
}

export function unavailableError(message: string): GraphQLFormattedError {
  return { message, extensions: { code: ErrorCode.UNAVAILABLE } };
}
