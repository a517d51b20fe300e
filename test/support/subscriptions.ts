/**
 * Real graphql-ws clients for tests, and a small event collector to await events in order.
 */
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";

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
