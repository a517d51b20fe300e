/**
 * The GraphQL operations the MCP tools and the state resource send, named `Mcp…` so the gateway's
 * logs and metrics (labelled by operation name) show what MCP clients do. Selections are kept to
 * what a model needs: every field is tokens in its context window.
 */

const STATE_FIELDS = "version data createdAt author reason hash";
const MEMORY_FIELDS =
  "id content kind tags importance pinned occurredAt createdAt validUntil sessionId entities { name type }";

export const GET_STATE = `query McpGetState($agentId: ID!) {
  agent(id: $agentId) { state { ${STATE_FIELDS} } }
}`;

export const GET_STATE_AT = `query McpGetStateAt($agentId: ID!, $version: Int!) {
  agent(id: $agentId) { stateAt(version: $version) { ${STATE_FIELDS} } }
}`;

export const PUT_STATE = `mutation McpPutState($agentId: ID!, $data: JSON!, $expectedVersion: Int, $reason: String) {
  putState(agentId: $agentId, data: $data, expectedVersion: $expectedVersion, reason: $reason) {
    version createdAt hash
  }
}`;

export const PATCH_STATE = `mutation McpPatchState(
  $agentId: ID!, $patch: JSON!, $format: PatchFormat, $expectedVersion: Int, $reason: String
) {
  patchState(agentId: $agentId, patch: $patch, format: $format, expectedVersion: $expectedVersion, reason: $reason) {
    version data createdAt hash
  }
}`;

export const ROLLBACK_STATE = `mutation McpRollbackState($agentId: ID!, $toVersion: Int!, $reason: String) {
  rollbackState(agentId: $agentId, toVersion: $toVersion, reason: $reason) { version data createdAt hash }
}`;

export const STATE_HISTORY = `query McpStateHistory($agentId: ID!, $first: Int, $after: String, $includeData: Boolean!) {
  agent(id: $agentId) {
    history(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { version createdAt author reason diff data @include(if: $includeData) } }
    }
  }
}`;

export const REMEMBER = `mutation McpRemember($agentId: ID!, $input: MemoryInput!) {
  remember(agentId: $agentId, input: $input) {
    outcome
    memory { ${MEMORY_FIELDS} }
    contradicts { id content }
    superseded { id content validUntil }
  }
}`;

export const RECALL = `query McpRecall($agentId: ID!, $query: String!, $k: Int, $filter: MemoryFilter) {
  recall(agentId: $agentId, query: $query, k: $k, filter: $filter) { score memory { ${MEMORY_FIELDS} } }
}`;

export const FORGET = `mutation McpForget($id: ID!) { forget(id: $id) }`;

export const LIST_AGENTS = `query McpListAgents($first: Int, $after: String) {
  agents(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } }
}`;

export const STATE_CHANGED = `subscription McpStateChanged($agentId: ID!) {
  agentStateChanged(agentId: $agentId) { version }
}`;

/** What the state queries and mutations return. */
export interface StateVersion {
  version: number;
  data?: unknown;
  createdAt: string;
  author?: string | null;
  reason?: string | null;
  hash: string;
}
