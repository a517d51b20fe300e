/**
 * Where usage counts live so that every replica adds to, and reads, the same numbers: Redis
 * hashes (one per bucket and subject, HINCRBY) and sorted sets ranking agents and principals
 * per bucket, or plain maps when there is no Redis (one process).
 *
 * Redis layout: `mnemo:v1:usage:{<bucket>}:<subject>` with the bucket as the Cluster hash tag, so
 * one bucket's keys share a slot and a flush is one pipeline per bucket. Subjects: `total`,
 * `a:<agentId>`, `p:<principal sub>`; rankings `rank:a`, `rank:p` (score: operations). Keys
 * expire with their bucket's retention.
 */
import { KEY_PREFIX, type RedisClient } from "../redis.js";
import { type Bucket, bucketId, expiresAt } from "./buckets.js";
import { addAll, type Counts, Field } from "./counts.js";

export type Dimension = "agent" | "principal";
const DIMENSION_TAG: Record<Dimension, string> = { agent: "a", principal: "p" };

export type Subject = { kind: "total" } | { kind: Dimension; id: string };

export function subjectKey(subject: Subject): string {
  return subject.kind === "total" ? "total" : `${DIMENSION_TAG[subject.kind]}:${subject.id}`;
}

/** Counts to add, per bucket and subject key. */
export type UsageDeltas = Map<string, { bucket: Bucket; subjects: Map<string, Counts> }>;

export interface UsageStore {
  add(deltas: UsageDeltas): Promise<void>;
  /** One subject's counts in each bucket, in the order given. */
  read(buckets: Bucket[], subject: Subject): Promise<Counts[]>;
  /** Operations per agent or principal over the buckets. */
  ranking(buckets: Bucket[], dimension: Dimension): Promise<Map<string, number>>;
}

function parseSubjectKey(key: string): Subject | null {
  if (key === "total") return { kind: "total" };
  const [tag, ...rest] = key.split(":");
  const id = rest.join(":");
  if (tag === "a") return { kind: "agent", id };
  if (tag === "p") return { kind: "principal", id };
  return null;
}

export function createRedisUsageStore(client: RedisClient): UsageStore {
  const key = (bucket: Bucket, suffix: string) => `${KEY_PREFIX}usage:{${bucketId(bucket)}}:${suffix}`;
  return {
    async add(deltas) {
      await Promise.all(
        [...deltas.values()].map(async ({ bucket, subjects }) => {
          const pipeline = client.pipeline();
          const expiry = expiresAt(bucket);
          const touched = new Set<string>();
          for (const [subject, counts] of subjects) {
            const hash = key(bucket, subject);
            touched.add(hash);
            for (const [field, amount] of counts) {
              if (Number.isInteger(amount)) pipeline.hincrby(hash, field, amount);
              else pipeline.hincrbyfloat(hash, field, amount);
            }
            const parsed = parseSubjectKey(subject);
            const operations = counts.get(Field.operations) ?? 0;
            if (parsed && parsed.kind !== "total" && operations > 0) {
              const rank = key(bucket, `rank:${DIMENSION_TAG[parsed.kind]}`);
              touched.add(rank);
              pipeline.zincrby(rank, operations, parsed.id);
            }
          }
          for (const touchedKey of touched) pipeline.pexpireat(touchedKey, expiry);
          const replies = (await pipeline.exec()) ?? [];
          for (const [error] of replies) if (error) throw error;
        }),
      );
    },
    async read(buckets, subject) {
      const suffix = subjectKey(subject);
      const hashes = await Promise.all(buckets.map((bucket) => client.hgetall(key(bucket, suffix))));
      return hashes.map((fields) => new Map(Object.entries(fields).map(([f, v]) => [f, Number(v)])));
    },
    async ranking(buckets, dimension) {
      const totals = new Map<string, number>();
      const ranks = await Promise.all(
        buckets.map((bucket) =>
          client.zrange(key(bucket, `rank:${DIMENSION_TAG[dimension]}`), 0, "-1", "WITHSCORES"),
        ),
      );
      for (const flat of ranks) {
        for (let i = 0; i < flat.length; i += 2) {
          totals.set(flat[i]!, (totals.get(flat[i]!) ?? 0) + Number(flat[i + 1]));
        }
      }
      return totals;
    },
  };
}

/** One process without Redis: the same model in maps, pruned as buckets expire. */
export function createInProcessUsageStore(now: () => number = Date.now): UsageStore {
  const buckets = new Map<string, { bucket: Bucket; subjects: Map<string, Counts> }>();
  const prune = () => {
    for (const [id, entry] of buckets) if (expiresAt(entry.bucket) <= now()) buckets.delete(id);
  };
  return {
    async add(deltas) {
      prune();
      for (const [id, { bucket, subjects }] of deltas) {
        const entry = buckets.get(id) ?? { bucket, subjects: new Map() };
        buckets.set(id, entry);
        for (const [subject, counts] of subjects) {
          const existing = entry.subjects.get(subject) ?? new Map();
          entry.subjects.set(subject, existing);
          addAll(existing, counts);
        }
      }
    },
    async read(list, subject) {
      const suffix = subjectKey(subject);
      return list.map((bucket) => new Map(buckets.get(bucketId(bucket))?.subjects.get(suffix) ?? []));
    },
    async ranking(list, dimension) {
      const totals = new Map<string, number>();
      for (const bucket of list) {
        for (const [key, counts] of buckets.get(bucketId(bucket))?.subjects ?? []) {
          const parsed = parseSubjectKey(key);
          if (parsed?.kind !== dimension) continue;
          totals.set(parsed.id, (totals.get(parsed.id) ?? 0) + (counts.get(Field.operations) ?? 0));
        }
      }
      return totals;
    },
  };
}
