/**
 * warmAgent across processes. The process serving the admin API may not be able to load any
 * data (in docker-compose, cache-admin runs alone); the state and memory processes can. So a
 * warm request goes out on the event bus; in every process that registered a source for a
 * type, the first to claim (agent, type) for this request loads that agent's entries and
 * replies with how many it warmed. The requester waits for one reply per type that some live
 * process can load (each such process announces its types with a short-lived key), or until a
 * deadline.
 */
import { randomUUID } from "node:crypto";
import type { EventBus } from "../events.js";
import type { Logger } from "../logger.js";
import { KEY_PREFIX, type RedisClient } from "../redis.js";
import type { CacheBackend } from "./backend.js";
import { WARM_REQUEST_TOPIC, warmReplyTopic } from "./cache-events.js";
import { agentTagKey, type CacheRef, cacheKey, parseCacheKey, warmClaimKey } from "./keys.js";
import { CACHE_DATA_TYPES, type CacheDataType } from "./policy.js";
import type { CacheSource, CacheSources } from "./sources.js";

export interface WarmRequest {
  requestId: string;
  agentId: string;
}

export interface WarmReply {
  requestId: string;
  type: CacheDataType;
  warmed: number;
}

/** A reply not in by then is given up on (the process may have died since its last announcement). */
export const WARM_REPLY_TIMEOUT_MS = 5000;
const CLAIM_TTL_MS = 60_000;

export interface WarmCoordination {
  /** Announces that this process can load these types, for `ttlMs`. */
  announce(types: readonly CacheDataType[], ttlMs: number): Promise<void>;
  /** Types some live process announced. */
  liveTypes(): Promise<Set<CacheDataType>>;
  /** True for exactly one caller per (agent, type, request). */
  claim(agentId: string, type: CacheDataType, requestId: string): Promise<boolean>;
}

const sourceKey = (type: CacheDataType) => `${KEY_PREFIX}cache:source:${type}`;

export function createRedisWarmCoordination(client: RedisClient): WarmCoordination {
  return {
    async announce(types, ttlMs) {
      // Separate keys with their own TTL: liveness follows Redis' clock, not the replicas'.
      await Promise.all(types.map((type) => client.set(sourceKey(type), "1", "PX", ttlMs)));
    },
    async liveTypes() {
      const present = await Promise.all(CACHE_DATA_TYPES.map((type) => client.exists(sourceKey(type))));
      return new Set(CACHE_DATA_TYPES.filter((_type, i) => present[i] === 1));
    },
    async claim(agentId, type, requestId) {
      return (
        (await client.set(warmClaimKey(agentId, type, requestId), "1", "PX", CLAIM_TTL_MS, "NX")) === "OK"
      );
    },
  };
}

export function createInProcessWarmCoordination(): WarmCoordination {
  const live = new Map<CacheDataType, number>();
  const claimed = new Set<string>();
  return {
    async announce(types, ttlMs) {
      for (const type of types) live.set(type, Date.now() + ttlMs);
    },
    async liveTypes() {
      return new Set([...live].filter(([, until]) => until > Date.now()).map(([type]) => type));
    },
    async claim(agentId, type, requestId) {
      const key = warmClaimKey(agentId, type, requestId);
      if (claimed.has(key)) return false;
      claimed.add(key);
      setTimeout(() => claimed.delete(key), CLAIM_TTL_MS).unref();
      return true;
    },
  };
}

/** Sends a warm request and sums the replies. */
export async function requestWarm(
  events: EventBus,
  coordination: WarmCoordination,
  agentId: string,
  timeoutMs = WARM_REPLY_TIMEOUT_MS,
): Promise<number> {
  const expected = await coordination.liveTypes();
  if (expected.size === 0) return 0;
  const requestId = randomUUID();
  let warmed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const stop = await events.listen<WarmReply>(warmReplyTopic(requestId), (reply) => {
    if (reply.requestId !== requestId || !expected.has(reply.type)) return;
    expected.delete(reply.type);
    warmed += reply.warmed;
    if (expected.size === 0) resolveDone();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await events.publish(WARM_REQUEST_TOPIC, { requestId, agentId } satisfies WarmRequest);
    await Promise.race([
      done,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stop();
  }
  return warmed;
}

export interface WarmAnswerOptions {
  sources: CacheSources;
  coordination: WarmCoordination;
  backend: CacheBackend;
  events: EventBus;
  /** Loads the refs that are not cached yet and writes them to the cache; returns how many. */
  fill: (type: CacheDataType, source: CacheSource, refs: CacheRef[]) => Promise<number>;
  logger?: Logger;
}

/**
 * Answers a warm request in a process that can load some types: for each type it claims first,
 * loads the agent's working set (what the source names, and every entry cached for the agent
 * recently: its tag set, which survives invalidation as tombstones) and replies with the count.
 */
export async function answerWarmRequest(request: WarmRequest, options: WarmAnswerOptions): Promise<void> {
  const { sources, coordination, backend, events, logger } = options;
  for (const [type, source] of sources.entries()) {
    try {
      if (!(await coordination.claim(request.agentId, type, request.requestId))) continue;
      const refs = new Map<string, CacheRef>();
      for (const ref of (await source.warmRefs?.(request.agentId)) ?? []) refs.set(cacheKey(type, ref), ref);
      for (const key of await backend.tagged(agentTagKey(request.agentId))) {
        const parsed = parseCacheKey(key);
        if (parsed?.type === type) refs.set(key, { agentId: parsed.agentId, id: parsed.id });
      }
      const warmed = await options.fill(type, source, [...refs.values()]);
      const reply: WarmReply = { requestId: request.requestId, type, warmed };
      await events.publish(warmReplyTopic(request.requestId), reply);
    } catch (error) {
      logger?.warn({ err: String(error), type, agentId: request.agentId }, "could not warm agent");
    }
  }
}
