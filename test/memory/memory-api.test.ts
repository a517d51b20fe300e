/**
 * The memory API through the gateway, on a real Redis and SQLite files: writes, reads, limits,
 * errors (each with its code, each writing nothing), authorisation, dedup, capacity and restart.
 */
import { describe, expect, it } from "vitest";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import {
  ADMIN,
  agentPrincipal,
  defaultEmbeddingDimensions,
  readerPrincipal,
  startTestStack,
  useRedisStack,
} from "../support/stack.js";

const REMEMBER = `mutation Remember($agentId: ID!, $input: MemoryInput!) {
  remember(agentId: $agentId, input: $input) { outcome memory { id agentId content kind tags importance occurredAt
    createdAt accessCount lastAccessedAt modality caption mediaUri metadata sessionId validUntil } }
}`;
const REMEMBER_MANY = `mutation RememberMany($agentId: ID!, $inputs: [MemoryInput!]!) {
  rememberMany(agentId: $agentId, inputs: $inputs) { outcome memory { id content } }
}`;
const COUNT = `query Count($id: ID!) { agent(id: $id) { memories(filter: { includeInvalid: true }) { totalCount } } }`;

interface RememberData {
  remember: { outcome: string; memory: Record<string, unknown> & { id: string } };
}

describe.each(STORES)("memory API through the gateway (real Redis, %s)", (store) => {
  const env = useRedisStack({ store, env: { MEMORY_MAX_BYTES: "2048" } });

  const remember = async (agentId: string, input: Record<string, unknown>, as = ADMIN) =>
    env.mnemo.query<RememberData>(REMEMBER, { agentId, input }, as);
  const count = async (agentId: string) =>
    (await env.mnemo.query<{ agent: { memories: { totalCount: number } } }>(COUNT, { id: agentId })).data!
      .agent.memories.totalCount;
  const validCount = async (agentId: string) =>
    (
      await env.mnemo.query<{ agent: { memories: { totalCount: number } } }>(
        `query Valid($id: ID!) { agent(id: $id) { memories { totalCount } } }`,
        { id: agentId },
      )
    ).data!.agent.memories.totalCount;

  it("remembers a memory with every field and reads it back by id and through the agent", async () => {
    const written = await remember("api-1", {
      content: "Ada Lovelace met Charles Babbage in London",
      kind: "SEMANTIC",
      tags: ["history", "history", " people "],
      importance: 0.8,
      occurredAt: "1833-06-05T12:00:00Z",
      metadata: { source: "book" },
      sessionId: "s-1",
    });
    expect(written.errors).toBeUndefined();
    const memory = written.data!.remember.memory;
    expect(written.data!.remember.outcome).toBe("CREATED");
    expect(memory).toMatchObject({
      agentId: "api-1",
      content: "Ada Lovelace met Charles Babbage in London",
      kind: "SEMANTIC",
      tags: ["history", "people"],
      importance: 0.8,
      occurredAt: "1833-06-05T12:00:00.000Z",
      accessCount: 0,
      lastAccessedAt: null,
      modality: "TEXT",
      metadata: { source: "book" },
      sessionId: "s-1",
    });
    expect(memory.id).toMatch(/^api-1\//);

    const read = await env.mnemo.query<{
      memory: { content: string; entities: { name: string; type: string }[]; agent: { id: string } };
      agent: {
        memories: { totalCount: number; edges: { node: { id: string } }[] };
        entities: { totalCount: number };
      };
    }>(
      `query Read($id: ID!) {
        memory(id: $id) { content agent { id } entities { name type } }
        agent(id: "api-1") { memories { totalCount edges { node { id } } } entities { totalCount } }
      }`,
      { id: memory.id },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data!.memory.content).toBe("Ada Lovelace met Charles Babbage in London");
    expect(read.data!.memory.agent).toEqual({ id: "api-1" });
    // The offline extractor found the people and the place.
    expect(read.data!.memory.entities).toEqual(
      expect.arrayContaining([
        { name: "Ada Lovelace", type: "PERSON" },
        { name: "Charles Babbage", type: "PERSON" },
        { name: "London", type: "PLACE" },
      ]),
    );
    expect(read.data!.agent.memories.edges.map((e) => e.node.id)).toEqual([memory.id]);
    expect(read.data!.agent.entities.totalCount).toBe(3);
  });

  it("stores non-text memories by caption, client entities and relations, sessions and derivations", async () => {
    const photo = await remember("api-2", {
      modality: "IMAGE",
      mediaUri: "s3://bucket/whiteboard.png",
      caption: "Whiteboard sketch of the ingestion pipeline",
      sessionId: "standup",
      extractEntities: false,
      entities: [{ name: "Ingestion Pipeline", type: "PROJECT" }],
      relations: [{ from: "Ingestion Pipeline", to: "Kafka", type: "USES" }],
    });
    expect(photo.errors).toBeUndefined();
    expect(photo.data!.remember.memory).toMatchObject({
      content: "Whiteboard sketch of the ingestion pipeline",
      modality: "IMAGE",
      caption: "Whiteboard sketch of the ingestion pipeline",
      mediaUri: "s3://bucket/whiteboard.png",
    });
    const next = await remember("api-2", {
      content: "We agreed to move the pipeline to Kafka",
      sessionId: "standup",
      derivedFrom: [photo.data!.remember.memory.id],
      extractEntities: false,
    });
    const read = await env.mnemo.query<{
      memory: {
        follows: { id: string };
        derivedFrom: { id: string }[];
      };
      photo: {
        entities: {
          name: string;
          type: string;
          related: { type: string; direction: string; entity: { name: string } }[];
        }[];
      };
    }>(
      `query Read($id: ID!, $photo: ID!) {
        memory(id: $id) { follows { id } derivedFrom { id } }
        photo: memory(id: $photo) { entities { name type related { type direction entity { name } } } }
      }`,
      { id: next.data!.remember.memory.id, photo: photo.data!.remember.memory.id },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data!.memory.follows.id).toBe(photo.data!.remember.memory.id);
    expect(read.data!.memory.derivedFrom).toEqual([{ id: photo.data!.remember.memory.id }]);
    expect(read.data!.photo.entities).toEqual(
      expect.arrayContaining([
        {
          name: "Ingestion Pipeline",
          type: "PROJECT",
          related: [{ type: "USES", direction: "OUTGOING", entity: { name: "Kafka" } }],
        },
      ]),
    );
  });

  it("merges duplicates instead of storing them twice, and says so", async () => {
    const first = await remember("api-dedup", {
      content: "The deploy freeze starts on Friday",
      tags: ["ops"],
    });
    const exact = await remember("api-dedup", {
      content: "the deploy freeze starts on friday.",
      tags: ["release"],
      occurredAt: "2099-01-01T00:00:00Z",
    });
    expect(exact.data!.remember.outcome).toBe("MERGED");
    expect(exact.data!.remember.memory).toMatchObject({
      id: first.data!.remember.memory.id,
      tags: ["ops", "release"],
      occurredAt: "2099-01-01T00:00:00.000Z",
      accessCount: 1,
    });
    // A paraphrase that states the same thing (a filler word, another spelling of the day).
    const near = await remember("api-dedup", { content: "The deploy freeze actually starts on Fri" });
    expect(near.data!.remember.outcome).toBe("MERGED");
    // Another word is another statement, however close in meaning: kept.
    const synonym = await remember("api-dedup", { content: "The deploy freeze begins on Friday" });
    expect(synonym.data!.remember.outcome).toBe("CREATED");
    const unrelated = await remember("api-dedup", { content: "Lunch is pizza today" });
    expect(unrelated.data!.remember.outcome).toBe("CREATED");
    // The model scores these 0.99 alike, but the numbers differ: an update, not a duplicate.
    await remember("api-dedup", { content: "Meeting moved to 3pm" });
    const moved = await remember("api-dedup", { content: "Meeting moved to 4pm" });
    expect(moved.data!.remember.outcome).toBe("CREATED");
    // Within one batch too.
    const many = await env.mnemo.query<{ rememberMany: { outcome: string }[] }>(REMEMBER_MANY, {
      agentId: "api-dedup-batch",
      inputs: [{ content: "same thing" }, { content: "Same thing!" }, { content: "another thing" }],
    });
    expect(many.data!.rememberMany.map((r) => r.outcome)).toEqual(["CREATED", "MERGED", "CREATED"]);
    expect(await count("api-dedup")).toBe(5);
    expect(await count("api-dedup-batch")).toBe(2);
  });

  it("never loses a changed fact: the May/June release of the README, with and without supersedes", async () => {
    const WRITE = `mutation R($agentId: ID!, $input: MemoryInput!) {
      remember(agentId: $agentId, input: $input) {
        outcome memory { id content createdAt validUntil } contradicts { id } superseded { id validUntil }
      }
    }`;
    type Written = {
      remember: {
        outcome: string;
        memory: { id: string; content: string; createdAt: string; validUntil: string | null };
        contradicts: { id: string }[];
        superseded: { id: string; validUntil: string } | null;
      };
    };
    const LINKS = `query M($id: ID!) { memory(id: $id) {
      validUntil contradicts { id } supersedes { id } supersededBy { id } } }`;
    type Links = {
      memory: {
        validUntil: string | null;
        contradicts: { id: string }[];
        supersedes: { id: string } | null;
        supersededBy: { id: string } | null;
      };
    };
    const RECALL = `query Q($agentId: ID!, $asOf: DateTime) {
      recall(agentId: $agentId, query: "When is the release due?", filter: { asOf: $asOf }) {
        memory { content contradicts { content } } } }`;
    type Recalled = { recall: { memory: { content: string; contradicts: { content: string }[] } }[] };

    // With supersedes: two memories, June valid, May invalidated, both linked.
    const may = await env.mnemo.query<Written>(WRITE, {
      agentId: "release-1",
      input: { content: "The release is due in May" },
    });
    const mayId = may.data!.remember.memory.id;
    const june = await env.mnemo.query<Written>(WRITE, {
      agentId: "release-1",
      input: { content: "The release is due in June", supersedes: mayId },
    });
    expect(june.errors).toBeUndefined();
    const juneId = june.data!.remember.memory.id;
    expect(june.data!.remember).toMatchObject({
      outcome: "SUPERSEDED",
      memory: { content: "The release is due in June", validUntil: null },
      superseded: { id: mayId },
    });
    expect(juneId).not.toBe(mayId);
    const mayAfter = await env.mnemo.query<Links>(LINKS, { id: mayId });
    expect(mayAfter.data!.memory).toMatchObject({ supersededBy: { id: juneId } });
    expect(mayAfter.data!.memory.validUntil).not.toBeNull();
    const juneAfter = await env.mnemo.query<Links>(LINKS, { id: juneId });
    expect(juneAfter.data!.memory).toMatchObject({ validUntil: null, supersedes: { id: mayId } });
    const later = new Date(Date.parse(june.data!.remember.memory.createdAt) + 1000).toISOString();
    const asOfLater = await env.mnemo.query<Recalled>(RECALL, { agentId: "release-1", asOf: later });
    expect(asOfLater.data!.recall.map((hit) => hit.memory.content)).toEqual(["The release is due in June"]);
    expect(await count("release-1")).toBe(2); // nothing lost...
    expect(await validCount("release-1")).toBe(1); // ...and only June holds now
    const before = new Date(Date.parse(may.data!.remember.memory.createdAt) + 1).toISOString();
    const asOfBefore = await env.mnemo.query<Recalled>(RECALL, { agentId: "release-1", asOf: before });
    expect(asOfBefore.data!.recall.map((hit) => hit.memory.content)).toEqual(["The release is due in May"]);

    // Without supersedes: June is its own memory, both valid, linked as contradicting.
    const may2 = await env.mnemo.query<Written>(WRITE, {
      agentId: "release-2",
      input: { content: "The release is due in May" },
    });
    const june2 = await env.mnemo.query<Written>(WRITE, {
      agentId: "release-2",
      input: { content: "The release is due in June" },
    });
    expect(june2.data!.remember).toMatchObject({
      outcome: "CREATED",
      contradicts: [{ id: may2.data!.remember.memory.id }],
      superseded: null,
    });
    expect(await validCount("release-2")).toBe(2);
    const recalled = await env.mnemo.query<Recalled>(RECALL, { agentId: "release-2" });
    expect(
      recalled.data!.recall.map((hit) => [hit.memory.content, hit.memory.contradicts.map((m) => m.content)]),
    ).toEqual(
      expect.arrayContaining([
        ["The release is due in May", ["The release is due in June"]],
        ["The release is due in June", ["The release is due in May"]],
      ]),
    );

    // The agent may choose temporal updates instead: the older fact ends when the newer is said.
    await env.mnemo.query(
      `mutation { configureMemory(agentId: "release-3", config: { contradictionPolicy: INVALIDATE_OLDER }) { contradictionPolicy } }`,
    );
    const may3 = await env.mnemo.query<Written>(WRITE, {
      agentId: "release-3",
      input: { content: "The release is due in May", occurredAt: "2026-03-01T00:00:00Z" },
    });
    await env.mnemo.query<Written>(WRITE, {
      agentId: "release-3",
      input: { content: "The release is due in June", occurredAt: "2026-04-01T00:00:00Z" },
    });
    const ended = await env.mnemo.query<Links>(LINKS, { id: may3.data!.remember.memory.id });
    expect(ended.data!.memory.validUntil).toBe("2026-04-01T00:00:00.000Z");
    expect(await count("release-3")).toBe(2);
    expect(await validCount("release-3")).toBe(1);
  });

  it("rejects bad input with the right code and writes nothing", async () => {
    const agent = "api-bad";
    await remember(agent, { content: "baseline" });
    const cases: [Record<string, unknown> | string, string][] = [
      [{ content: "x".repeat(2049) }, "PAYLOAD_TOO_LARGE"],
      [{ content: "   " }, "BAD_USER_INPUT"],
      [{ content: "ok", importance: 1.5 }, "BAD_USER_INPUT"],
      [{ content: "ok", embedding: [0.1, 0.2, 0.3] }, "BAD_USER_INPUT"],
      [{ content: "ok", embedding: new Array(defaultEmbeddingDimensions()).fill(0) }, "BAD_USER_INPUT"],
      [{ modality: "IMAGE", mediaUri: "file:///x.png" }, "BAD_USER_INPUT"],
      [
        { content: "ok", validFrom: "2026-02-01T00:00:00Z", validUntil: "2026-01-01T00:00:00Z" },
        "BAD_USER_INPUT",
      ],
      [{ content: "ok", derivedFrom: [`${agent}/00000000-0000-4000-8000-000000000000`] }, "NOT_FOUND"],
      [{ content: "ok", occurredAt: "yesterday" }, "BAD_USER_INPUT"],
      [{ content: "ok", occurredAt: 5 }, "BAD_USER_INPUT"],
      [{ content: "ok", validUntil: "2026-13-45T99:00:00Z" }, "BAD_USER_INPUT"],
    ];
    for (const [input, code] of cases) {
      const response = await remember(agent, input as Record<string, unknown>);
      expect({ input, codes: errorCodes(response) }).toEqual({ input, codes: [code] });
    }
    // NaN and Infinity cannot be sent as JSON numbers; a JSON body with 1e999 parses to Infinity.
    const token = await env.mnemo.token(ADMIN);
    const vector = new Array(defaultEmbeddingDimensions()).fill("0.5").join(",").replace(/^0\.5/, "1e999");
    const raw = await fetch(env.mnemo.url("gateway"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: `{"query":${JSON.stringify(REMEMBER)},"variables":{"agentId":"${agent}","input":{"content":"inf","embedding":[${vector}]}}}`,
    });
    const body = (await raw.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors.map((e) => e.extensions.code)).toEqual(["BAD_USER_INPUT"]);
    // One bad input fails the whole batch.
    const batch = await env.mnemo.query(REMEMBER_MANY, {
      agentId: agent,
      inputs: [{ content: "fine" }, { content: "ok", importance: -1 }],
    });
    expect(errorCodes(batch)).toEqual(["BAD_USER_INPUT"]);
    expect(batch.errors![0]!.message).toContain("inputs[1].importance");
    const tooMany = await env.mnemo.query(REMEMBER_MANY, {
      agentId: agent,
      inputs: Array.from({ length: 101 }, (_, i) => ({ content: `m${i}` })),
    });
    expect(errorCodes(tooMany)).toEqual(["BAD_USER_INPUT"]);
    expect(await count(agent)).toBe(1);

    for (const k of [0, 101]) {
      const recall = await env.mnemo.query(
        `query { recall(agentId: "${agent}", query: "baseline", k: ${k}) { score } }`,
      );
      expect(errorCodes(recall)).toEqual(["BAD_USER_INPUT"]);
    }
    for (const signal of ["semantic", "session"]) {
      const badWeights = await env.mnemo.query(
        `query { recall(agentId: "${agent}", query: "x", weights: { ${signal}: -1 }) { score } }`,
      );
      expect(errorCodes(badWeights)).toEqual(["BAD_USER_INPUT"]);
    }
    const badQueryVector = await env.mnemo.query(
      `query { recall(agentId: "${agent}", query: "x", queryEmbedding: [1, 2]) { score } }`,
    );
    expect(errorCodes(badQueryVector)).toEqual(["BAD_USER_INPUT"]);
    const badConfig = await env.mnemo.query(
      `mutation { configureMemory(agentId: "${agent}", config: { dedupThreshold: 0.1 }) { dedupThreshold } }`,
    );
    expect(errorCodes(badConfig)).toEqual(["BAD_USER_INPUT"]);
    const badDate = await env.mnemo.query(
      `query ($f: MemoryFilter) { recall(agentId: "${agent}", query: "x", filter: $f) { score } }`,
      { f: { occurredAfter: "last week" } },
    );
    expect(errorCodes(badDate)).toEqual(["BAD_USER_INPUT"]);
    const badAgent = await remember("bad agent id!", { content: "x" });
    expect(errorCodes(badAgent)).toEqual(["BAD_USER_INPUT"]);
  });

  it("keeps agents apart: another agent's memory is forbidden, unknown ids are not found", async () => {
    const alice = agentPrincipal("api-alice");
    const mine = await remember("api-alice", { content: "Alice's secret plan is to learn Rust" }, alice);
    expect(mine.errors).toBeUndefined();
    await remember("api-bob", { content: "Bob's secret plan is to learn Rust too" });
    const bob = agentPrincipal("api-bob");
    const aliceId = mine.data!.remember.memory.id;

    const peek = await env.mnemo.query(
      `query ($id: ID!) { memory(id: $id) { content } }`,
      { id: aliceId },
      bob,
    );
    expect(errorCodes(peek)).toEqual(["FORBIDDEN"]);
    const steal = await env.mnemo.query(
      `query { recall(agentId: "api-alice", query: "secret plan") { score } }`,
      {},
      bob,
    );
    expect(errorCodes(steal)).toEqual(["FORBIDDEN"]);
    const erase = await env.mnemo.query(`mutation ($id: ID!) { forget(id: $id) }`, { id: aliceId }, bob);
    expect(errorCodes(erase)).toEqual(["FORBIDDEN"]);
    const write = await remember("api-alice", { content: "bob was here" }, bob);
    expect(errorCodes(write)).toEqual(["FORBIDDEN"]);
    const reader = await remember("api-alice", { content: "x" }, readerPrincipal("api-alice"));
    expect(errorCodes(reader)).toEqual(["FORBIDDEN"]);
    expect(await count("api-alice")).toBe(1);

    // Bob's recall only ever sees Bob's memories.
    const bobs = await env.mnemo.query<{ recall: { memory: { agentId: string } }[] }>(
      `query { recall(agentId: "api-bob", query: "secret plan Rust", k: 10) { memory { agentId } } }`,
      {},
      bob,
    );
    expect(bobs.data!.recall.map((hit) => hit.memory.agentId)).toEqual(["api-bob"]);

    const unknown = await env.mnemo.query(
      `query { memory(id: "api-alice/00000000-0000-4000-8000-000000000000") { id } }`,
      {},
      alice,
    );
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data).toEqual({ memory: null });
    const forgetUnknown = await env.mnemo.query(
      `mutation { forget(id: "api-alice/00000000-0000-4000-8000-000000000000") }`,
      {},
      alice,
    );
    expect(errorCodes(forgetUnknown)).toEqual(["NOT_FOUND"]);
    const forgetGarbage = await env.mnemo.query(`mutation { forget(id: "garbage") }`, {}, alice);
    expect(errorCodes(forgetGarbage)).toEqual(["NOT_FOUND"]);
  });

  it("forgets a memory: it disappears from reads (cached ones too), recall and the agent's count", async () => {
    const written = await remember("api-forget", { content: "Temporary note about the vendor call" });
    const id = written.data!.remember.memory.id;
    const read = `query ($id: ID!) { memory(id: $id) { content } }`;
    // Read twice so the second read is served from the cache.
    await env.mnemo.query(read, { id });
    expect((await env.mnemo.query(read, { id })).data).toEqual({
      memory: { content: "Temporary note about the vendor call" },
    });
    const forgotten = await env.mnemo.query(`mutation ($id: ID!) { forget(id: $id) }`, { id });
    expect(forgotten.data).toEqual({ forget: true });
    expect((await env.mnemo.query(read, { id })).data).toEqual({ memory: null });
    const recall = await env.mnemo.query<{ recall: unknown[] }>(
      `query { recall(agentId: "api-forget", query: "vendor call") { score } }`,
    );
    expect(recall.data!.recall).toEqual([]);
    expect(await count("api-forget")).toBe(0);
  });

  it("configures weights, half-life, dedup threshold and capacity; capacity evicts the least important", async () => {
    const configured = await env.mnemo.query<{ configureMemory: Record<string, unknown> }>(
      `mutation { configureMemory(agentId: "api-config", config: {
          weights: { semantic: 2, lexical: 1 }, recencyHalfLifeHours: 12, capacity: 2 }) {
        weights { semantic lexical graph recency importance session } recencyHalfLifeHours dedupThreshold capacity } }`,
    );
    expect(configured.errors).toBeUndefined();
    expect(configured.data!.configureMemory).toEqual({
      weights: { semantic: 2, lexical: 1, graph: 1, recency: 0.1, importance: 0.05, session: 0.25 },
      recencyHalfLifeHours: 12,
      dedupThreshold: 0.97,
      capacity: 2,
    });
    await remember("api-config", { content: "minor detail about parking", importance: 0.1 });
    await remember("api-config", { content: "key decision: ship in May", importance: 0.9 });
    await remember("api-config", { content: "a second key decision: hire two engineers", importance: 0.7 });
    const left = await env.mnemo.query<{
      agent: { memories: { edges: { node: { content: string } }[] }; memoryConfig: { capacity: number } };
    }>(`{ agent(id: "api-config") { memoryConfig { capacity } memories { edges { node { content } } } } }`);
    expect(left.data!.agent.memories.edges.map((e) => e.node.content)).toEqual([
      "a second key decision: hire two engineers",
      "key decision: ship in May",
    ]);
    expect(left.data!.agent.memoryConfig.capacity).toBe(2);
    const unlimited = await env.mnemo.query<{ configureMemory: { capacity: number | null } }>(
      `mutation { configureMemory(agentId: "api-config", config: { capacity: 0 }) { capacity } }`,
    );
    expect(unlimited.data!.configureMemory.capacity).toBeNull();
  });

  it("filters the agent's memories and pages through them", async () => {
    const agent = "api-filter";
    const many = await env.mnemo.query<{ rememberMany: { memory: { id: string } }[] }>(REMEMBER_MANY, {
      agentId: agent,
      inputs: [
        { content: "how to restart the worker: run make restart", kind: "PROCEDURAL", tags: ["ops"] },
        { content: "the worker crashed at noon", occurredAt: "2026-03-01T12:00:00Z", tags: ["incident"] },
        { content: "the old on-call rota", validUntil: "2020-01-01T00:00:00Z" },
        {
          content: "sensor reading 21.5C",
          modality: "SENSOR",
          caption: "Temperature in the server room: 21.5C",
        },
      ],
    });
    expect(many.errors).toBeUndefined();
    const query = `query ($filter: MemoryFilter, $after: String) { agent(id: "${agent}") {
      memories(first: 2, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { node { content } } } } }`;
    type Page = {
      agent: {
        memories: {
          totalCount: number;
          pageInfo: { hasNextPage: boolean; endCursor: string };
          edges: { node: { content: string } }[];
        };
      };
    };
    const contents = (page: Page) => page.agent.memories.edges.map((e) => e.node.content);

    const first = (await env.mnemo.query<Page>(query, {})).data!;
    expect(first.agent.memories.totalCount).toBe(3);
    expect(contents(first)).toEqual(["sensor reading 21.5C", "the worker crashed at noon"]);
    const second = (await env.mnemo.query<Page>(query, { after: first.agent.memories.pageInfo.endCursor }))
      .data!;
    expect(contents(second)).toEqual(["how to restart the worker: run make restart"]);
    expect(second.agent.memories.pageInfo.hasNextPage).toBe(false);

    expect(
      contents((await env.mnemo.query<Page>(query, { filter: { kinds: ["PROCEDURAL"] } })).data!),
    ).toEqual(["how to restart the worker: run make restart"]);
    expect(
      contents((await env.mnemo.query<Page>(query, { filter: { tags: ["incident", "nope"] } })).data!),
    ).toEqual(["the worker crashed at noon"]);
    expect(
      contents((await env.mnemo.query<Page>(query, { filter: { modalities: ["SENSOR"] } })).data!),
    ).toEqual(["sensor reading 21.5C"]);
    expect(
      contents(
        (
          await env.mnemo.query<Page>(query, {
            filter: { occurredAfter: "2026-03-01T00:00:00Z", occurredBefore: "2026-03-02T00:00:00Z" },
          })
        ).data!,
      ),
    ).toEqual(["the worker crashed at noon"]);
    const withInvalid = (await env.mnemo.query<Page>(query, { filter: { includeInvalid: true } })).data!;
    expect(withInvalid.agent.memories.totalCount).toBe(4);
  });

  it("counts recall hits as accesses", async () => {
    const written = await remember("api-access", { content: "The wifi password is hunter2" });
    const id = written.data!.remember.memory.id;
    for (let i = 0; i < 2; i++) {
      const recall = await env.mnemo.query<{ recall: { memory: { id: string } }[] }>(
        `query { recall(agentId: "api-access", query: "wifi password", k: 1) { memory { id } } }`,
      );
      expect(recall.data!.recall.map((hit) => hit.memory.id)).toEqual([id]);
    }
    const read = await env.mnemo.query<{ memory: { accessCount: number; lastAccessedAt: string } }>(
      `query ($id: ID!) { memory(id: $id) { accessCount lastAccessedAt } }`,
      { id },
    );
    expect(read.data!.memory.accessCount).toBe(2);
    expect(Date.parse(read.data!.memory.lastAccessedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("refuses a memory request that does not come from the gateway", async () => {
    const direct = await postGraphQL(
      env.mnemo.url("memory"),
      `{ recall(agentId: "api-1", query: "x") { score } }`,
    );
    expect(errorCodes(direct)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe.each(STORES)("memory across a restart (%s)", (store) => {
  it("keeps memories, entities, links, configuration and recall after the stack restarts", async () => {
    const first = await startTestStack({ store });
    const dataDir = first.dataDir;
    const written = await first.query<RememberData>(REMEMBER, {
      agentId: "restart-1",
      input: { content: "Grace Hopper found a moth in the Harvard Mark II", sessionId: "s" },
    });
    await first.query(REMEMBER, {
      agentId: "restart-1",
      input: { content: "Then she taped it into the logbook", sessionId: "s" },
    });
    await first.query(
      `mutation { configureMemory(agentId: "restart-1", config: { recencyHalfLifeHours: 5 }) { capacity } }`,
    );
    await first.close({ keepData: true });

    const second = await startTestStack({ store, dataDir });
    try {
      const read = await second.query<{
        recall: { memory: { id: string; entities: { name: string }[] } }[];
        agent: {
          memories: { totalCount: number; edges: { node: { follows: { id: string } | null } }[] };
          memoryConfig: { recencyHalfLifeHours: number };
        };
      }>(
        `{ recall(agentId: "restart-1", query: "Who found a moth?", k: 1) { memory { id entities { name } } }
           agent(id: "restart-1") { memoryConfig { recencyHalfLifeHours } memories { totalCount edges { node { follows { id } } } } } }`,
      );
      expect(read.errors).toBeUndefined();
      expect(read.data!.recall[0]!.memory.id).toBe(written.data!.remember.memory.id);
      expect(read.data!.recall[0]!.memory.entities.map((e) => e.name)).toContain("Grace Hopper");
      expect(read.data!.agent.memories.totalCount).toBe(2);
      expect(read.data!.agent.memories.edges[0]!.node.follows?.id).toBe(written.data!.remember.memory.id);
      expect(read.data!.agent.memoryConfig.recencyHalfLifeHours).toBe(5);
    } finally {
      await second.close();
    }
  });
});
