/**
 * The bad inputs the fuzz test sends: operations with valid defaults, and generators of hostile
 * values for their arguments.
 */
import { defaultEmbeddingDimensions } from "../support/stack.js";

/** The default embedder's vector size (the ONNX model when installed, else USE lite). */
const DIMENSIONS = defaultEmbeddingDimensions();

export interface FuzzOperation {
  name: string;
  query: string;
  /** Valid values; the fuzzer replaces one at a time. */
  variables: Record<string, unknown>;
  /** True when an accepted call changes the agent named by agentId/id. */
  writesAgent: boolean;
}

export const FUZZ_OPERATIONS: FuzzOperation[] = [
  {
    name: "putState",
    query: `mutation F($agentId: ID!, $data: JSON!, $expectedVersion: Int, $reason: String) {
      putState(agentId: $agentId, data: $data, expectedVersion: $expectedVersion, reason: $reason) { version } }`,
    variables: { agentId: "fuzz-a", data: { ok: true }, expectedVersion: null, reason: "fuzz" },
    writesAgent: true,
  },
  {
    name: "patchState",
    query: `mutation F($agentId: ID!, $patch: JSON!, $format: PatchFormat, $expectedVersion: Int) {
      patchState(agentId: $agentId, patch: $patch, format: $format, expectedVersion: $expectedVersion) { version } }`,
    variables: { agentId: "fuzz-b", patch: { n: 1 }, format: "MERGE_PATCH", expectedVersion: null },
    writesAgent: true,
  },
  {
    name: "rollbackState",
    query: `mutation F($agentId: ID!, $toVersion: Int!, $reason: String) {
      rollbackState(agentId: $agentId, toVersion: $toVersion, reason: $reason) { version } }`,
    variables: { agentId: "fuzz-a", toVersion: 1, reason: null },
    writesAgent: true,
  },
  {
    name: "pruneHistory",
    query: `mutation F($agentId: ID!, $keepLast: Int!) { pruneHistory(agentId: $agentId, keepLast: $keepLast) }`,
    variables: { agentId: "fuzz-b", keepLast: 50 },
    writesAgent: true,
  },
  {
    name: "deleteAgent",
    query: `mutation F($id: ID!) { deleteAgent(id: $id) }`,
    variables: { id: "fuzz-c" },
    writesAgent: true,
  },
  {
    name: "agent",
    query: `query F($id: ID!, $version: Int!, $first: Int, $after: String) {
      agent(id: $id) { state { version } stateAt(version: $version) { version } history(first: $first, after: $after) { totalCount } } }`,
    variables: { id: "fuzz-a", version: 1, first: 5, after: null },
    writesAgent: false,
  },
  {
    name: "verifyHistory",
    query: `query F($agentId: ID!) { verifyHistory(agentId: $agentId) { valid } }`,
    variables: { agentId: "fuzz-a" },
    writesAgent: false,
  },
  {
    name: "agents",
    query: `query F($first: Int, $after: String) { agents(first: $first, after: $after) { totalCount } }`,
    variables: { first: 10, after: null },
    writesAgent: false,
  },
  {
    name: "auditLog",
    query: `query F($agentId: ID!, $first: Int, $after: String) { auditLog(agentId: $agentId, first: $first, after: $after) { totalCount } }`,
    variables: { agentId: "fuzz-a", first: 5, after: null },
    writesAgent: false,
  },
  {
    name: "remember",
    query: `mutation F($agentId: ID!, $input: MemoryInput!) { remember(agentId: $agentId, input: $input) { outcome } }`,
    variables: { agentId: "fuzz-m", input: { content: "a fuzzed memory" } },
    writesAgent: false,
  },
  {
    name: "rememberMany",
    query: `mutation F($agentId: ID!, $inputs: [MemoryInput!]!) { rememberMany(agentId: $agentId, inputs: $inputs) { outcome } }`,
    variables: { agentId: "fuzz-m", inputs: [{ content: "first fuzzed memory" }, { content: "second one" }] },
    writesAgent: false,
  },
  {
    name: "memory",
    query: `query F($id: ID!) { memory(id: $id) { id content } }`,
    variables: { id: "fuzz-m/00000000-0000-0000-0000-000000000000" },
    writesAgent: false,
  },
  {
    name: "forget",
    query: `mutation F($id: ID!) { forget(id: $id) }`,
    variables: { id: "fuzz-m/00000000-0000-0000-0000-000000000000" },
    writesAgent: false,
  },
  {
    name: "recall",
    query: `query F($agentId: ID!, $query: String!, $k: Int, $filter: MemoryFilter, $weights: RecallWeights, $queryEmbedding: [Float!]) {
      recall(agentId: $agentId, query: $query, k: $k, filter: $filter, weights: $weights, queryEmbedding: $queryEmbedding) { score } }`,
    variables: {
      agentId: "fuzz-m",
      query: "what was fuzzed?",
      k: 5,
      filter: null,
      weights: null,
      queryEmbedding: null,
    },
    writesAgent: false,
  },
  {
    name: "configureMemory",
    query: `mutation F($agentId: ID!, $config: MemoryConfigInput!) { configureMemory(agentId: $agentId, config: $config) { capacity } }`,
    variables: { agentId: "fuzz-m", config: { dedupThreshold: 0.95 } },
    writesAgent: false,
  },
];

/** Strings that break naive code: injection metacharacters, traversal, unicode edge cases. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "' OR 1=1 --",
  "'; DROP TABLE state_versions; --",
  '" OR ""="',
  "x\u0000y",
  "}) MATCH (n) DETACH DELETE n //",
  "`Agent`) RETURN 1 //",
  "$agentId",
  "*:* AND title:~ OR \\",
  '"unterminated phrase',
  "AND OR NOT",
  "a}{b",
  "{fuzz-a}",
  "../../etc/passwd",
  "%00%2e%2e%2f",
  "\ud800",
  "\udfff\ud800",
  "\u202eevil",
  "\u200b\u200b",
  "👩‍👩‍👧‍👦".repeat(20),
  "\n\r\t",
  "a".repeat(129),
  "mnemo:v1:{x}:AGENT_STATE:x",
  "__proto__",
  "constructor",
  "<script>alert(1)</script>",
  // A template-injection probe: the text is sent literally.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${…} is the point
  "${7*7}",
  "NaN",
  "-1",
];

/**
 * Deeply nested JSON as raw text: building and serialising it as a JS value would overflow the
 * test's own stack. The fuzzer splices it into the request body in place of RAW_JSON_PLACEHOLDER.
 */
export class RawJson {
  constructor(readonly text: string) {}
  toJSON() {
    return RAW_JSON_PLACEHOLDER;
  }
}
export const RAW_JSON_PLACEHOLDER = "__raw_json_placeholder__";

function deepJson(depth: number, kind: "object" | "array"): RawJson {
  return kind === "object"
    ? new RawJson(`${'{"d":'.repeat(depth)}1${"}".repeat(depth)}`)
    : new RawJson(`${"[".repeat(depth)}1${"]".repeat(depth)}`);
}

const INVALID_PATCHES: unknown[] = [
  [{ op: "remove", path: "/nope/deeper" }],
  [
    { op: "replace", path: "", value: null },
    { op: "copy", from: "/missing", path: "/x" },
  ],
  [{ op: "add", path: "/__proto__/polluted", value: 1 }],
  [{ op: "add", path: "/constructor/prototype/polluted", value: 1 }],
  [{ op: "test", path: "/ok", value: "never" }],
  [{ op: "move", from: "/a", path: "/a/b" }],
  [{}],
  [null],
  "not a patch",
  { op: "add", path: "/x", value: 1 },
  [{ op: "add", path: "x-without-slash", value: 1 }],
  [{ op: "add", path: "/arr/999999999", value: 1 }],
];

export function hostileValues(
  random: () => number,
  pick: <T>(items: readonly T[]) => T,
  argument: string,
): { value: unknown; category: string } {
  const generators: [string, () => unknown][] = [
    ["wrong type: number", () => pick([0, -1, 1.5, 2 ** 53 + 1, 1e308, -0])],
    ["wrong type: boolean", () => random() < 0.5],
    ["wrong type: array", () => [pick(HOSTILE_STRINGS), 1, null]],
    ["wrong type: object", () => ({ nested: { value: pick(HOSTILE_STRINGS) } })],
    ["null", () => null],
    ["hostile string", () => pick(HOSTILE_STRINGS)],
    ["huge string", () => "x".repeat(pick([70_000, 70_000, 300_000, 1_500_000]))],
    ["deep JSON", () => deepJson(pick([65, 200, 2000, 20_000]), random() < 0.5 ? "object" : "array")],
    ["non-finite number", () => pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])],
    ["invalid patch", () => pick(INVALID_PATCHES)],
    [
      "bad memory input",
      () =>
        pick([
          { content: "" },
          { content: "x".repeat(5000) },
          { content: "ok", embedding: [1, 2, 3] },
          { content: "ok", embedding: Array.from({ length: DIMENSIONS }, () => Number.NaN) },
          { content: "ok", embedding: ["a", "b"] },
          { content: "ok", importance: 7 },
          { content: "ok", kind: "DREAM" },
          { content: "ok", occurredAt: "yesterday" },
          { content: pick(HOSTILE_STRINGS) },
          { nocontent: true },
        ]),
    ],
    ["huge integer", () => pick([2 ** 31, -(2 ** 31) - 1, 10 ** 12, 0, 101])],
    [
      "bad embedding",
      () =>
        pick([
          [],
          [1, 2, 3],
          Array.from({ length: DIMENSIONS }, () => 0),
          Array.from({ length: DIMENSIONS + 1 }, () => 0.1),
          Array.from({ length: DIMENSIONS }, (_, i) => (i === 7 ? Number.NaN : 0.1)),
          Array.from({ length: DIMENSIONS }, (_, i) => (i === 7 ? 1e308 * 10 : 0.1)),
        ]),
    ],
    [
      "bad weights",
      () =>
        pick([
          { semantic: -1 },
          { lexical: Number.NaN },
          { graph: 1e9 },
          { nope: 1 },
          { semantic: 0, lexical: 0, graph: 0, recency: 0, importance: 0 },
        ]),
    ],
    [
      "bad filter",
      () =>
        pick([
          { kinds: ["NOPE"] },
          { occurredAfter: "not a date" },
          { occurredAfter: "2026-01-02T00:00:00Z", occurredBefore: "2026-01-01T00:00:00Z" },
          { tags: Array.from({ length: 10_000 }, (_, i) => `t${i}`) },
          { asOf: "yesterday" },
        ]),
    ],
  ];
  // Arguments get the generators that make sense for them most of the time, anything sometimes.
  const preferred: Record<string, string[]> = {
    patch: ["invalid patch", "deep JSON", "huge string"],
    data: ["deep JSON", "huge string", "non-finite number"],
    input: ["bad memory input"],
    inputs: ["bad memory input", "wrong type: array"],
    queryEmbedding: ["bad embedding"],
    weights: ["bad weights"],
    config: ["bad weights", "wrong type: object"],
    filter: ["bad filter"],
    k: ["huge integer", "wrong type: number"],
    query: ["hostile string", "huge string"],
    agentId: ["hostile string", "huge string"],
    id: ["hostile string", "huge string"],
    after: ["hostile string"],
  };
  const names = preferred[argument];
  const pool = names && random() < 0.7 ? generators.filter(([name]) => names.includes(name)) : generators;
  const [category, generate] = pick(pool);
  return { value: generate(), category };
}

/** Bodies that are not valid GraphQL-over-HTTP requests at all. */
export function malformedBodies(): { body: string; contentType: string; label: string }[] {
  const json = "application/json";
  return [
    { body: "", contentType: json, label: "empty" },
    { body: "{", contentType: json, label: "truncated JSON" },
    { body: '{"query": "{ agents { totalCount } "', contentType: json, label: "truncated JSON" },
    { body: "null", contentType: json, label: "JSON null" },
    { body: "42", contentType: json, label: "JSON number" },
    { body: '"query"', contentType: json, label: "JSON string" },
    { body: "[]", contentType: json, label: "empty batch" },
    { body: '{"query": 42}', contentType: json, label: "query not a string" },
    {
      body: '{"query": "{ agents { totalCount } }", "variables": "nope"}',
      contentType: json,
      label: "variables not an object",
    },
    {
      body: '{"query": "{ agents { totalCount } }", "operationName": 7}',
      contentType: json,
      label: "operationName not a string",
    },
    { body: '{"query": "{ agents { totalCount }', contentType: json, label: "unbalanced" },
    {
      body: '{"query": "query { __typename } query { __typename }"}',
      contentType: json,
      label: "ambiguous operation",
    },
    { body: '{"query": "{ nope }"}', contentType: json, label: "unknown field" },
    {
      body: '{"query": "subscription { agentStateChanged(agentId: \\"x\\") { version } }"}',
      contentType: json,
      label: "subscription over POST",
    },
    {
      body: "query=%7Bagents%7BtotalCount%7D%7D",
      contentType: "application/x-www-form-urlencoded",
      label: "form body",
    },
    { body: "{ agents { totalCount } }", contentType: "text/plain", label: "text/plain (CSRF)" },
    {
      body: '{"query": "{ agents { totalCount } }"}',
      contentType: "application/xml",
      label: "wrong content type",
    },
    {
      body: `{"query": "${"{ a: agents { totalCount } ".repeat(1)}}", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "00"}}}`,
      contentType: json,
      label: "bogus persisted query",
    },
    {
      body: `{"query": "{ agents { totalCount } }", "variables": ${JSON.stringify({ x: "y".repeat(3_000_000) })}}`,
      contentType: json,
      label: "over the body limit",
    },
    { body: "\u0000\u0001\u0002", contentType: json, label: "binary" },
    { body: '{"query": "\\ud800"}', contentType: json, label: "lone surrogate query" },
  ];
}
