/**
 * The shared cache in Redis. Reads are one MGET (one pipeline of per-slot MGETs per node on
 * Redis Cluster); writes go through a Lua script that compares revisions atomically, so a late
 * write-back of an older revision never overwrites a newer value or tombstone.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { RedisClient } from "../redis.js";
import {
  type CacheBackend,
  type Census,
  decodeEntry,
  emptyCensus,
  encodeEntry,
  type KeyDetails,
  type StoredEntry,
} from "./backend.js";
import { CACHE_KEY_PREFIX, escapeGlob, fillLockKey, parseCacheKey, typePattern } from "./keys.js";
import type { CacheDataType } from "./policy.js";
import { scanNode, scanPage } from "./redis-scan.js";
import { dataNodes, groupByNode, pipelinePerNode } from "./redis-topology.js";

/**
 * KEYS: entry key, tag set, floor, fill lock. ARGV: revision, encoded entry, ttl ms, fill-lock
 * token ('' for none). The fill lock is released whether or not the entry was written: the
 * load is over either way.
 */
const PUT_IF_NEWER = `
if ARGV[4] ~= '' and redis.call('GET', KEYS[4]) == ARGV[4] then redis.call('DEL', KEYS[4]) end
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

/** KEYS: fill locks; ARGV: the tokens that must still be there. */
const RELEASE_FILLS = `
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
`;

/** KEYS: tag set, then floor keys. ARGV: floor revision, floor ttl ms. */
const PURGE = `
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

/** Turns each value into a tombstone of its revision, keeping its TTL. KEYS: entries (one slot). */
const TOMBSTONE_FUNCTION = `
local function tombstone(key)
  local current = redis.call('GET', key)
  if not current then return 0 end
  local sep = string.find(current, '|', 1, true)
  if not sep or string.sub(current, sep + 1, sep + 1) ~= 'V' then return 0 end
  redis.call('SET', key, string.sub(current, 1, sep) .. 'T', 'KEEPTTL')
  return 1
end
`;
const INVALIDATE = `${TOMBSTONE_FUNCTION}
local n = 0
for i = 1, #KEYS do n = n + tombstone(KEYS[i]) end
return n
`;
/** KEYS: tag set. Its members share the agent's hash tag, so they are in the same slot. */
const INVALIDATE_TAGGED = `${TOMBSTONE_FUNCTION}
local n = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + tombstone(key) end
return n
`;

/** Per type, this many keys are inspected (value and MEMORY USAGE) to estimate tombstones and bytes. */
const CENSUS_SAMPLE = 64;
/** Past this many keys per node, census numbers are extrapolated from what was scanned. */
const CENSUS_SCAN_BUDGET = 100_000;

interface Scripts {
  mnemoPutIfNewer(
    key: string,
    tagKey: string,
    floorKey: string,
    lockKey: string,
    revision: number,
    encoded: string,
    ttlMs: number,
    unlockToken: string,
  ): Promise<number>;
  mnemoReleaseFills(numberOfKeys: number, ...args: string[]): Promise<number>;
  mnemoPurge(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  mnemoInvalidate(numberOfKeys: number, ...keys: string[]): Promise<number>;
  mnemoInvalidateTagged(tagKey: string): Promise<number>;
}
type ScriptedClient = RedisClient & Scripts;
type ScriptedPipeline = ReturnType<RedisClient["pipeline"]> & {
  [K in keyof Scripts]: (...args: Parameters<Scripts[K]>) => unknown;
};

export interface RedisCacheBackendHooks {
  /** Called once per Redis round trip of entry reads and writes (MGET, pipelines), for accounting. */
  onRoundTrip?: (command: string) => void;
}

export function createRedisCacheBackend(
  client: RedisClient,
  hooks: RedisCacheBackendHooks = {},
): CacheBackend {
  // defineCommand uses EVALSHA and falls back to EVAL, so scripts survive a Redis restart.
  client.defineCommand("mnemoPutIfNewer", { numberOfKeys: 4, lua: PUT_IF_NEWER });
  client.defineCommand("mnemoReleaseFills", { lua: RELEASE_FILLS });
  // Fill-lock tokens: unique per lock taken, so a process only ever releases its own.
  const tokenPrefix = randomBytes(6).toString("base64url");
  let tokenCounter = 0;
  client.defineCommand("mnemoPurge", { lua: PURGE });
  client.defineCommand("mnemoInvalidate", { lua: INVALIDATE });
  client.defineCommand("mnemoInvalidateTagged", { numberOfKeys: 1, lua: INVALIDATE_TAGGED });
  const scripted = client as ScriptedClient;

  const perNode = <T>(
    items: readonly T[],
    keyOf: (item: T) => string,
    label: string,
    queue: (pipeline: ScriptedPipeline, group: T[]) => void,
  ) => pipelinePerNode<T, ScriptedPipeline>(client, items, keyOf, queue, () => hooks.onRoundTrip?.(label));

  async function invalidate(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const nodes = await perNode(
      keys,
      (key) => key,
      "INVALIDATE",
      (pipeline, group) => {
        pipeline.mnemoInvalidate(group.length, ...group);
      },
    );
    return nodes.reduce((sum, { replies }) => sum + Number(replies[0]?.[1] ?? 0), 0);
  }

  return {
    kind: "redis",
    shared: true,
    async getMany(keys) {
      if (keys.length === 0) return [];
      const indexed = keys.map((key, index) => ({ key, index }));
      const results = new Array<StoredEntry | null>(keys.length).fill(null);
      const nodeGroups = groupByNode(client, indexed, (item) => item.key);
      if (nodeGroups.length === 1 && nodeGroups[0]!.length === 1) {
        // The common case (one server): exactly one MGET, no pipeline wrapper.
        hooks.onRoundTrip?.("MGET");
        const values = await client.mget(...indexed.map((item) => item.key));
        values.forEach((value, i) => {
          results[i] = decodeEntry(value);
        });
        return results;
      }
      const nodes = await perNode(
        indexed,
        (item) => item.key,
        "MGET",
        (pipeline, group) => {
          pipeline.mget(...group.map((item) => item.key));
        },
      );
      for (const { group, replies } of nodes) {
        const values = (replies[0]?.[1] ?? []) as (string | null)[];
        group.forEach((item, i) => {
          results[item.index] = decodeEntry(values[i]);
        });
      }
      return results;
    },
    async getManyWithLocks(keys) {
      const entries = new Array<StoredEntry | null>(keys.length).fill(null);
      const locked = new Array<boolean>(keys.length).fill(false);
      if (keys.length === 0) return { entries, locked };
      const indexed = keys.map((key, index) => ({ key, index }));
      // Each entry and its lock share a slot, so this is still one MGET per slot.
      const nodes = await perNode(
        indexed,
        (item) => item.key,
        "MGET",
        (pipeline, group) => {
          pipeline.mget(...group.flatMap((item) => [item.key, fillLockKey(item.key)]));
        },
      );
      for (const { group, replies } of nodes) {
        const values = (replies[0]?.[1] ?? []) as (string | null)[];
        group.forEach((item, i) => {
          entries[item.index] = decodeEntry(values[i * 2]);
          locked[item.index] = values[i * 2 + 1] !== null;
        });
      }
      return { entries, locked };
    },
    async lockFills(keys, ttlMs) {
      const requests = keys.map((key) => ({ key, token: `${tokenPrefix}:${++tokenCounter}` }));
      const won = new Map<string, string | null>();
      const nodes = await perNode(
        requests,
        (request) => request.key,
        "LOCK",
        (pipeline, group) => {
          for (const request of group)
            pipeline.set(fillLockKey(request.key), request.token, "PX", ttlMs, "NX");
        },
      );
      for (const { group, replies } of nodes) {
        group.forEach((request, i) => {
          won.set(request.key, replies[i]?.[1] === "OK" ? request.token : null);
        });
      }
      return keys.map((key) => won.get(key) ?? null);
    },
    async releaseFills(keys, tokens) {
      if (keys.length === 0) return;
      const pairs = keys.map((key, i) => ({ lock: fillLockKey(key), token: tokens[i]! }));
      await perNode(
        pairs,
        (pair) => pair.lock,
        "UNLOCK",
        (pipeline, group) => {
          pipeline.mnemoReleaseFills(group.length, ...group.map((p) => p.lock), ...group.map((p) => p.token));
        },
      );
    },
    async putIfNewer(writes) {
      if (writes.length === 0) return 0;
      const nodes = await perNode(
        writes,
        (write) => write.key,
        "PUT_IF_NEWER",
        (pipeline, group) => {
          for (const write of group) {
            pipeline.mnemoPutIfNewer(
              write.key,
              write.tagKey,
              write.floorKey,
              fillLockKey(write.key),
              write.revision,
              encodeEntry(write.revision, write.payload),
              write.ttlMs,
              write.unlockToken ?? "",
            );
          }
        },
      );
      return nodes.flatMap(({ replies }) => replies).reduce((sum, [, value]) => sum + Number(value), 0);
    },
    async purge(tagKey, floorKeys, floor, floorTtlMs) {
      hooks.onRoundTrip?.("PURGE");
      return scripted.mnemoPurge(1 + floorKeys.length, tagKey, ...floorKeys, floor, floorTtlMs);
    },
    invalidate,
    async invalidateTagged(tagKey) {
      hooks.onRoundTrip?.("INVALIDATE_TAGGED");
      return scripted.mnemoInvalidateTagged(tagKey);
    },
    async invalidateType(type: CacheDataType) {
      let total = 0;
      for (const node of dataNodes(client)) {
        await scanNode(node, typePattern(type), async (keys) => {
          total += await invalidate(keys.filter((key) => parseCacheKey(key)?.type === type));
          return true;
        });
      }
      return total;
    },
    async tagged(tagKey) {
      return client.smembers(tagKey);
    },
    async scan(prefix, cursor, count) {
      return scanPage(client, prefix, cursor, count);
    },
    async inspect(keys) {
      if (keys.length === 0) return [];
      const details = new Map<string, KeyDetails>();
      // Keys listed by prefix can be tag sets or co-access sets: a GET on those fails per command.
      const nodes = await pipelinePerNode<string, ScriptedPipeline>(
        client,
        keys,
        (key) => key,
        (pipeline, group) => {
          for (const key of group) {
            pipeline.get(key);
            pipeline.pttl(key);
            pipeline.memory("USAGE", key, "SAMPLES", 0);
          }
        },
        () => hooks.onRoundTrip?.("INSPECT"),
        true,
      );
      for (const { group, replies } of nodes) {
        group.forEach((key, i) => {
          const raw = replies[i * 3]?.[0] ? null : (replies[i * 3]?.[1] as string | null);
          const ttl = Number(replies[i * 3 + 1]?.[1]);
          const bytes = replies[i * 3 + 2]?.[1];
          details.set(key, {
            key,
            entry: decodeEntry(raw),
            ttlMs: ttl >= 0 ? ttl : null,
            bytes: typeof bytes === "number" ? bytes : null,
          });
        });
      }
      return keys.map((key) => details.get(key) ?? { key, entry: null, ttlMs: null, bytes: null });
    },
    async census() {
      const census: Census = emptyCensus();
      for (const node of dataNodes(client)) {
        const counts = new Map<CacheDataType, number>();
        const samples = new Map<CacheDataType, string[]>();
        let scanned = 0;
        await scanNode(node, `${escapeGlob(CACHE_KEY_PREFIX)}*`, (keys) => {
          scanned += keys.length;
          for (const key of keys) {
            const type = parseCacheKey(key)?.type;
            if (!type) continue;
            counts.set(type, (counts.get(type) ?? 0) + 1);
            const sample = samples.get(type) ?? [];
            samples.set(type, sample);
            if (sample.length < CENSUS_SAMPLE) sample.push(key);
          }
          return scanned < CENSUS_SCAN_BUDGET;
        });
        let scale = 1;
        if (scanned >= CENSUS_SCAN_BUDGET) {
          // Stopped early: scale what was seen to the node's key count (SCAN order is hash order,
          // close enough to a uniform sample of the keyspace).
          const total = await node.dbsize();
          scale = total / scanned;
          census.estimated = true;
        }
        const sampled = [...samples.values()].flat();
        const details = sampled.length > 0 ? await inspectOnNode(node, sampled) : [];
        for (const [type, count] of counts) {
          const typeDetails = details.filter((d) => parseCacheKey(d.key)?.type === type);
          if (typeDetails.length < count) census.estimated = true;
          const tombstoneShare =
            typeDetails.filter((d) => d.entry?.kind === "tombstone").length / Math.max(1, typeDetails.length);
          const averageBytes =
            typeDetails.reduce((sum, d) => sum + (d.bytes ?? 0), 0) / Math.max(1, typeDetails.length);
          const keys = Math.round(count * scale);
          const entry = census.byType[type];
          entry.keys += keys;
          entry.tombstones += Math.round(keys * tombstoneShare);
          entry.bytes += Math.round(keys * averageBytes);
        }
      }
      return census;
    },
    async ping() {
      await client.ping();
    },
  };
}

/** GET and MEMORY USAGE for keys known to live on this node (from its own SCAN). */
async function inspectOnNode(node: Redis, keys: readonly string[]): Promise<KeyDetails[]> {
  const pipeline = node.pipeline();
  for (const key of keys) {
    pipeline.get(key);
    pipeline.memory("USAGE", key, "SAMPLES", 0);
  }
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((key, i) => {
    const bytes = replies[i * 2 + 1]?.[1];
    return {
      key,
      entry: decodeEntry(replies[i * 2]?.[1] as string | null),
      ttlMs: null,
      bytes: typeof bytes === "number" ? bytes : null,
    };
  });
}
