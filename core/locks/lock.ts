/**
 * Short exclusive locks for background work that one replica at a time should do (e.g. the
 * memory forgetting sweep). With Redis: `SET key token NX PX ttl`, released only by its holder
 * (a compare-and-delete script), and expiring by itself if the holder dies. Without Redis (a
 * single process): the same contract in memory.
 *
 * A lock is a hint against duplicate work, not a guarantee of mutual exclusion past its TTL:
 * work done under it must be safe to repeat (the forgetting sweep is: it deletes in one
 * transaction what is eligible at that moment).
 */
import { randomUUID } from "node:crypto";
import { KEY_PREFIX, type RedisClient } from "../redis.js";

export interface LockManager {
  /** A token if the lock was free (and is now held for `ttlMs`), else null. */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Releases the lock if `token` still holds it. */
  release(name: string, token: string): Promise<void>;
}

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

export const lockKey = (name: string) => `${KEY_PREFIX}lock:${name}`;

export function createLockManager(redis: RedisClient | null): LockManager {
  if (redis) {
    return {
      async acquire(name, ttlMs) {
        const token = randomUUID();
        const set = await redis.set(lockKey(name), token, "PX", ttlMs, "NX");
        return set === "OK" ? token : null;
      },
      async release(name, token) {
        await redis.eval(RELEASE, 1, lockKey(name), token);
      },
    };
  }
  const held = new Map<string, { token: string; expires: number }>();
  return {
    async acquire(name, ttlMs) {
      const now = Date.now();
      const current = held.get(name);
      if (current && current.expires > now) return null;
      const token = randomUUID();
      held.set(name, { token, expires: now + ttlMs });
      return token;
    },
    async release(name, token) {
      if (held.get(name)?.token === token) held.delete(name);
    },
  };
}
