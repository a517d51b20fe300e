/**
 * Helpers for subscription tests: real graphql-ws clients over real WebSockets, collectors that
 * await events, Prometheus metrics read over HTTP, Redis pub/sub state read with PUBSUB.
 */

import type { FormattedExecutionResult, GraphQLFormattedError } from "graphql";
import { type Client, createClient } from "graphql-ws";
import { Redis } from "ioredis";
import WebSocket from "ws";

export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws");
}

/**
 * A graphql-ws client whose connection_init carries this `authorization` value (or none). It
 * does not retry, so tests see every close.
 */
export function gatewayClient(gatewayUrl: string, authorization: string | null): Client {
  return wsClient(gatewayUrl, authorization === null ? {} : { authorization });
}

type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;

/** Everything one subscription received, with ways to wait for more. */
export class Recorder {
  readonly events: Result[] = [];
  error: unknown = null;
  completed = false;
  private waiters: (() => void)[] = [];
  readonly dispose: () => void;

  constructor(client: Client, query: string, variables?: Record<string, unknown>, operationName?: string) {
    this.dispose = client.subscribe<Record<string, unknown>>(
      { query, variables, operationName },
      {
        next: (event) => this.record(() => this.events.push(event)),
        error: (error) => this.record(() => (this.error = error)),
        complete: () => this.record(() => (this.completed = true)),
      },
    );
  }

  get ended(): boolean {
    return this.completed || this.error !== null;
  }

  /** Error messages' codes when the subscription ended with a graphql-ws `error` message. */
  get errorCodes(): string[] {
    if (!Array.isArray(this.error)) return [];
    return (this.error as GraphQLFormattedError[]).map((error) => String(error.extensions?.code));
  }

  /** Resolves when `count` events have arrived; rejects if the subscription ends first. */
  async waitForEvents(count: number, timeoutMs = 15_000): Promise<Result[]> {
    await this.waitFor(() => this.events.length >= count, `${count} events`, timeoutMs, true);
    return this.events;
  }

  /** Resolves when the subscription has ended (error or complete). */
  async waitForEnd(timeoutMs = 15_000): Promise<void> {
    await this.waitFor(() => this.ended, "the end of the subscription", timeoutMs, false);
  }

  private async waitFor(done: () => boolean, what: string, timeoutMs: number, failOnEnd: boolean) {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (failOnEnd && this.ended) {
        throw new Error(
          `subscription ended before ${what} (got ${this.events.length}): ${JSON.stringify(this.error)}`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what} (got ${this.events.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private record(change: () => void): void {
    change();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Polls until `predicate` holds (a wait for an eventual state, not a timing assertion). */
export async function waitUntil(
  predicate: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One sample of a service's /metrics, summed over series matching `labels`. */
export async function metric(
  serviceUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(new URL("/metrics", serviceUrl))).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? "";
    if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) {
      sum += Number(match[3]);
    }
  }
  return sum;
}

/** Read-only access to Redis' pub/sub state (a separate connection, never subscribed). */
export class PubSubProbe {
  private readonly redis: Redis;

  constructor(url: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    this.redis.on("error", () => {});
  }

  async subscribers(channel: string): Promise<number> {
    const reply = (await this.redis.pubsub("NUMSUB", channel)) as [string, number];
    return Number(reply[1]);
  }

  async channels(pattern: string): Promise<string[]> {
    return (await this.redis.pubsub("CHANNELS", pattern)) as string[];
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Resolves once some process subscribes to a channel ending in `suffix`, i.e. a subscription is live. */
export async function waitForSubscriber(redisUrl: string, suffix: string): Promise<void> {
  const probe = new PubSubProbe(redisUrl);
  try {
    await waitUntil(
      async () => (await probe.channels(`*${suffix}`)).length > 0,
      `a subscriber on *${suffix}`,
      5000,
    );
  } finally {
    await probe.close();
  }
}

export const stateChannel = (agentId: string) => `mnemo:v1:event:agentStateChanged:${agentId}`;

export function wsClient(httpUrl: string, connectionParams: Record<string, unknown>): Client {
  return createClient({
    url: httpUrl.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  /** Resolves when at least `count` events arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  unsubscribe(): void;
}

export function collect<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Collected<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) events.push(result.data as T);
        wake();
      },
      error: (error) => {
        errors.push(error);
        wake();
      },
      complete: wake,
    },
  );
  return {
    events,
    errors,
    unsubscribe,
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (errors.length > 0) throw new Error(`subscription error: ${errors.map(describeError).join("; ")}`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`expected ${count} events, got ${events.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events.slice(0, count);
    },
  };
}

/** graphql-ws reports a closed socket as a CloseEvent; show its code and reason. */
export function describeError(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && "reason" in error) {
    return `close ${String(error.code)} ${String(error.reason)}`;
  }
  return JSON.stringify(error);
}
