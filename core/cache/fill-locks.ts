/**
 * Stampede protection across processes. When an entry is missing, the process that wins a short
 * Redis lock (`SET NX PX`) loads it from the store and writes it back; the other replicas poll
 * the cache for the value instead of all querying the store at once. A lock outlives a crashed
 * holder by at most its TTL, after which waiters load the entry themselves.
 *
 * Within one process, concurrent misses already share one load (CacheLayer single-flight); these
 * locks only matter between processes, so the in-process variant grants every lock.
 */
import { randomBytes } from "node:crypto";
import type { RedisClient } from "../redis.js";
import { decodeEntry, type StoredEntry } from "./backend.js";
import { fillLockKey } from "./keys.js";
import { pipelinePerNode } from "./redis-topology.js";

export interface FillPoll {
  entry: StoredEntry | null;
  /** True while another process still holds the fill lock. */
  locked: boolean;
}

export interface FillLocks {
  /** False for the in-process variant: nothing to coordinate with. */
  readonly shared: boolean;
  /** A token per key for the locks won, null where another process holds the lock. */
  acquire(keys: readonly string[], ttlMs: number): Promise<(string | null)[]>;
  /** Releases locks this process won (only if still its own: a token mismatch is left alone). */
  release(keys: readonly string[], tokens: readonly string[]): Promise<void>;
  /** Entries and lock state in one round trip (per node). */
  poll(keys: readonly string[]): Promise<FillPoll[]>;
}

/** KEYS[i]: lock keys; ARGV[i]: the token that must still be there. */
const RELEASE = `
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
`;

type ReleasingPipeline = ReturnType<RedisClient["pipeline"]> & {
  mnemoReleaseFill(numberOfKeys: number, ...args: string[]): unknown;
};

export function createRedisFillLocks(client: RedisClient): FillLocks {
  client.defineCommand("mnemoReleaseFill", { lua: RELEASE });
  const prefix = randomBytes(6).toString("base64url");
  let counter = 0;

  const perNode = <T>(
    items: readonly T[],
    keyOf: (item: T) => string,
    queue: (pipeline: ReleasingPipeline, group: T[]) => void,
  ) => pipelinePerNode<T, ReleasingPipeline>(client, items, keyOf, queue);

  return {
    shared: true,
    async acquire(keys, ttlMs) {
      const tokens = new Map<string, string | null>();
      const requests = keys.map((key) => ({ key, token: `${prefix}:${++counter}` }));
      const groups = await perNode(
        requests,
        (request) => request.key,
        (pipeline, group) => {
          for (const request of group)
            pipeline.set(fillLockKey(request.key), request.token, "PX", ttlMs, "NX");
        },
      );
      for (const { group, replies } of groups) {
        group.forEach((request, i) => {
          tokens.set(request.key, replies[i]?.[1] === "OK" ? request.token : null);
        });
      }
      return keys.map((key) => tokens.get(key) ?? null);
    },
    async release(keys, tokens) {
      if (keys.length === 0) return;
      const pairs = keys.map((key, i) => ({ lock: fillLockKey(key), token: tokens[i]! }));
      await perNode(
        pairs,
        (pair) => pair.lock,
        (pipeline, group) => {
          pipeline.mnemoReleaseFill(group.length, ...group.map((p) => p.lock), ...group.map((p) => p.token));
        },
      );
    },
    async poll(keys) {
      const results = new Map<string, FillPoll>();
      const groups = await perNode(
        keys,
        (key) => key,
        (pipeline, group) => {
          pipeline.mget(...group.flatMap((key) => [key, fillLockKey(key)]));
        },
      );
      for (const { group, replies } of groups) {
        const values = (replies[0]?.[1] ?? []) as (string | null)[];
        group.forEach((key, i) => {
          results.set(key, { entry: decodeEntry(values[i * 2]), locked: values[i * 2 + 1] !== null });
        });
      }
      return keys.map((key) => results.get(key) ?? { entry: null, locked: false });
    },
  };
}

export function createInProcessFillLocks(): FillLocks {
  return {
    shared: false,
    async acquire(keys) {
      return keys.map(() => "in-process");
    },
    async release() {},
    async poll(keys) {
      return keys.map(() => ({ entry: null, locked: false }));
    },
  };
}
