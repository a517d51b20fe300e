/**
 * Hostile input through the gateway: a few thousand generated bad requests (malformed bodies,
 * wrong types, huge strings, deep JSON, bad ids, invalid patches, bad embeddings, unicode edge
 * cases, SQL/Cypher/Lucene metacharacters). Each must get a client-error GraphQL response or a
 * correct result; the server keeps serving; stored data changes only through valid writes.
 * The figures are printed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORES } from "../support/neo4j.js";
import { RedisServer } from "../support/redis-server.js";
import { seededRandom } from "../support/seeded-random.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";
import {
  FUZZ_OPERATIONS,
  HOSTILE_STRINGS,
  hostileValues,
  malformedBodies,
  RAW_JSON_PLACEHOLDER,
  RawJson,
} from "./fuzz-inputs.js";

/** Codes a client may legitimately get for bad input. Anything else (or HTTP 5xx) fails the test. */
const CLIENT_CODES = new Set([
  "BAD_USER_INPUT",
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PAYLOAD_TOO_LARGE",
  "VERSION_CONFLICT",
  "NOT_FOUND",
  "FORBIDDEN",
  "UNAUTHENTICATED",
]);

interface Outcome {
  kind: "ok" | "client-error" | "server-error";
  status: number;
  codes: string[];
  detail: string;
}

function classify(status: number, body: unknown): Outcome {
  const errors =
    (body as { errors?: { message?: string; extensions?: { code?: string } }[] } | null)?.errors ?? [];
  const codes = errors.map((e) => String(e.extensions?.code ?? "NONE"));
  const detail = errors
    .map((e) => e.message)
    .join(" | ")
    .slice(0, 300);
  if (status >= 500 || codes.some((c) => !CLIENT_CODES.has(c)))
    return { kind: "server-error", status, codes, detail };
  if (errors.length > 0 || status >= 400) return { kind: "client-error", status, codes, detail };
  return { kind: "ok", status, codes, detail };
}

// Every store gets hostile input; Neo4j a smaller share of the rounds (its writes are slower),
// with the same seed, so both see the same kinds of value for every argument.
const ROUNDS: Record<(typeof STORES)[number], number> = { sqlite: 55, neo4j: 12 };

describe.each(STORES)("hostile input through the gateway (%s)", (store) => {
  let redis: RedisServer;
  let mnemo: TestStack;
  let authorization: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    mnemo = await startTestStack({
      store,
      redisUrl: redis.url,
      env: { STATE_MAX_BYTES: "65536", RATE_LIMIT_PER_MINUTE: "0", MEMORY_MAX_BYTES: "4096" },
    });
    authorization = `Bearer ${await mnemo.token(ADMIN)}`;
  });
  afterAll(async () => {
    await mnemo?.close();
    await redis?.close();
  });

  const send = async (body: string, contentType = "application/json"): Promise<Outcome> => {
    const response = await fetch(mnemo.url("gateway"), {
      method: "POST",
      headers: { "content-type": contentType, authorization },
      body,
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = {
        errors: [
          {
            message: text.slice(0, 200),
            extensions: { code: response.status < 500 ? "BAD_REQUEST" : "NONE" },
          },
        ],
      };
    }
    return classify(response.status, parsed);
  };

  it("answers every bad input with a client error or a correct result, and changes nothing else", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261121);
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

    // Known data that no generated request may touch: a control agent and its memory.
    await mnemo.query(`mutation { putState(agentId: "fuzz-control", data: {keep: "me"}) { version } }`);
    const controlBefore = await snapshot(mnemo, "fuzz-control");

    const tally = new Map<string, { ok: number; clientError: number }>();
    const failures: string[] = [];
    let tried = 0;
    const count = (category: string, outcome: Outcome, input: string) => {
      tried++;
      const entry = tally.get(category) ?? { ok: 0, clientError: 0 };
      if (outcome.kind === "ok") entry.ok++;
      else if (outcome.kind === "client-error") entry.clientError++;
      else
        failures.push(
          `${category}: HTTP ${outcome.status} ${outcome.codes.join(",")} ${outcome.detail} <- ${input.slice(0, 200)}`,
        );
      tally.set(category, entry);
    };

    // 1. Malformed bodies and content types.
    for (const { body, contentType, label } of malformedBodies())
      count(`malformed body: ${label}`, await send(body, contentType), body);

    // 2. Every operation with one argument replaced by a hostile value, many times over.
    const writesByAgent = new Map<string, number>();
    for (let round = 0; round < ROUNDS[store]; round++) {
      for (const operation of FUZZ_OPERATIONS) {
        for (const argument of Object.keys(operation.variables)) {
          const { value, category } = hostileValues(random, pick, argument);
          const variables = { ...operation.variables, [argument]: value };
          let body = JSON.stringify({ query: operation.query, variables });
          if (value instanceof RawJson) body = body.replace(`"${RAW_JSON_PLACEHOLDER}"`, value.text);
          const outcome = await send(body);
          count(`${operation.name}.${argument}: ${category}`, outcome, body);
          if (outcome.kind === "ok" && operation.writesAgent) {
            const agent = String(variables.agentId ?? variables.id);
            writesByAgent.set(agent, (writesByAgent.get(agent) ?? 0) + 1);
          }
        }
      }
    }

    // 3. Hostile strings inside query text (not variables): must never reach a store as code.
    for (const hostile of HOSTILE_STRINGS) {
      const literal = JSON.stringify(hostile);
      for (const query of [
        `{ agent(id: ${literal}) { state { version } } }`,
        `mutation { putState(agentId: "fuzz-literal", data: {text: ${literal}}) { version } }`,
        `{ recall(agentId: "fuzz-literal", query: ${literal}, k: 3) { score } }`,
      ]) {
        const outcome = await send(JSON.stringify({ query }));
        count("hostile literal", outcome, query);
      }
    }

    // The server still serves, and the control agent is exactly as it was.
    const health = await mnemo.query(`{ agents(first: 1) { totalCount } }`);
    expect(health.errors).toBeUndefined();
    expect(await snapshot(mnemo, "fuzz-control")).toEqual(controlBefore);
    // Agents written by accepted requests hold exactly those versions, in an intact chain.
    for (const [agent, writes] of writesByAgent) {
      if (agent === "fuzz-control") continue;
      const after = await snapshot(mnemo, agent);
      if (after.versions !== null) {
        expect(after.versions, agent).toBeLessThanOrEqual(writes);
        expect(after.chainValid, agent).toBe(true);
      }
    }

    const rows = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b));
    const clientErrors = rows.reduce((sum, [, v]) => sum + v.clientError, 0);
    const oks = rows.reduce((sum, [, v]) => sum + v.ok, 0);
    console.log(
      `\nfuzz (seed ${seed}): ${tried} inputs, ${clientErrors} refused with a client error, ${oks} accepted as valid, ` +
        `${failures.length} server errors\n${rows.map(([k, v]) => `  ${k}: ${v.clientError} refused, ${v.ok} ok`).join("\n")}`,
    );
    expect(failures).toEqual([]);
    expect(tried).toBeGreaterThan(ROUNDS[store] * 35);
  }, 180_000);
});

async function snapshot(mnemo: TestStack, agentId: string) {
  const response = await mnemo.query<{
    agent: { state: { version: number; data: unknown } | null; history: { totalCount: number } };
    verifyHistory: { valid: boolean };
  }>(
    `query S($id: ID!) { agent(id: $id) { state { version data } history { totalCount } } verifyHistory(agentId: $id) { valid } }`,
    {
      id: agentId,
    },
  );
  if (response.errors) return { versions: null, state: null, chainValid: false };
  return {
    versions: response.data!.agent.history.totalCount,
    state: response.data!.agent.state,
    chainValid: response.data!.verifyHistory.valid,
  };
}
