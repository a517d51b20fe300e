/**
 * What the cache tells every process (and the `cacheEvents` subscription) over the event bus:
 * invalidations and policy changes. Delivery is best effort (Redis pub/sub): correctness never
 * depends on an event arriving, only liveness of the admin view and how fast policies converge
 * (each process also re-reads the policies periodically and on reconnect).
 */
import { topic } from "../events.js";
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
  /** The process that caused it (CacheLayer.instanceId). */
  origin: string;
  /** ISO 8601. */
  at: string;
}
