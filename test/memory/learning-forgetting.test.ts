/**
 * Learning from feedback, forgetting (policy, pins, capacity, locks across replicas),
 * consolidation and temporal facts, through the gateway on a real Redis and SQLite.
 */
import { describe, expect, it } from "vitest";
import { createLockManager } from "../../core/locks/lock.js";
import { createRuntime, type Runtime } from "../../core/runtime.js";
import { agentLock, SWEEP_LOCK } from "../../subgraphs/memory/domain/forgetting.js";
import { createMemoryComponents, type MemoryComponents } from "../../subgraphs/memory/index.js";
import { errorCodes } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import {
  agentPrincipal,
  readerPrincipal,
  storeEnvironment,
  testConfig,
  useRedisStack,
} from "../support/stack.js";

const REMEMBER_MANY = `mutation ($agentId: ID!, $inputs: [MemoryInput!]!) {
  rememberMany(agentId: $agentId, inputs: $inputs) { outcome memory { id content validFrom validUntil } } }`;
const RECALL = `query ($agentId: ID!, $query: String!, $k: Int, $filter: MemoryFilter) {
  recall(agentId: $agentId, query: $query, k: $k, filter: $filter) {
    score memory { id content } components { semantic lexical graph feedback } } }`;

describe.each(STORES)("learning, forgetting, consolidation and temporal facts (%s)", (store) => {
  const env = useRedisStack({ store });

  const rememberAll = async (agentId: string, inputs: Record<string, unknown>[]) => {
    const response = await env.mnemo.query<{
      rememberMany: { memory: { id: string; content: string; validFrom: string | null } }[];
    }>(REMEMBER_MANY, { agentId, inputs });
    expect(response.errors).toBeUndefined();
    return response.data!.rememberMany.map((result) => result.memory);
  };
  const recall = async (agentId: string, query: string, variables: Record<string, unknown> = {}) => {
    const response = await env.mnemo.query<{
      recall: { memory: { id: string; content: string }; components: Record<string, number> }[];
    }>(RECALL, { agentId, query, k: 10, ...variables });
    expect(response.errors).toBeUndefined();
    return response.data!.recall;
  };
  const mutate = <T>(query: string, variables: Record<string, unknown> = {}) =>
    env.mnemo.query<T>(query, variables);
  const configure = async (agentId: string, config: Record<string, unknown>) => {
    const response = await mutate(
      `mutation ($agentId: ID!, $config: MemoryConfigInput!) { configureMemory(agentId: $agentId, config: $config) { capacity } }`,
      { agentId, config },
    );
    expect(response.errors).toBeUndefined();
  };
  const contents = async (agentId: string) => {
    const response = await env.mnemo.query<{
      agent: {
        memories: { edges: { node: { content: string } }[] };
        entities: { edges: { node: { name: string } }[] };
      };
    }>(
      `query ($id: ID!) { agent(id: $id) { memories(first: 100, filter: { includeInvalid: true }) { edges { node { content } } }
        entities(first: 100) { edges { node { name } } } } }`,
      { id: agentId },
    );
    return {
      memories: response.data!.agent.memories.edges.map((edge) => edge.node.content).sort(),
      entities: response.data!.agent.entities.edges.map((edge) => edge.node.name).sort(),
    };
  };

  it("feedback moves a memory up the ranking (and down), and resetLearning restores the ranking", async () => {
    const agentId = "learn-1";
    await configure(agentId, { dedupThreshold: 1 });
    await rememberAll(agentId, [
      { content: "Garden note: the tulips bloom in April" },
      { content: "Garden note: the roses need pruning in March" },
      { content: "Garden note: the apple tree needs water in summer" },
      { content: "Garden note: the lavender attracts bees" },
    ]);
    const before = (await recall(agentId, "garden note")).map((hit) => hit.memory.id);
    expect(before).toHaveLength(4);
    const last = before[3]!;
    const first = before[0]!;

    const REINFORCE = `mutation ($id: ID!, $useful: Boolean!) { reinforceMemory(id: $id, useful: $useful) { id usefulCount notUsefulCount } }`;
    for (let i = 0; i < 3; i++) {
      const voted = await mutate<{ reinforceMemory: { usefulCount: number } }>(REINFORCE, {
        id: last,
        useful: true,
      });
      expect(voted.errors).toBeUndefined();
      expect(voted.data!.reinforceMemory.usefulCount).toBe(i + 1);
    }
    await mutate(REINFORCE, { id: first, useful: false });
    const after = await recall(agentId, "garden note");
    const ids = after.map((hit) => hit.memory.id);
    expect(ids.indexOf(last)).toBeLessThan(3);
    expect(ids.indexOf(first)).toBeGreaterThan(0);
    const liked = after.find((hit) => hit.memory.id === last)!;
    const disliked = after.find((hit) => hit.memory.id === first)!;
    expect(liked.components.feedback!).toBeGreaterThan(disliked.components.feedback!);

    const config = await env.mnemo.query<{
      agent: { memoryConfig: { feedbackCount: number; learnedWeights: unknown } };
    }>(
      `{ agent(id: "learn-1") { memoryConfig { feedbackCount learnedWeights { semantic lexical feedback } } } }`,
    );
    expect(config.data!.agent.memoryConfig.feedbackCount).toBe(4);
    expect(config.data!.agent.memoryConfig.learnedWeights).not.toBeNull();

    const reset = await mutate<{ resetLearning: { feedbackCount: number; learnedWeights: unknown } }>(
      `mutation { resetLearning(agentId: "learn-1") { feedbackCount learnedWeights { semantic } } }`,
    );
    expect(reset.data!.resetLearning).toEqual({ feedbackCount: 0, learnedWeights: null });
    expect((await recall(agentId, "garden note")).map((hit) => hit.memory.id)).toEqual(before);
  });

  it("concurrent votes and configuration changes lose nothing: every vote is a learning step, every setting stays", async () => {
    const agentId = "learn-concurrent";
    const [memory] = await rememberAll(agentId, [{ content: "Concurrency note: votes arrive together" }]);
    await recall(agentId, "concurrency note"); // gives the memory score components to learn from
    const votes = 20;
    const results = await Promise.all([
      ...Array.from({ length: votes }, (_, i) =>
        mutate(
          `mutation ($id: ID!, $useful: Boolean!) { reinforceMemory(id: $id, useful: $useful) { id } }`,
          {
            id: memory!.id,
            useful: i % 2 === 0,
          },
        ),
      ),
      mutate(
        `mutation ($agentId: ID!) { configureMemory(agentId: $agentId, config: { capacity: 1234 }) { capacity } }`,
        { agentId },
      ),
    ]);
    for (const result of results) expect(result.errors).toBeUndefined();
    const config = await env.mnemo.query<{
      agent: { memoryConfig: { feedbackCount: number; capacity: number } };
    }>(`query ($id: ID!) { agent(id: $id) { memoryConfig { feedbackCount capacity } } }`, { id: agentId });
    expect(config.data!.agent.memoryConfig).toEqual({ feedbackCount: votes, capacity: 1234 });
  });

  it("forgetting applies the policy, never touches pinned memories, honours capacity and drops orphan entities", async () => {
    const agentId = "forget-1";
    const old = "2020-01-01T00:00:00Z";
    await rememberAll(agentId, [
      {
        content: "Quixote tilted at windmills long ago",
        occurredAt: old,
        extractEntities: false,
        entities: [{ name: "Quixote" }],
      },
      { content: "The founding charter was signed", occurredAt: old, pinned: true },
      { content: "A trivial remark about the weather", importance: 0.1 },
      { content: "The launch review is on Thursday", importance: 0.6 },
      { content: "The budget was approved", importance: 0.8 },
    ]);
    expect((await contents(agentId)).entities).toContain("Quixote");
    await configure(agentId, { forgetting: { maxAgeHours: 24 * 365, minImportance: 0.3 } });
    const run = await mutate<{ runForgetting: number }>(`mutation { runForgetting(agentId: "forget-1") }`);
    expect(run.data!.runForgetting).toBe(2);
    const left = await contents(agentId);
    expect(left.memories).toEqual([
      "The budget was approved",
      "The founding charter was signed",
      "The launch review is on Thursday",
    ]);
    expect(left.entities).not.toContain("Quixote");

    // Capacity 1: the pinned memory cannot go, so both unpinned ones do.
    await configure(agentId, { capacity: 1, forgetting: { maxAgeHours: 0, minImportance: 0 } });
    const capped = await mutate<{ runForgetting: number }>(`mutation { runForgetting(agentId: "forget-1") }`);
    expect(capped.data!.runForgetting).toBe(2);
    expect((await contents(agentId)).memories).toEqual(["The founding charter was signed"]);
  });

  it("one forgetting run at a time across replicas (Redis lock)", async () => {
    const agentId = "forget-locks";
    await rememberAll(agentId, [
      { content: "An unimportant detail", importance: 0.05 },
      { content: "A key fact" },
    ]);
    await configure(agentId, { forgetting: { minImportance: 0.2 } });

    // A second replica on the same store and Redis.
    let runtime: Runtime | null = null;
    let replica: MemoryComponents | null = null;
    try {
      runtime = await createRuntime(
        testConfig({
          redisUrl: env.redis.url,
          dataDir: env.mnemo.dataDir,
          env: await storeEnvironment(store),
        }),
      );
      replica = await createMemoryComponents(runtime);
      const locks = createLockManager(runtime.redis);

      const sweepToken = await locks.acquire(SWEEP_LOCK, 30_000);
      expect(sweepToken).not.toBeNull();
      expect(await replica.forgetting.sweep()).toBeNull(); // another runner holds the sweep
      expect((await contents(agentId)).memories).toHaveLength(2);

      const agentToken = await locks.acquire(agentLock(agentId), 30_000);
      const busy = await mutate(`mutation { runForgetting(agentId: "forget-locks") }`);
      expect(errorCodes(busy)).toEqual(["UNAVAILABLE"]);
      await locks.release(agentLock(agentId), agentToken!);
      await locks.release(SWEEP_LOCK, sweepToken!);

      const swept = await replica.forgetting.sweep();
      expect(swept!.removed).toBeGreaterThanOrEqual(1);
      expect((await contents(agentId)).memories).toEqual(["A key fact"]);
    } finally {
      await replica?.close();
      await runtime?.close();
    }
  });

  it("consolidation merges near-duplicates into one memory that keeps their evidence", async () => {
    const agentId = "consolidate-1";
    await configure(agentId, { dedupThreshold: 1 });
    const written = await rememberAll(agentId, [
      { content: "The wifi password is on the fridge", occurredAt: "2026-01-01T10:00:00Z", tags: ["home"] },
      {
        content: "The wifi password is actually on the fridge!",
        occurredAt: "2026-01-03T10:00:00Z",
        importance: 0.7,
      },
      // Close by cosine, but another place: a different fact, never merged.
      { content: "The wifi password is on the fridge door", occurredAt: "2026-01-04T10:00:00Z" },
      { content: "Lunch with the design team is at noon on Fridays", occurredAt: "2026-01-02T10:00:00Z" },
    ]);
    const response = await mutate<{
      consolidateMemories: {
        removed: number;
        merged: {
          id: string;
          importance: number;
          tags: string[];
          consolidation: Record<string, unknown>;
          variants: unknown[];
        }[];
      };
    }>(
      `mutation { consolidateMemories(agentId: "consolidate-1", threshold: 0.8) { removed
        merged { id importance tags consolidation { sourceIds count firstOccurredAt lastOccurredAt }
          variants { content occurrences firstOccurredAt } } } }`,
    );
    expect(response.errors).toBeUndefined();
    const result = response.data!.consolidateMemories;
    expect(result.removed).toBe(1);
    const [merged] = result.merged;
    expect(merged!.id).toBe(written[1]!.id); // the more important one represents the cluster
    expect(merged!.importance).toBe(0.7);
    expect(merged!.tags).toEqual(["home"]);
    expect(merged!.consolidation).toEqual({
      sourceIds: [written[0]!.id],
      count: 2,
      firstOccurredAt: "2026-01-01T10:00:00.000Z",
      lastOccurredAt: "2026-01-03T10:00:00.000Z",
    });
    // Both wordings are kept.
    expect(merged!.variants).toEqual([
      {
        content: "The wifi password is on the fridge",
        occurrences: 1,
        firstOccurredAt: "2026-01-01T10:00:00.000Z",
      },
      {
        content: "The wifi password is actually on the fridge!",
        occurrences: 1,
        firstOccurredAt: "2026-01-03T10:00:00.000Z",
      },
    ]);
    expect((await contents(agentId)).memories).toHaveLength(3);
  });

  it("supersedes, invalidateMemory and asOf: recall answers what was true at a moment", async () => {
    const agentId = "temporal-1";
    const day = 86_400_000;
    const at = (days: number) => new Date(Date.now() + days * day).toISOString();
    const [leeds] = await rememberAll(agentId, [{ content: "Ada lives in Leeds", kind: "SEMANTIC" }]);
    const [manchester] = await rememberAll(agentId, [
      { content: "Ada lives in Manchester", kind: "SEMANTIC", occurredAt: at(2), supersedes: leeds!.id },
    ]);
    const query = "Where does Ada live?";
    const names = (hits: { memory: { content: string } }[]) => hits.map((hit) => hit.memory.content);

    expect(names(await recall(agentId, query))).toEqual(["Ada lives in Leeds"]);
    expect(names(await recall(agentId, query, { filter: { asOf: at(3) } }))).toEqual([
      "Ada lives in Manchester",
    ]);
    expect(names(await recall(agentId, query, { filter: { includeInvalid: true } })).sort()).toEqual([
      "Ada lives in Leeds",
      "Ada lives in Manchester",
    ]);

    const until = at(10);
    const invalidated = await mutate<{ invalidateMemory: { validUntil: string } }>(
      `mutation ($id: ID!, $at: DateTime) { invalidateMemory(id: $id, at: $at) { validUntil } }`,
      { id: manchester!.id, at: until },
    );
    expect(invalidated.data!.invalidateMemory.validUntil).toBe(until);
    expect(names(await recall(agentId, query, { filter: { asOf: at(11) } }))).toEqual([]);
    expect(names(await recall(agentId, query, { filter: { asOf: at(5) } }))).toEqual([
      "Ada lives in Manchester",
    ]);

    // Bad input writes nothing.
    const unknown = await env.mnemo.query(REMEMBER_MANY, {
      agentId,
      inputs: [
        { content: "Ada lives in York", supersedes: `${agentId}/00000000-0000-4000-8000-000000000000` },
      ],
    });
    expect(errorCodes(unknown)).toEqual(["NOT_FOUND"]);
    const early = await mutate(
      `mutation ($id: ID!, $at: DateTime) { invalidateMemory(id: $id, at: $at) { id } }`,
      {
        id: manchester!.id,
        at: at(1),
      },
    );
    expect(errorCodes(early)).toEqual(["BAD_USER_INPUT"]);
    expect((await contents(agentId)).memories).toEqual(["Ada lives in Leeds", "Ada lives in Manchester"]);
  });

  it("refuses readers and other agents, and bad input, writing nothing", async () => {
    const [memory] = await rememberAll("guarded", [{ content: "A guarded memory" }]);
    const calls: [string, Record<string, unknown>][] = [
      [`mutation ($id: ID!) { reinforceMemory(id: $id, useful: true) { id } }`, { id: memory!.id }],
      [`mutation ($id: ID!) { invalidateMemory(id: $id) { id } }`, { id: memory!.id }],
      [`mutation { resetLearning(agentId: "guarded") { feedbackCount } }`, {}],
      [`mutation { runForgetting(agentId: "guarded") }`, {}],
      [`mutation { consolidateMemories(agentId: "guarded") { removed } }`, {}],
    ];
    for (const [query, variables] of calls) {
      expect(errorCodes(await env.mnemo.query(query, variables, readerPrincipal("guarded")))).toEqual([
        "FORBIDDEN",
      ]);
      expect(errorCodes(await env.mnemo.query(query, variables, agentPrincipal("someone-else")))).toEqual([
        "FORBIDDEN",
      ]);
    }
    const badThreshold = await mutate(
      `mutation { consolidateMemories(agentId: "guarded", threshold: 2) { removed } }`,
    );
    expect(errorCodes(badThreshold)).toEqual(["BAD_USER_INPUT"]);
    const badPolicy = await mutate(
      `mutation { configureMemory(agentId: "guarded", config: { forgetting: { minImportance: 3 } }) { capacity } }`,
    );
    expect(errorCodes(badPolicy)).toEqual(["BAD_USER_INPUT"]);
    const missing = await mutate(
      `mutation { reinforceMemory(id: "guarded/00000000-0000-4000-8000-000000000000", useful: true) { id } }`,
    );
    expect(errorCodes(missing)).toEqual(["NOT_FOUND"]);
    const stats = await env.mnemo.query<{ memory: { usefulCount: number; validUntil: string | null } }>(
      `query ($id: ID!) { memory(id: $id) { usefulCount validUntil } }`,
      { id: memory!.id },
    );
    expect(stats.data!.memory).toEqual({ usefulCount: 0, validUntil: null });
  });
});
