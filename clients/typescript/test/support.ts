/**
 * Client tests run against the real stack (test/support/stack.ts): every service in this process
 * on port 0, real HTTP and WebSocket servers, and a real redis-server where pub/sub matters.
 */
import type { Principal } from "../../../core/auth/principal.js";
import { ADMIN, type TestStack } from "../../../test/support/stack.js";
import { createMnemoClient, type MnemoClient, type MnemoClientOptions } from "../src/index.js";

let counter = 0;
/** A fresh agent id per test: suites share one stack and must not see each other's data. */
export const freshAgent = (prefix = "client") => `${prefix}-${process.pid}-${counter++}`;

/** A client for `stack`'s gateway, as `principal` (admin by default); closed by `clients.closeAll()`. */
export class ClientPool {
  private readonly clients: MnemoClient[] = [];

  async create(
    stack: TestStack,
    principal: Principal = ADMIN,
    options: Partial<MnemoClientOptions> = {},
  ): Promise<MnemoClient> {
    const token = await stack.token(principal);
    const client = createMnemoClient({ url: stack.url("gateway"), token, ...options });
    this.clients.push(client);
    return client;
  }

  track(client: MnemoClient): MnemoClient {
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }
}

/** The next value of an iterator, or a rejection after `timeoutMs` naming what was awaited. */
export async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error(`the iterator ended while waiting for ${what}`);
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** The next `count` values, in order. */
export async function takeWithin<T>(
  iterator: AsyncIterator<T>,
  count: number,
  what: string,
  timeoutMs = 15_000,
): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i++)
    values.push(await nextWithin(iterator, `${what} (${i + 1} of ${count})`, timeoutMs));
  return values;
}

/** Fast reconnects for tests: 50 ms between attempts instead of seconds. */
export const quickRetry = { retryWait: () => new Promise<void>((resolve) => setTimeout(resolve, 50)) };
