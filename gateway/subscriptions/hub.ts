/**
 * Client subscriptions, grouped. Clients that send the same subscription (same text, variables
 * and principal scope) form one group: one upstream listener, one execution of the plan's `rest`
 * per event, one formatted and serialised result sent to every member. So 1,000 dashboards watching one agent
 * cost one upstream subscription and one entity fetch per event, not 1,000.
 *
 * Events of a group are executed one after another, in the order the upstream sent them, so
 * clients receive them in order even when `rest` takes longer for one event than the next.
 */
import canonicalize from "canonicalize";
import type { FormattedExecutionResult, GraphQLFormattedError } from "graphql";
import type { Principal } from "../../core/auth/principal.js";
import { ErrorCode } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { type ClientConnection, ClientStream, OutgoingEvent } from "./client-stream.js";
import { unavailableError } from "./errors.js";
import type { FederatedExecutor, UpstreamEvent } from "./executor.js";
import type { WireFormat } from "./format.js";
import type { SubscriptionMetrics } from "./metrics.js";
import { type PreparedOperation, subscriptionNode } from "./planner.js";
import { principalScope, type UpstreamPool } from "./upstream-pool.js";

/** Members sent to between two turns of the event loop, so a huge group does not starve HTTP. */
const FAN_OUT_SLICE = 256;

export interface SubscriptionHubOptions {
  /**
   * Events that may wait in a group for execution (SUBSCRIPTION_QUEUE_LIMIT). More means the
   * gateway cannot keep up with this subscription: its clients get UNAVAILABLE rather than the
   * backlog growing without bound.
   */
  backlogLimit: number;
  pool: UpstreamPool;
  executor: FederatedExecutor;
  format: WireFormat;
  metrics: SubscriptionMetrics;
  logger: Logger;
}

export class SubscriptionHub {
  private readonly groups = new Map<string, EventGroup>();

  constructor(private readonly options: SubscriptionHubOptions) {}

  /** Groups of identical client subscriptions open now. */
  get size(): number {
    return this.groups.size;
  }

  subscribe(
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    principal: Principal,
    connection: ClientConnection,
    /** The client's id for this subscription (graphql-ws message id). */
    id: string,
  ): ClientStream {
    const key = JSON.stringify([principalScope(principal), prepared.key, canonicalize(variables) ?? "{}"]);
    let group = this.groups.get(key);
    if (!group) {
      group = new EventGroup(this.options, prepared, variables, principal, () => {
        if (this.groups.get(key) === group) this.groups.delete(key);
      });
      this.groups.set(key, group);
    }
    const member = group;
    const { metrics } = this.options;
    metrics.clientSubscriptions.inc();
    const stream = new ClientStream(connection, id, () => {
      metrics.clientSubscriptions.dec();
      member.leave(stream);
    });
    member.join(stream);
    return stream;
  }
}

class EventGroup {
  private readonly members = new Set<ClientStream>();
  /** The previous event's delivery: events are executed and delivered in upstream order. */
  private tail: Promise<void> = Promise.resolve();
  private readonly stopUpstream: () => void;
  private detached = false;
  /** Events received from upstream and not yet delivered. */
  private backlog = 0;

  constructor(
    private readonly options: SubscriptionHubOptions,
    private readonly prepared: PreparedOperation,
    private readonly variables: Record<string, unknown>,
    private readonly principal: Principal,
    private readonly unregister: () => void,
  ) {
    const { primary } = subscriptionNode(prepared);
    const used: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) {
      if (Object.hasOwn(variables, name) && variables[name] !== undefined) used[name] = variables[name];
    }
    this.stopUpstream = options.pool.subscribe(
      {
        subgraph: primary.serviceName,
        operation: primary.operation,
        operationName: primary.operationName,
        variables: used,
        principal,
      },
      {
        next: (event) => {
          if (this.detached) return;
          if (++this.backlog > options.backlogLimit) {
            this.overloaded();
            return;
          }
          this.inOrder(async () => {
            try {
              await this.deliver(event);
            } finally {
              this.backlog--;
            }
          });
        },
        error: (errors) => {
          this.detach();
          const formatted = options.format.upstreamErrors(primary.serviceName, errors);
          this.inOrder(() => this.forEachMember((member) => member.fail(formatted)));
        },
        complete: () => {
          this.detach();
          this.inOrder(() => this.forEachMember((member) => member.end()));
        },
      },
    );
  }

  join(stream: ClientStream): void {
    this.members.add(stream);
  }

  leave(stream: ClientStream): void {
    this.members.delete(stream);
    if (this.members.size > 0) return;
    this.detach();
    this.stopUpstream();
  }

  /** Ends the group at once, queued events unsent: the members are told, not left waiting. */
  private overloaded(): void {
    const { backlogLimit, metrics, logger } = this.options;
    metrics.overloadedGroups.inc();
    logger.warn(
      { members: this.members.size },
      "a subscription's events arrive faster than they can be delivered",
    );
    this.detach();
    this.stopUpstream();
    const errors = [
      unavailableError(
        `The gateway cannot keep up with this subscription's events (more than ${backlogLimit} waiting); ` +
          "events were missed: subscribe again",
      ),
    ];
    this.forEachMember((member) => member.fail(errors));
  }

  /** No new members: the group is ending (its upstream is over or its last member left). */
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.unregister();
  }

  private inOrder(step: () => Promise<void> | void): void {
    this.tail = this.tail.then(step).catch((error: unknown) => {
      this.options.logger.error({ err: String(error) }, "subscription event delivery failed");
    });
  }

  private async deliver(event: UpstreamEvent): Promise<void> {
    if (this.members.size === 0) return;
    const { executor, format, metrics } = this.options;
    let result: FormattedExecutionResult;
    try {
      result = format.result(
        await executor.executeEvent(this.prepared, this.variables, this.principal, event),
      );
    } catch (error) {
      // A bug in execution costs this event, not the subscription.
      this.options.logger.error({ err: String(error) }, "could not execute a subscription event");
      result = { data: null, errors: [internalError()] };
    }
    // Serialised once for every member, and encoded once per distinct subscription id
    // (see client-stream.ts).
    const outgoing = new OutgoingEvent(JSON.stringify(result));
    const members = [...this.members];
    for (let i = 0; i < members.length; i++) {
      if (i > 0 && i % FAN_OUT_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      members[i]!.push(outgoing);
    }
    metrics.eventsDelivered.inc(members.length);
  }

  private forEachMember(action: (member: ClientStream) => void): void {
    for (const member of [...this.members]) action(member);
  }
}

function internalError(): GraphQLFormattedError {
  return {
    message: "The event could not be executed",
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
