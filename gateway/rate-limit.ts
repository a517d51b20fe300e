/**
 * Rate limiting per principal, shared by every gateway replica through Redis
 * (`rate-limiter-flexible`), or in-process when Redis is off. While Redis is unreachable an
 * in-process limiter takes over (its `insuranceLimiter`), so an outage neither blocks nor
 * unthrottles clients.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { rateLimited } from "../core/errors.js";
import { KEY_PREFIX, type RedisClient } from "../core/redis.js";

export interface RateLimiter {
  /** Spends one request of `key`'s budget; throws RATE_LIMITED (HTTP 429, Retry-After) when it is used up. */
  consume(key: string): Promise<void>;
}

const WINDOW_SECONDS = 60;

/** `onLimited` is told of every refusal (the gateway counts them in mnemo_rate_limited_total). */
export function createRateLimiter(
  redis: RedisClient | null,
  perMinute: number,
  onLimited: () => void = () => {},
): RateLimiter | null {
  if (perMinute <= 0) return null;
  const local = new RateLimiterMemory({
    points: perMinute,
    duration: WINDOW_SECONDS,
    keyPrefix: "mnemo-local",
  });
  const limiter = redis
    ? new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${KEY_PREFIX}ratelimit`,
        points: perMinute,
        duration: WINDOW_SECONDS,
        insuranceLimiter: local,
      })
    : local;
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (error) {
        if (error instanceof RateLimiterRes) {
          onLimited();
          const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
          throw rateLimited(
            `Rate limit of ${perMinute} requests per minute exceeded; retry in ${retryAfter} s`,
            retryAfter,
          );
        }
        throw error;
      }
    },
  };
}
