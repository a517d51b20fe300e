/**
 * GraphQL calls many tests make, written once: write a state and read its version back, and
 * page through cacheKeys.
 */
import { expect } from "vitest";
import type { TestStack } from "./stack.js";

/** putState through the gateway as admin; fails the test on any error. Returns the new version. */
export async function putStateVersion(stack: TestStack, agentId: string, data: unknown): Promise<number> {
  const response = await stack.query<{ putState: { version: number } }>(
    `mutation P($a: ID!, $d: JSON!) { putState(agentId: $a, data: $d) { version } }`,
    { a: agentId, d: data },
  );
  expect(response.errors, `putState ${agentId}`).toBeUndefined();
  return response.data!.putState.version;
}

/** The agent's current state version, or null before its first write. */
export async function stateVersion(stack: TestStack, agentId: string): Promise<number | null> {
  const response = await stack.query<{ agent: { state: { version: number } | null } }>(
    `query R($a: ID!) { agent(id: $a) { state { version } } }`,
    { a: agentId },
  );
  expect(response.errors, `read ${agentId}`).toBeUndefined();
  return response.data!.agent.state?.version ?? null;
}

/** Every key cacheKeys lists under `prefix`, following its cursors `first` at a time. */
export async function listCacheKeys(stack: TestStack, prefix: string, first: number): Promise<string[]> {
  const keys: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const response: Awaited<ReturnType<TestStack["query"]>> = await stack.query(
      `query K($prefix: String!, $first: Int, $after: String) { cacheKeys(prefix: $prefix, first: $first, after: $after) {
        edges { node { key } } pageInfo { hasNextPage endCursor } } }`,
      { prefix, first, after },
    );
    expect(response.errors).toBeUndefined();
    const connection = (
      response.data as {
        cacheKeys: {
          edges: { node: { key: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }
    ).cacheKeys;
    keys.push(...connection.edges.map((edge) => edge.node.key));
    if (!connection.pageInfo.hasNextPage) return keys;
    after = connection.pageInfo.endCursor;
  }
  throw new Error(`cacheKeys under ${prefix} did not end within 1000 pages`);
}
