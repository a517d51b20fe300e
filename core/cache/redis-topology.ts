/**
 * What the cache needs to know about where keys live. On a single server (or Sentinel) there is
 * one node and every group is the whole batch. On Redis Cluster a command's keys must share a
 * slot, and a pipeline must target one node: batches are split per slot, and per-slot commands
 * are pipelined per node, so a batch over many agents still costs one round trip per node.
 */
import calculateSlot from "cluster-key-slot";
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "../redis.js";

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Items grouped by hash slot (one group on a single server). */
export function groupBySlot<T>(client: RedisClient, items: readonly T[], keyOf: (item: T) => string): T[][] {
  if (!isCluster(client)) return items.length > 0 ? [items.slice()] : [];
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = calculateSlot(keyOf(item));
    let group = groups.get(slot);
    if (!group) {
      group = [];
      groups.set(slot, group);
    }
    group.push(item);
  }
  return [...groups.values()];
}

/**
 * Slot groups gathered per node (ioredis' "slots allocation group"), so each outer group can be
 * sent as one pipeline. Unknown slots (topology not loaded yet) get a group of their own and
 * ioredis routes them.
 */
export function groupByNode<T>(
  client: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
): T[][][] {
  const slotGroups = groupBySlot(client, items, keyOf);
  if (!isCluster(client)) return slotGroups.length > 0 ? [slotGroups] : [];
  const byNode = new Map<string, T[][]>();
  for (const group of slotGroups) {
    const slot = calculateSlot(keyOf(group[0]!));
    const node = client.slots[slot]?.join(";") ?? `slot:${slot}`;
    let groups = byNode.get(node);
    if (!groups) {
      groups = [];
      byNode.set(node, groups);
    }
    groups.push(group);
  }
  return [...byNode.values()];
}

/** The servers holding data: every master of a cluster, or the one server. Stable order. */
export function dataNodes(client: RedisClient): Redis[] {
  if (!isCluster(client)) return [client];
  return client
    .nodes("master")
    .slice()
    .sort((a, b) => nodeName(a).localeCompare(nodeName(b)));
}

export function nodeName(node: Redis): string {
  return `${node.options.host ?? "localhost"}:${node.options.port ?? 6379}`;
}

export interface SlotGroupReplies<T> {
  group: T[];
  /** The replies of the commands queued for this group, in order. */
  replies: [Error | null, unknown][];
}

/**
 * One pipeline per node; `queue` adds the commands for one slot group. Any command error
 * rejects the whole call (callers treat the cache as unavailable for that operation), unless
 * `perCommandErrors` is set: then errors stay in the replies for the caller to read.
 */
export async function pipelinePerNode<T, P extends ReturnType<RedisClient["pipeline"]>>(
  client: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  queue: (pipeline: P, group: T[]) => void,
  onRoundTrip?: () => void,
  perCommandErrors = false,
): Promise<SlotGroupReplies<T>[]> {
  const out: SlotGroupReplies<T>[] = [];
  await Promise.all(
    groupByNode(client, items, keyOf).map(async (groups) => {
      onRoundTrip?.();
      const pipeline = client.pipeline() as P;
      const sizes = groups.map((group) => {
        const before = pipeline.length;
        queue(pipeline, group);
        return pipeline.length - before;
      });
      const replies = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
      if (!perCommandErrors) for (const [error] of replies) if (error) throw error;
      let offset = 0;
      groups.forEach((group, index) => {
        out.push({ group, replies: replies.slice(offset, offset + sizes[index]!) });
        offset += sizes[index]!;
      });
    }),
  );
  return out;
}
