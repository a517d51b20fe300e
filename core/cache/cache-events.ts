/**
 * What the cache tells every process (and the `cacheEvents` subscription) over the event bus:
 * invalidations and policy changes. Delivery is best effort (Redis pub/sub): correctness never
 * depends on an event arriving, only liveness of the admin view and how fast policies converge
 * (each process also re-reads the policies periodically and on reconnect).
 */
import { type EventBus, topic } from "../events.js";
import type { Logger } from "../logger.js";
import type { CacheDataType, CachePolicy } from "./policy.js";

export const CACHE_EVENTS_TOPIC = topic("cache");
/** Warm requests and their replies (warm.ts). */
export const WARM_REQUEST_TOPIC = topic("cache-warm");
export const warmReplyTopic = (requestId: string) => topic("cache-warm-reply", requestId);

export type CacheEventKind = "INVALIDATION" | "POLICY_CHANGE";
export type InvalidationScope = "KEY" | "AGENT" | "TYPE";
/** WRITE: a store write (INVALIDATE policy, or a disabled type); DELETE: data removed from the store; ADMIN: the admin API. */
export type InvalidationCause = "WRITE" | "DELETE" | "ADMIN";

/** A policy with where it came from; `updatedAt` null means the built-in default. */
export interface PolicyRecord extends CachePolicy {
  type: CacheDataType;
  isDefault: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface CacheEvent {
  kind: CacheEventKind;
  scope: InvalidationScope | null;
  cause: InvalidationCause | null;
  type: CacheDataType | null;
  agentId: string | null;
  key: string | null;
  /** Entries affected, when known. */
  count: number | null;
  policy: PolicyRecord | null;
  /** The process that caused it (CacheEventPublisher.origin). */
  origin: string;
  /** ISO 8601. */
  at: string;
}

/** What a role says happened; the publisher fills in the rest. */
export type CacheEventInput = Pick<CacheEvent, "kind"> & Partial<Omit<CacheEvent, "origin" | "at">>;

export class CacheEventPublisher {
  constructor(
    private readonly events: EventBus,
    /** Identifies this process in the events it publishes. */
    readonly origin: string,
    private readonly logger?: Logger,
  ) {}

  publish(event: CacheEventInput): void {
    const full: CacheEvent = {
      scope: null,
      cause: null,
      type: null,
      agentId: null,
      key: null,
      count: null,
      policy: null,
      ...event,
      origin: this.origin,
      at: new Date().toISOString(),
    };
    // Not awaited, not tracked: an event must never hold (or fail) the write that caused it, and
    // the publisher queues while Redis is down, so waiting for it could hold a shutdown too.
    this.events.publish(CACHE_EVENTS_TOPIC, full).catch((error: unknown) => {
      this.logger?.debug({ err: String(error) }, "cache event not published");
    });
  }
}
