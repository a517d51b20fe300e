/**
 * The shared cache in Redis. Reads are one MGET per cluster slot (one MGET in total on a single
 * server); writes go through a Lua script that compares revisions atomically, so a late
 * write-back of an older revision never overwrites a newer value or tombstone.
 */
import calculateSlot from "cluster-key-slot";
import { Cluster } from "ioredis";
import type { RedisClient } from "../redis.js";
import { type CacheBackend, decodeEntry, type EntryWrite, encodeEntry } from "./backend.js";

/** KEYS: entry key, tag set, floor. ARGV: revision, encoded entry, ttl ms. */
const PUT_IF_NEWER = `
local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
if floor > tonumber(ARGV[1]) then return 0 end
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep then
    local rev = tonumber(string.sub(current, 1, sep - 1))
    if rev and rev > tonumber(ARGV[1]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[1])
local tagTtl = redis.call('PTTL', KEYS[2])
if tagTtl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
`;

/** KEYS: tag set, then floor keys. ARGV: floor revision, floor ttl ms (both absent: no floors). */
const DELETE_TAGGED = `
for i = 2, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
end
local members = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for i = 1, #members, 500 do
  removed = removed + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('DEL', KEYS[1])
return removed
`;

type ScriptedClient = RedisClient & {
  mnemoPutIfNewer(
    key: string,
    tagKey: string,
    floorKey: string,
    revision: number,
    encoded: string,
    ttlMs: number,
  ): Promise<number>;
  mnemoDeleteTagged(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
};

export interface RedisCacheBackendHooks {
  /** Called once per Redis round trip (MGET or pipeline), for round-trip accounting. */
  onRoundTrip?: (command: string) => void;
}

export function createRedisCacheBackend(
  client: RedisClient,
  hooks: RedisCacheBackendHooks = {},
): CacheBackend {
  const scripted = client as ScriptedClient;
  // defineCommand uses EVALSHA and falls back to EVAL, so scripts survive a Redis restart.
  client.defineCommand("mnemoPutIfNewer", { numberOfKeys: 3, lua: PUT_IF_NEWER });
  // Variable key count: the number of keys is the first argument.
  client.defineCommand("mnemoDeleteTagged", { lua: DELETE_TAGGED });
  const cluster = client instanceof Cluster;

  function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
    if (!cluster) return [items.slice()];
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const slot = calculateSlot(keyOf(item));
      const group = groups.get(slot) ?? [];
      groups.set(slot, group);
      group.push(item);
    }
    return [...groups.values()];
  }

  return {
    kind: "redis",
    async getMany(keys) {
      if (keys.length === 0) return [];
      const indexed = keys.map((key, index) => ({ key, index }));
      const results = new Array<ReturnType<typeof decodeEntry>>(keys.length).fill(null);
      await Promise.all(
        groupBySlot(indexed, (item) => item.key).map(async (group) => {
          hooks.onRoundTrip?.("MGET");
          const values = await client.mget(...group.map((item) => item.key));
          group.forEach((item, i) => {
            results[item.index] = decodeEntry(values[i]);
          });
        }),
      );
      return results;
    },
    async putIfNewer(writes) {
      if (writes.length === 0) return 0;
      let written = 0;
      await Promise.all(
        groupBySlot(writes, (write) => write.key).map(async (group) => {
          hooks.onRoundTrip?.("PUT_IF_NEWER");
          const pipeline = client.pipeline();
          for (const write of group) {
            (pipeline as unknown as ScriptedClient).mnemoPutIfNewer(
              write.key,
              write.tagKey,
              write.floorKey,
              write.revision,
              encodeEntry(write.revision, write.payload),
              write.ttlMs,
            );
          }
          const results = (await pipeline.exec()) ?? [];
          for (const [error, value] of results) {
            if (error) throw error;
            written += Number(value);
          }
        }),
      );
      return written;
    },
    async deleteTagged(tagKey) {
      hooks.onRoundTrip?.("DELETE_TAGGED");
      return scripted.mnemoDeleteTagged(1, tagKey);
    },
    async purge(tagKey, floorKeys, floor, floorTtlMs) {
      hooks.onRoundTrip?.("PURGE");
      return scripted.mnemoDeleteTagged(1 + floorKeys.length, tagKey, ...floorKeys, floor, floorTtlMs);
    },
    async deleteKeys(keys: readonly EntryWrite["key"][]) {
      if (keys.length === 0) return 0;
      let removed = 0;
      await Promise.all(
        groupBySlot(keys, (key) => key).map(async (group) => {
          hooks.onRoundTrip?.("DEL");
          removed += await client.del(...group);
        }),
      );
      return removed;
    },
  };
}
