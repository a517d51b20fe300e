/**
 * The pub/sub bus behind GraphQL subscriptions and cache invalidation broadcasts.
 *
 * With Redis it is `graphql-redis-subscriptions` over two dedicated connections (a subscribed
 * connection cannot publish), so a write on any replica reaches subscribers on every replica.
 * Without Redis it is graphql-subscriptions' in-process PubSub, which only works when all
 * services share one process. Payloads go through JSON in both cases, so code behaves the same.
 */

import { RedisPubSub } from "graphql-redis-subscriptions";
import { PubSub } from "graphql-subscriptions";
import { KEY_PREFIX, type RedisClient } from "./redis.js";

export interface EventBus {
  readonly kind: "redis" | "in-process";
  publish(topic: string, payload: unknown): Promise<void>;
  /** An async iterator of the topic's payloads; `return()` ends the subscription. */
  subscribe<T>(topic: string): AsyncIterableIterator<T>;
  /** Callback listener for internal use; resolves to a function that removes it. */
  listen<T>(topic: string, handler: (payload: T) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** Topic names are namespaced like keys, so several deployments can share one Redis. */
export function topic(...parts: string[]): string {
  return `${KEY_PREFIX}event:${parts.join(":")}`;
}

export function createInProcessEventBus(): EventBus {
  const pubsub = new PubSub();
  return {
    kind: "in-process",
    async publish(name, payload) {
      await pubsub.publish(name, JSON.parse(JSON.stringify(payload)));
    },
    subscribe<T>(name: string) {
      return pubsub.asyncIterableIterator<T>(name);
    },
    async listen<T>(name: string, handler: (payload: T) => void) {
      const id = await pubsub.subscribe(name, handler as (payload: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    async close() {},
  };
}

export function createRedisEventBus(publisher: RedisClient, subscriber: RedisClient): EventBus {
  const pubsub = new RedisPubSub({
    // graphql-redis-subscriptions types expect `Redis`; a Cluster client has the same pub/sub API.
    publisher: publisher as never,
    subscriber: subscriber as never,
  });
  return {
    kind: "redis",
    async publish(name, payload) {
      await pubsub.publish(name, payload);
    },
    subscribe<T>(name: string) {
      return pubsub.asyncIterableIterator(name) as AsyncIterableIterator<T>;
    },
    async listen<T>(name: string, handler: (payload: T) => void) {
      const id = await pubsub.subscribe(name, handler as (payload: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    async close() {
      await pubsub.close();
    },
  };
}

/**
 * Publishes events for one key (an agent) in the order their turns were reserved, even when the
 * work between reserving and publishing (cache writes, awaited I/O) finishes out of order.
 * Reserve right after the store commits, while commits are still in order; publish when ready.
 */
export class OrderedPublisher {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: EventBus,
    private readonly onError: (error: unknown, topic: string) => void,
  ) {}

  reserve(key: string): { publish(topic: string, payload: unknown): void; skip(): void } {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => turn);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    let used = false;
    const finish = (send?: () => void) => {
      if (used) return;
      used = true;
      void previous.then(() => {
        // Called in turn order; the bus sends commands in call order, so delivery follows.
        send?.();
        release();
      });
    };
    return {
      publish: (topic, payload) =>
        finish(() => {
          this.bus.publish(topic, payload).catch((error: unknown) => this.onError(error, topic));
        }),
      skip: () => finish(),
    };
  }
}
