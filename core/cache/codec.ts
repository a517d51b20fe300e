/**
 * How a value becomes what the backend stores, and back: JSON, encrypted and bound to its key
 * when encryption at rest is on (a value copied under another key does not decrypt), with the
 * type's TTL and jitter.
 */
import type { Encryptor } from "../crypto/encryption.js";
import type { Logger } from "../logger.js";
import type { EntryWrite } from "./backend.js";
import { agentTagKey, type CacheRef, cacheKey, floorKey } from "./keys.js";
import { type CacheDataType, ttlWithJitter } from "./policy.js";

export class EntryCodec {
  constructor(
    private readonly encryption: Encryptor,
    private readonly ttlSeconds: (type: CacheDataType) => number,
    private readonly logger?: Logger,
  ) {}

  /** The backend write of `value`, or of a tombstone when `value` is undefined. */
  entry(type: CacheDataType, ref: CacheRef, revision: number, value: unknown): EntryWrite {
    const key = cacheKey(type, ref);
    return {
      key,
      tagKey: agentTagKey(ref.agentId),
      floorKey: floorKey(type, ref.agentId),
      revision,
      payload: value === undefined ? null : this.encryption.encrypt(JSON.stringify(value), key),
      ttlMs: ttlWithJitter(this.ttlSeconds(type)),
    };
  }

  /** The cached value of a key, or undefined when it cannot be read (e.g. its encryption key was retired). */
  decode(key: string, payload: string): unknown {
    try {
      return JSON.parse(this.encryption.decrypt(payload, key));
    } catch (error) {
      this.logger?.debug({ err: String(error), key }, "cached value unreadable; treated as a miss");
      return undefined;
    }
  }
}
