/**
 * MAX_CONNECTIONS_PER_PRINCIPAL across every gateway that shares Redis, not per process: a
 * client cannot multiply its cap by the number of replicas behind the load balancer.
 *
 * In Redis, under one hash tag (one Cluster slot):
 * - `…:totals`, a hash: principal `sub` → its open connections on all gateways;
 * - `…:instance:<id>`, a hash per gateway process: `sub` → its open connections there;
 * - `…:instances`, a sorted set: gateway id → when its lease ends (ms).
 * A gateway renews its lease every LEASE_MS / 3. One that stops renewing (it crashed) is reaped
 * by the next gateway to notice: its connections are subtracted from the totals and forgotten.
 * Taking a slot (check and increment) and reaping are Lua scripts, so they are atomic.
 *
 * While Redis is unreachable, or without Redis, the process counts its own connections (the cap
 * holds per gateway, as before): an outage neither blocks clients nor lifts the cap.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../core/logger.js";
import { KEY_PREFIX, type RedisClient } from "../../core/redis.js";

const KEYS = {
  totals: `${KEY_PREFIX}{ws-connections}:totals`,
  instances: `${KEY_PREFIX}{ws-connections}:instances`,
  instance: (id: string) => `${KEY_PREFIX}{ws-connections}:instance:${id}`,
};

/** A gateway that has not renewed its lease for this long is taken for dead. */
export const LEASE_MS = 30_000;

// KEYS: totals, own instance hash, instances. ARGV: sub, limit, own id, lease end.
const ACQUIRE = `
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1`;

// KEYS: totals, own instance hash. ARGV: sub. Counts never go below zero (after a Redis restart
// lost them, say).
const RELEASE = `
for i = 1, 2 do
  if redis.call('HINCRBY', KEYS[i], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return 1`;

// KEYS: totals, the instance's hash, instances. ARGV: the instance's id, and the time its lease
// must have ended by (a gateway that renewed in the meantime is alive: left alone). Subtracts
// everything the instance held from the totals and forgets it.
const REAP = `
local lease = redis.call('ZSCORE', KEYS[3], ARGV[1])
if lease and tonumber(lease) > tonumber(ARGV[2]) then return -1 end
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  if redis.call('HINCRBY', KEYS[1], held[i], -tonumber(held[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], held[i])
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return #held / 2`;

export interface ConnectionQuota {
  /** Connections one principal may hold (MAX_CONNECTIONS_PER_PRINCIPAL). */
  readonly limit: number;
  /** Takes one of `sub`'s connection slots; false when it already has `limit` open. */
  acquire(sub: string): Promise<boolean>;
  /** Gives back a slot taken by acquire. */
  release(sub: string): void;
  /** Gives back every slot this process holds. */
  close(): Promise<void>;
}

export function createConnectionQuota(
  redis: RedisClient | null,
  limit: number,
  logger: Logger,
  leaseMs = LEASE_MS,
): ConnectionQuota {
  return redis ? new SharedConnectionQuota(redis, limit, logger, leaseMs) : new LocalConnectionQuota(limit);
}

/** Connections counted in this process only. */
export class LocalConnectionQuota implements ConnectionQuota {
  private readonly open = new Map<string, number>();

  constructor(readonly limit: number) {}

  async acquire(sub: string): Promise<boolean> {
    const count = this.open.get(sub) ?? 0;
    if (count >= this.limit) return false;
    this.open.set(sub, count + 1);
    return true;
  }

  release(sub: string): void {
    const left = (this.open.get(sub) ?? 1) - 1;
    if (left > 0) this.open.set(sub, left);
    else this.open.delete(sub);
  }

  async close(): Promise<void> {
    this.open.clear();
  }
}

/** Connections counted in Redis for every gateway (see the top of this file). */
class SharedConnectionQuota implements ConnectionQuota {
  private readonly id = randomUUID();
  private readonly ownKey = KEYS.instance(this.id);
  /** Slots taken while Redis could not be reached, counted here and released here. */
  private readonly fallback: LocalConnectionQuota;
  private readonly heldLocally = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    readonly limit: number,
    private readonly logger: Logger,
    private readonly leaseMs: number,
  ) {
    this.fallback = new LocalConnectionQuota(limit);
    this.timer = setInterval(() => void this.renew(), Math.max(10, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  async acquire(sub: string): Promise<boolean> {
    try {
      const taken = await this.redis.eval(
        ACQUIRE,
        3,
        KEYS.totals,
        this.ownKey,
        KEYS.instances,
        sub,
        this.limit,
        this.id,
        Date.now() + this.leaseMs,
      );
      return taken === 1;
    } catch (error) {
      this.logger.warn({ err: String(error) }, "Redis unreachable: counting connections in this process");
      const taken = await this.fallback.acquire(sub);
      if (taken) this.heldLocally.set(sub, (this.heldLocally.get(sub) ?? 0) + 1);
      return taken;
    }
  }

  release(sub: string): void {
    // After close the slots are reaped already: a late release would take one of another
    // gateway's connections off the total.
    if (this.closed) return;
    const local = this.heldLocally.get(sub) ?? 0;
    if (local > 0) {
      if (local > 1) this.heldLocally.set(sub, local - 1);
      else this.heldLocally.delete(sub);
      this.fallback.release(sub);
      return;
    }
    this.redis.eval(RELEASE, 2, KEYS.totals, this.ownKey, sub).catch((error: unknown) => {
      // Not lost for good: when this process ends, or its lease lapses, the slot is reaped.
      this.logger.warn({ err: String(error) }, "could not release a connection slot in Redis");
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.reap(this.id, Number.POSITIVE_INFINITY).catch(() => {});
  }

  /** Extends this gateway's lease and reaps the gateways whose lease has lapsed. */
  private async renew(): Promise<void> {
    try {
      const now = Date.now();
      await this.redis.zadd(KEYS.instances, now + this.leaseMs, this.id);
      const lapsed = await this.redis.zrangebyscore(KEYS.instances, "-inf", now);
      for (const id of lapsed) {
        const connections = await this.reap(id, now);
        if (connections >= 0)
          this.logger.warn(
            { gateway: id, connections },
            "forgot the connections of a gateway that stopped renewing",
          );
      }
    } catch (error) {
      this.logger.debug({ err: String(error) }, "could not renew the connection-quota lease");
    }
  }

  /** Returns how many connections the instance held, or -1 if it renewed its lease after `leaseEndedBy`. */
  private async reap(id: string, leaseEndedBy: number): Promise<number> {
    const bound = Number.isFinite(leaseEndedBy) ? String(leaseEndedBy) : "1e300";
    return Number(await this.redis.eval(REAP, 3, KEYS.totals, KEYS.instance(id), KEYS.instances, id, bound));
  }
}
