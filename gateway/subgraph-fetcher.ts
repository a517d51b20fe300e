/**
 * How the gateway calls subgraphs: undici's `request` over a keep-alive connection pool.
 *
 * Apollo's default fetcher (make-fetch-happen over node-fetch) and even WHATWG `fetch` build
 * streams, abort signals and Request objects per call; in this gateway's CPU profile that was
 * the largest single cost of a proxied query. This adapter returns just what
 * RemoteGraphQLDataSource reads from a response: ok, status, headers, text() and json().
 */
import type { RemoteGraphQLDataSource } from "@apollo/gateway";
import { Agent, request } from "undici";
import { unavailable } from "../core/errors.js";

type Fetcher = NonNullable<RemoteGraphQLDataSource["fetcher"]>;

export function createSubgraphFetcher(options: { connections?: number } = {}): {
  fetcher: Fetcher;
  close(): Promise<void>;
} {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: options.connections ?? 256 });
  const fetcher = async (
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ) => {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(url, {
        method: (init?.method ?? "POST") as "POST",
        headers: init?.headers,
        body: init?.body,
        dispatcher: agent,
      });
    } catch {
      // The cause names an internal address; the client learns only that a service is down.
      throw unavailable("A Mnemo service this operation needs is unavailable; try again shortly");
    }
    const text = await response.body.text();
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.set(name, value);
    }
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    return {
      ok,
      status: response.statusCode,
      statusText: ok ? "OK" : `HTTP ${response.statusCode}`,
      url,
      headers,
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
    };
  };
  return { fetcher: fetcher as unknown as Fetcher, close: () => agent.close() };
}
