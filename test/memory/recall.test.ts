/**
 * Recall quality on small hand-built cases, one per signal, through the gateway with the real
 * offline embedder: the relevant memory must come first, and the component that put it there
 * must say so.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORES } from "../support/neo4j.js";
import { defaultEmbeddingDimensions, startTestStack, type TestStack } from "../support/stack.js";

interface Hit {
  score: number;
  memory: { id: string; content: string };
  components: {
    semantic: number;
    lexical: number;
    graph: number;
    recency: number;
    importance: number;
    session: number;
  };
}

const RECALL = `query Recall($agentId: ID!, $query: String!, $k: Int, $filter: MemoryFilter, $weights: RecallWeights, $queryEmbedding: [Float!]) {
  recall(agentId: $agentId, query: $query, k: $k, filter: $filter, weights: $weights, queryEmbedding: $queryEmbedding) {
    score memory { id content } components { semantic lexical graph recency importance session }
  }
}`;

describe.each(STORES)("recall ranks the relevant memory first (%s)", (store) => {
  let mnemo: TestStack;

  const rememberAll = async (agentId: string, inputs: Record<string, unknown>[]) => {
    const response = await mnemo.query<{ rememberMany: { outcome: string; memory: { id: string } }[] }>(
      `mutation ($agentId: ID!, $inputs: [MemoryInput!]!) { rememberMany(agentId: $agentId, inputs: $inputs) { outcome memory { id } } }`,
      { agentId, inputs },
    );
    expect(response.errors).toBeUndefined();
    return response.data!.rememberMany.map((r) => r.memory.id);
  };
  const recall = async (agentId: string, query: string, variables: Record<string, unknown> = {}) => {
    const response = await mnemo.query<{ recall: Hit[] }>(RECALL, { agentId, query, k: 5, ...variables });
    expect(response.errors).toBeUndefined();
    return response.data!.recall;
  };

  beforeAll(async () => {
    mnemo = await startTestStack({ store });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("by meaning: a paraphrase with no shared words", async () => {
    await rememberAll("recall-semantic", [
      { content: "The quarterly budget review is on Friday" },
      { content: "My cat has been sick all week" },
      { content: "We hiked in the Alps last summer" },
      { content: "The printer on floor three is out of toner" },
    ]);
    const hits = await recall("recall-semantic", "Is the kitten feeling unwell?");
    expect(hits[0]!.memory.content).toBe("My cat has been sick all week");
    expect(hits[0]!.components.lexical).toBe(0);
    expect(hits[0]!.components.semantic).toBeGreaterThan(hits[1]!.components.semantic);
  });

  it("by words: an exact keyword the model cannot know", async () => {
    await rememberAll("recall-lexical", [
      { content: "Deploy tokens are rotated every month by the platform team" },
      { content: "The staging server deploys automatically after each merge" },
      { content: "The deploy token for staging is XK-4471-QZ" },
      { content: "Production deploys need two approvals" },
    ]);
    const hits = await recall("recall-lexical", "XK-4471-QZ");
    expect(hits[0]!.memory.content).toBe("The deploy token for staging is XK-4471-QZ");
    expect(hits[0]!.components.lexical).toBe(1);
  });

  it("by connection: an entity named in the query that the text never mentions", async () => {
    await rememberAll("recall-graph", [
      {
        content: "She prefers green tea in the morning",
        entities: [{ name: "Priya", type: "PERSON" }],
        extractEntities: false,
      },
      {
        content: "He prefers black coffee in the morning",
        entities: [{ name: "Marco", type: "PERSON" }],
        extractEntities: false,
      },
      { content: "The team prefers stand-ups at ten in the morning", extractEntities: false },
    ]);
    const hits = await recall("recall-graph", "What does Priya like to drink?");
    expect(hits[0]!.memory.content).toBe("She prefers green tea in the morning");
    expect(hits[0]!.components.graph).toBeGreaterThan(0);
    const coffee = hits.find((hit) => hit.memory.content.includes("coffee"))!;
    expect(coffee.components.graph).toBe(0);
  });

  it("by connection: the next turn of a session that matched strongly", async () => {
    const [question, answer] = await rememberAll("recall-session", [
      {
        content: "Did you book the flights to Lisbon?",
        sessionId: "chat-7",
        occurredAt: "2026-05-01T10:00:00Z",
      },
      { content: "Yes, done yesterday, seat 14C", sessionId: "chat-7", occurredAt: "2026-05-01T10:01:00Z" },
      { content: "Remember to water the plants", sessionId: "chat-8", occurredAt: "2026-05-01T10:02:00Z" },
    ]);
    const hits = await recall("recall-session", "flights to Lisbon");
    expect(hits[0]!.memory.id).toBe(question);
    const reply = hits.find((hit) => hit.memory.id === answer)!;
    expect(reply.components.graph).toBeGreaterThan(0);
    expect(hits.findIndex((hit) => hit.memory.id === answer)).toBe(1);
  });

  it("by session: a later turn of the session whose words matched, over a twin from another session", async () => {
    // One vector for every memory and the query: meaning cannot tell them apart.
    const vector = Array.from({ length: defaultEmbeddingDimensions() }, (_, i) => (i === 0 ? 1 : 0));
    const turn = (content: string, sessionId: string, minute: number) => ({
      content,
      sessionId,
      occurredAt: `2026-05-02T10:0${minute}:00Z`,
      embedding: vector,
    });
    const [, , answer, , , twin] = await rememberAll("recall-session-words", [
      turn("Planning the Lisbon trip now", "chat-9", 0),
      turn("Give me a minute to add it up", "chat-9", 1),
      turn("It comes to about 900 euros all in", "chat-9", 2),
      turn("Planning the garden party now", "chat-10", 3),
      turn("Hold on while I total it", "chat-10", 4),
      // Newer: without the session signal it comes first.
      turn("It comes to about 400 euros all in", "chat-10", 5),
    ]);
    const order = async (weights: Record<string, number>) => {
      const hits = await recall("recall-session-words", "How much is the Lisbon trip?", {
        k: 6,
        queryEmbedding: vector,
        weights,
      });
      const position = (id: string) => hits.findIndex((hit) => hit.memory.id === id);
      return { hits, answer: position(answer!), twin: position(twin!) };
    };
    const withSession = await order({});
    expect(withSession.hits[withSession.answer]!.components.session).toBeGreaterThan(0);
    expect(withSession.hits[withSession.twin]!.components.session).toBe(0);
    expect(withSession.answer).toBeLessThan(withSession.twin);
    const without = await order({ session: 0 });
    expect(without.twin).toBeLessThan(without.answer);
  });

  it("by recency: of two equally good matches, the newer one", async () => {
    await mnemo.query(
      `mutation { configureMemory(agentId: "recall-recency", config: { dedupThreshold: 1 }) { capacity } }`,
    );
    const old = new Date(Date.now() - 60 * 86_400_000).toISOString();
    await rememberAll("recall-recency", [
      { content: "Team lunch is at the Thai place", occurredAt: old },
      { content: "Team lunch is at the Thai place on Fridays" },
    ]);
    const hits = await recall("recall-recency", "team lunch place");
    expect(hits[0]!.memory.content).toBe("Team lunch is at the Thai place on Fridays");
    expect(hits[0]!.components.recency).toBeGreaterThan(0.99);
    expect(hits[1]!.components.recency).toBeLessThan(0.01);
  });

  it("leaves out facts that no longer hold unless asked, and honours filters", async () => {
    await rememberAll("recall-valid", [
      { content: "The office is in Leeds", kind: "SEMANTIC", validUntil: "2024-01-01T00:00:00Z" },
      { content: "The office is in Manchester", kind: "SEMANTIC", validFrom: "2024-01-01T00:00:00Z" },
      { content: "I visited the office on Monday", kind: "EPISODIC" },
    ]);
    const current = await recall("recall-valid", "Where is the office?");
    expect(current.map((hit) => hit.memory.content)).not.toContain("The office is in Leeds");
    expect(current.map((hit) => hit.memory.content)).toContain("The office is in Manchester");
    const all = await recall("recall-valid", "Where is the office?", { filter: { includeInvalid: true } });
    expect(all.map((hit) => hit.memory.content)).toContain("The office is in Leeds");
    const asOf2023 = await recall("recall-valid", "Where is the office?", {
      filter: { asOf: "2023-06-01T00:00:00Z" },
    });
    expect(asOf2023).toEqual([]); // nothing had been written yet in 2023
    const facts = await recall("recall-valid", "office", { filter: { kinds: ["EPISODIC"] } });
    expect(facts.map((hit) => hit.memory.content)).toEqual(["I visited the office on Monday"]);
  });

  it("returns components in 0..1 and fuses them as the weighted mean of the weights given", async () => {
    await rememberAll("recall-weights", [
      { content: "Quarterly planning happens in the big meeting room", importance: 0.9 },
      { content: "The big meeting room has a broken projector", importance: 0.2 },
      { content: "Bring snacks to quarterly planning", importance: 0.5 },
    ]);
    const hits = await recall("recall-weights", "quarterly planning meeting room", { k: 3 });
    expect(hits).toHaveLength(3);
    for (const hit of hits) {
      for (const value of Object.values(hit.components)) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
    }
    expect(hits.map((hit) => hit.score)).toEqual([...hits.map((hit) => hit.score)].sort((a, b) => b - a));

    const byImportance = await recall("recall-weights", "quarterly planning meeting room", {
      k: 3,
      weights: { semantic: 0, lexical: 0, graph: 0, recency: 0, importance: 1 },
    });
    expect(byImportance.map((hit) => hit.score)).toEqual([0.9, 0.5, 0.2]);
    // The agent's configured weights apply when the query gives none.
    await mnemo.query(
      `mutation { configureMemory(agentId: "recall-weights", config: {
        weights: { semantic: 0, lexical: 0, graph: 0, recency: 0, importance: 2 } }) { capacity } }`,
    );
    const configured = await recall("recall-weights", "quarterly planning meeting room", { k: 3 });
    expect(configured.map((hit) => hit.score)).toEqual([0.9, 0.5, 0.2]);
    const mixed = await recall("recall-weights", "quarterly planning meeting room", {
      k: 1,
      weights: { semantic: 1, lexical: 1, graph: 0, recency: 0, importance: 0 },
    });
    const [top] = mixed;
    expect(top!.score).toBeCloseTo((top!.components.semantic + top!.components.lexical) / 2, 6);
  });

  it("uses client-supplied vectors for memories and for the query", async () => {
    const unit = (axis: number) =>
      Array.from({ length: defaultEmbeddingDimensions() }, (_, i) => (i === axis ? 1 : 0));
    const [north] = await rememberAll("recall-vectors", [
      { content: "alpha", embedding: unit(0) },
      { content: "beta", embedding: unit(1) },
    ]);
    const hits = await recall("recall-vectors", "anything", {
      queryEmbedding: unit(0).map((v, i) => (i === 1 ? 0.1 : v)),
    });
    expect(hits[0]!.memory.id).toBe(north);
    expect(hits[0]!.components.semantic).toBeCloseTo(1 / Math.hypot(1, 0.1), 5);
  });
});
