/**
 * Co-access: which entries an agent reads together. Each process watches the reads it serves
 * (per agent, the entries read in the last few seconds) and counts "B was read shortly after A"
 * pairs in memory; the counts are added to a small sorted set per entry in Redis on the periodic
 * flush (one pipeline), so every replica learns from every other. Only the strongest few
 * successors of each entry are kept, and the sets expire when unused.
 */
import { LRUCache } from "lru-cache";
import { KEY_PREFIX, type RedisClient } from "../redis.js";
import { coAccessKey, parseCacheKey } from "./keys.js";
import { pipelinePerNode } from "./redis-topology.js";

/** Two reads of one agent this close together count as read together. */
export const CO_ACCESS_WINDOW_MS = 5000;
/** Successors kept per entry. */
export const CO_ACCESS_KEEP = 16;
/** Unused co-access sets disappear after this long. */
export const CO_ACCESS_TTL_MS = 7 * 24 * 3600 * 1000;
const RECENT_PER_AGENT = 8;
/** Bound on pairs waiting for the next flush; beyond it new pairs are dropped (it is a heuristic). */
const MAX_PENDING_SOURCES = 20_000;

/** fromKey → (toKey → count) */
export type CoAccessCounts = Map<string, Map<string, number>>;

export class CoAccessTracker {
  private readonly recent = new LRUCache<string, { key: string; at: number }[]>({ max: 10_000 });
  private pending: CoAccessCounts = new Map();

  constructor(private readonly windowMs = CO_ACCESS_WINDOW_MS) {}

  /** Records that these cache keys were just read. */
  observe(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) {
      const agentId = parseCacheKey(key)?.agentId;
      if (!agentId) continue;
      const recent = (this.recent.get(agentId) ?? []).filter(
        (item) => now - item.at <= this.windowMs && item.key !== key,
      );
      for (const earlier of recent) this.count(earlier.key, key);
      recent.push({ key, at: now });
      if (recent.length > RECENT_PER_AGENT) recent.shift();
      this.recent.set(agentId, recent);
    }
  }

  take(): CoAccessCounts {
    const pending = this.pending;
    this.pending = new Map();
    return pending;
  }

  private count(from: string, to: string): void {
    let successors = this.pending.get(from);
    if (!successors) {
      if (this.pending.size >= MAX_PENDING_SOURCES) return;
      successors = new Map();
      this.pending.set(from, successors);
    }
    successors.set(to, (successors.get(to) ?? 0) + 1);
  }
}

export interface CoAccessStore {
  add(counts: CoAccessCounts): Promise<void>;
  /** For each key, up to `limit` successors seen at least `minCount` times, strongest first. */
  successors(keys: readonly string[], limit: number, minCount: number): Promise<Map<string, string[]>>;
}

/** Members are stored without the agent's prefix (they share it with the set's own key). */
function memberOf(key: string): string {
  const parsed = parseCacheKey(key)!;
  return `${parsed.type}:${parsed.id}`;
}

function keyOf(agentId: string, member: string): string {
  return `${KEY_PREFIX}{${agentId}}:${member}`;
}

export function createRedisCoAccessStore(client: RedisClient): CoAccessStore {
  return {
    async add(counts) {
      const sources = [...counts.entries()].filter(([from]) => parseCacheKey(from));
      if (sources.length === 0) return;
      await pipelinePerNode(
        client,
        sources,
        ([from]) => coAccessKey(from),
        (pipeline, group) => {
          for (const [from, successors] of group) {
            const setKey = coAccessKey(from);
            for (const [to, count] of successors) pipeline.zincrby(setKey, count, memberOf(to));
            pipeline.zremrangebyrank(setKey, 0, -(CO_ACCESS_KEEP + 1));
            pipeline.pexpire(setKey, CO_ACCESS_TTL_MS);
          }
        },
      );
    },
    async successors(keys, limit, minCount) {
      const found = new Map<string, string[]>();
      const valid = keys.filter((key) => parseCacheKey(key));
      if (valid.length === 0) return found;
      const groups = await pipelinePerNode(client, valid, coAccessKey, (pipeline, group) => {
        for (const key of group)
          pipeline.zrevrangebyscore(coAccessKey(key), "+inf", minCount, "LIMIT", 0, limit);
      });
      for (const { group, replies } of groups) {
        group.forEach((key, i) => {
          const agentId = parseCacheKey(key)!.agentId;
          const members = (replies[i]?.[1] ?? []) as string[];
          if (members.length > 0)
            found.set(
              key,
              members.map((member) => keyOf(agentId, member)),
            );
        });
      }
      return found;
    },
  };
}

export function createInProcessCoAccessStore(): CoAccessStore {
  const sets = new LRUCache<string, Map<string, number>>({ max: 50_000, ttl: CO_ACCESS_TTL_MS });
  return {
    async add(counts) {
      for (const [from, successors] of counts) {
        const set = sets.get(from) ?? new Map<string, number>();
        for (const [to, count] of successors) set.set(to, (set.get(to) ?? 0) + count);
        const kept = [...set.entries()].sort((a, b) => b[1] - a[1]).slice(0, CO_ACCESS_KEEP);
        sets.set(from, new Map(kept));
      }
    },
    async successors(keys, limit, minCount) {
      const found = new Map<string, string[]>();
      for (const key of keys) {
        const set = sets.get(key);
        if (!set) continue;
        const strongest = [...set.entries()]
          .filter(([, count]) => count >= minCount)
          .sort((a, b) => b[1] - a[1])
          .slice(0, limit)
          .map(([to]) => to);
        if (strongest.length > 0) found.set(key, strongest);
      }
      return found;
    },
  };
}
