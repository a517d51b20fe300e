/**
 * Redis INFO essentials for `cacheStats.redis`: read from every data node (each master of a
 * cluster) and combined: sizes and counters are summed, the version and policy come from the
 * first node, uptime is the youngest node's.
 */
import type { RedisConfig } from "../config.js";
import type { RedisClient } from "../redis.js";
import { dataNodes } from "./redis-topology.js";

export interface RedisInfo {
  /** single, sentinel or cluster (the configured topology). */
  mode: RedisConfig["mode"];
  version: string;
  /** Data nodes answering (cluster masters; 1 otherwise). */
  nodes: number;
  usedMemoryBytes: number;
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  connectedClients: number;
  uptimeSeconds: number;
  keys: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  evictedKeys: number;
  expiredKeys: number;
  opsPerSecond: number;
}

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const separator = line.indexOf(":");
    if (separator > 0) fields.set(line.slice(0, separator), line.slice(separator + 1));
  }
  return fields;
}

/** `db0:keys=12,expires=12,avg_ttl=0` → 12 (summed over databases). */
function keyCount(fields: Map<string, string>): number {
  let total = 0;
  for (const [name, value] of fields) {
    if (/^db\d+$/.test(name)) total += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
  }
  return total;
}

export async function readRedisInfo(client: RedisClient, mode: RedisConfig["mode"]): Promise<RedisInfo> {
  const nodes = dataNodes(client);
  const infos = await Promise.all(nodes.map(async (node) => parseInfo(await node.info())));
  const number = (fields: Map<string, string>, name: string) => Number(fields.get(name) ?? 0) || 0;
  const sum = (name: string) => infos.reduce((total, fields) => total + number(fields, name), 0);
  const first = infos[0] ?? new Map<string, string>();
  return {
    mode,
    version: first.get("redis_version") ?? "unknown",
    nodes: infos.length,
    usedMemoryBytes: sum("used_memory"),
    maxMemoryBytes: sum("maxmemory"),
    maxMemoryPolicy: first.get("maxmemory_policy") ?? "unknown",
    connectedClients: sum("connected_clients"),
    uptimeSeconds: Math.min(...infos.map((fields) => number(fields, "uptime_in_seconds"))),
    keys: infos.reduce((total, fields) => total + keyCount(fields), 0),
    keyspaceHits: sum("keyspace_hits"),
    keyspaceMisses: sum("keyspace_misses"),
    evictedKeys: sum("evicted_keys"),
    expiredKeys: sum("expired_keys"),
    opsPerSecond: sum("instantaneous_ops_per_sec"),
  };
}
