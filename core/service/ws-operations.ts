/**
 * One log line and one metrics sample per graphql-ws operation, as observabilityPlugin gives
 * every HTTP request: operation name, type, duration, outcome and error codes, never variables or
 * results. A query or mutation is recorded when its result has been sent; a subscription when it
 * ends (client `complete`, server `complete`, an `error`, or the socket closing), with its
 * lifetime as duration. Only queries and mutations enter the latency histogram: a
 * subscription's lifetime is not a latency.
 *
 * graphql-ws calls back per message id; one OperationRecords lives with each connection (ids
 * are unique only within one).
 */
import type { GraphQLFormattedError } from "graphql";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";

type OperationType = "query" | "mutation" | "subscription";

interface OperationRecord {
  name: string | null;
  type: OperationType | null;
  started: bigint;
  /** Execution started: graphql-ws will call onComplete for it. */
  executing: boolean;
  codes: Set<string>;
}

export class OperationRecords {
  private readonly open = new Map<string, OperationRecord>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
  ) {}

  /** A subscribe message arrived (graphql-ws onSubscribe). */
  start(id: string, name: string | null | undefined): void {
    this.open.set(id, {
      name: name ?? null,
      type: null,
      started: process.hrtime.bigint(),
      executing: false,
      codes: new Set(),
    });
  }

  /** What the operation turned out to be, once its document is parsed. */
  describe(id: string, name: string | null | undefined, type: OperationType): void {
    const record = this.open.get(id);
    if (!record) return;
    record.name = name ?? record.name;
    record.type = type;
  }

  /** Execution started (graphql-ws onOperation): the operation ends in onComplete. */
  executing(id: string): void {
    const record = this.open.get(id);
    if (record) record.executing = true;
  }

  /** Errors sent for the operation, in a result or an `error` message. */
  errors(id: string, errors: readonly Pick<GraphQLFormattedError, "extensions">[] | undefined): void {
    if (!errors?.length) return;
    const record = this.open.get(id);
    if (!record) return;
    for (const error of errors) record.codes.add(String(error.extensions?.code ?? "INTERNAL_SERVER_ERROR"));
  }

  /**
   * An `error` message was sent (graphql-ws onError). Refused before execution (syntax,
   * validation, limits), the operation ends here; during execution, onComplete follows.
   */
  failed(id: string, errors: readonly Pick<GraphQLFormattedError, "extensions">[]): void {
    this.errors(id, errors);
    if (this.open.get(id)?.executing === false) this.finish(id);
  }

  /** The operation is over (graphql-ws onComplete). */
  finish(id: string): void {
    const record = this.open.get(id);
    if (!record) return;
    this.open.delete(id);
    const durationMs = Number(process.hrtime.bigint() - record.started) / 1e6;
    const codes = [...record.codes];
    const outcome = codes.length > 0 ? "error" : "ok";
    const { metrics } = this;
    const label = metrics.operationLabel(record.name);
    metrics.requests.inc({ operation: label, outcome, transport: "ws" });
    if (record.type !== "subscription") {
      metrics.duration.observe({ operation: label, transport: "ws" }, durationMs / 1000);
    }
    for (const code of codes) metrics.errors.inc({ code });
    this.logger.info(
      {
        operation: record.name ?? "anonymous",
        type: record.type,
        transport: "ws",
        durationMs: Math.round(durationMs * 100) / 100,
        outcome,
        ...(codes.length > 0 ? { errorCodes: codes } : {}),
      },
      "graphql request",
    );
  }

  /** The socket closed: whatever graphql-ws has not completed ends now. */
  finishAll(): void {
    for (const id of [...this.open.keys()]) this.finish(id);
  }
}
