/**
 * The MemoryStore contract: one suite, run against every adapter (SQLite always, Neo4j when
 * on the real test Neo4j). It speaks only the port, with small hand-made vectors, so an adapter
 * passes or fails on behaviour.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { newMemoryId } from "../../subgraphs/memory/domain/ids.js";
import { DEFAULT_MEMORY_CONFIG } from "../../subgraphs/memory/domain/model.js";
import { reembedStore } from "../../subgraphs/memory/domain/reembedding.js";
import { type MemoryStore, UnknownMemoryError } from "../../subgraphs/memory/domain/store-port.js";
import { searchTerms } from "../../subgraphs/memory/domain/text.js";
import { batch, item, write } from "../support/memory-writes.js";

export const CONTRACT_DIMENSIONS = 8;

export interface MemoryStoreHarness {
  store: MemoryStore;
  close(): Promise<void>;
}

let agentCounter = 0;
/** A fresh agent id per test, so adapters backed by a shared database need no cleanup. */
export const freshAgent = () => `mem-contract-${process.pid}-${Date.now()}-${agentCounter++}`;

/** A unit vector along axis `axis`, nudged towards `towards` (for "near" neighbours). */
export function axisVector(axis: number, towards?: number, amount = 0): Float32Array {
  const vector = new Float32Array(CONTRACT_DIMENSIONS);
  vector[axis] = 1;
  if (towards !== undefined) vector[towards] = amount;
  const norm = Math.hypot(...vector);
  return vector.map((v) => v / norm);
}

const NOW = () => new Date().toISOString();
const ids = (hits: { id: string }[]) => hits.map((hit) => hit.id);

export function describeMemoryStoreContract(adapter: string, open: () => Promise<MemoryStoreHarness>): void {
  describe(`MemoryStore contract: ${adapter}`, () => {
    let harness: MemoryStoreHarness;
    let store: MemoryStore;
    let agent: string;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
      agent = freshAgent();
      return () => harness.close();
    });

    it("stores memories and reads them back by id, with a revision that grows on every change", async () => {
      const first = await write(
        store,
        batch(agent, [item(agent, "one", { tags: ["a"], metadata: { n: 1 } })]),
      );
      const second = await write(store, batch(agent, [item(agent, "two")]));
      expect(first.firstMemories).toBe(true);
      expect(second.firstMemories).toBe(false);
      expect(second.revision).toBeGreaterThan(first.revision);

      const id = first.results[0]!.memory.id;
      const [found, missing] = await store.getMemories([id, newMemoryId(agent)]);
      expect(found).toEqual({ revision: first.revision, value: first.results[0]!.memory });
      expect(found!.value).toMatchObject({
        content: "one",
        tags: ["a"],
        metadata: { n: 1 },
        kind: "EPISODIC",
      });
      expect(missing).toEqual({ revision: 0, value: null });

      const forgotten = await store.forget(agent, id);
      expect(forgotten).toMatchObject({ deleted: true, remaining: 1 });
      expect(forgotten.revision).toBeGreaterThan(second.revision);
      expect((await store.getMemories([id]))[0]!.value).toBeNull();
      expect((await store.forget(agent, id)).deleted).toBe(false);
    });

    it("merges an exact duplicate (normalised text) into the existing memory", async () => {
      const first = await write(
        store,
        batch(agent, [item(agent, "The release is due in May", { tags: ["plan"], importance: 0.3 })]),
      );
      const later = new Date(Date.now() + 60_000).toISOString();
      const again = await write(
        store,
        batch(agent, [
          item(agent, "the release  is due in may!", {
            tags: ["deadline"],
            occurredAt: later,
            importance: 0.9,
          }),
        ]),
      );
      expect(again.results[0]!.outcome).toBe("MERGED");
      const merged = again.results[0]!.memory;
      expect(merged.id).toBe(first.results[0]!.memory.id);
      expect(merged).toMatchObject({ tags: ["plan", "deadline"], occurredAt: later, importance: 0.9 });
      const [stats] = await store.accessStats([merged.id]);
      expect(stats!.accessCount).toBe(1);
      expect((await store.listMemories(agent, 10, undefined, {}, NOW())).totalCount).toBe(1);
      const [stored] = await store.getMemories([merged.id]);
      expect(stored!.revision).toBe(again.revision);
      expect(stored!.value!.tags).toEqual(["plan", "deadline"]);
    });

    it("merges a paraphrase only below dedupThreshold 1, and never a changed value", async () => {
      const first = await write(store, batch(agent, [item(agent, "Ada prefers green tea")]));
      const exactOnly = await write(store, batch(agent, [item(agent, "Ada prefers the green tea")]));
      expect(exactOnly.results[0]!.outcome).toBe("CREATED");
      const paraphrase = await write(
        store,
        batch(agent, [item(agent, "Ada prefers THE green tea!!")], { dedupThreshold: 0.97 }),
      );
      expect(paraphrase.results[0]!.outcome).toBe("MERGED");
      // Close vectors (and the same words but one), a different fact: a new memory.
      await write(store, batch(agent, [item(agent, "standup moved to 3pm", { embedding: axisVector(4) })]));
      const update = await write(
        store,
        batch(agent, [item(agent, "standup moved to 4pm", { embedding: axisVector(4, 5, 0.01) })], {
          dedupThreshold: 0.9,
        }),
      );
      expect(update.results[0]!.outcome).toBe("CREATED");
      expect(first.results[0]!.memory.variants).toEqual([]);
    });

    it("keeps every wording merged into a memory, with its metadata and times (encrypted like the content)", async () => {
      const t = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 9, minutes)).toISOString();
      const first = await write(
        store,
        batch(agent, [item(agent, "Lunch is at noon", { occurredAt: t(0), metadata: { source: "chat" } })]),
      );
      await write(
        store,
        batch(agent, [item(agent, "lunch is at NOON.", { occurredAt: t(5), metadata: { source: "email" } })]),
      );
      const third = await write(store, batch(agent, [item(agent, "Lunch is at noon", { occurredAt: t(9) })]));
      expect(third.results[0]!.outcome).toBe("MERGED");
      const [stored] = await store.getMemories([first.results[0]!.memory.id]);
      expect(stored!.value!.content).toBe("Lunch is at noon");
      expect(stored!.value!.metadata).toEqual({ source: "email" });
      expect(stored!.value!.variants).toEqual([
        {
          content: "Lunch is at noon",
          caption: null,
          metadata: { source: "chat" },
          occurrences: 1,
          firstOccurredAt: t(0),
          lastOccurredAt: t(0),
        },
        {
          content: "lunch is at NOON.",
          caption: null,
          metadata: { source: "email" },
          occurrences: 1,
          firstOccurredAt: t(5),
          lastOccurredAt: t(5),
        },
        {
          content: "Lunch is at noon",
          caption: null,
          metadata: null,
          occurrences: 1,
          firstOccurredAt: t(9),
          lastOccurredAt: t(9),
        },
      ]);
    });

    it("keeps both a superseded fact and its replacement, linked, never merging them", async () => {
      const may = await write(store, batch(agent, [item(agent, "The release is due in May")]));
      const mayId = may.results[0]!.memory.id;
      const later = new Date(Date.now() + 1000).toISOString();
      const june = await write(
        store,
        batch(agent, [item(agent, "The release is due in June", { supersedes: mayId, occurredAt: later })], {
          dedupThreshold: 0.97,
        }),
      );
      expect(june.results[0]!.outcome).toBe("SUPERSEDED");
      const juneId = june.results[0]!.memory.id;
      expect(juneId).not.toBe(mayId);
      expect(june.invalidated.map((m) => [m.id, m.validUntil])).toEqual([[mayId, later]]);
      const links = await store.links([juneId]);
      expect(links).toContainEqual({ fromId: juneId, toId: mayId, type: "SUPERSEDES" });
      // Even a repeat of the old text that supersedes it is stored as itself.
      const repeat = await write(
        store,
        batch(agent, [item(agent, "The release is due in June", { supersedes: juneId })], {
          dedupThreshold: 0.97,
        }),
      );
      expect(repeat.results[0]!.outcome).toBe("SUPERSEDED");
      expect(repeat.results[0]!.memory.id).not.toBe(juneId);
    });

    it("links a contradiction both ways and, when asked, ends the older fact's validity", async () => {
      const t = (day: number) => new Date(Date.UTC(2026, 0, day)).toISOString();
      const may = await write(
        store,
        batch(agent, [item(agent, "The release is due in May", { occurredAt: t(1) })]),
      );
      const mayId = may.results[0]!.memory.id;
      const june = await write(
        store,
        batch(agent, [item(agent, "The release is due in June", { occurredAt: t(2) })]),
      );
      expect(june.results[0]).toMatchObject({ outcome: "CREATED", contradicts: [mayId] });
      const juneId = june.results[0]!.memory.id;
      expect(await store.links([mayId])).toContainEqual({ fromId: juneId, toId: mayId, type: "CONTRADICTS" });
      expect((await store.getMemories([mayId]))[0]!.value!.validUntil).toBeNull();

      const july = await write(
        store,
        batch(agent, [item(agent, "The release is due in July", { occurredAt: t(3) })], {
          contradictionPolicy: "INVALIDATE_OLDER",
        }),
      );
      const julyId = july.results[0]!.memory.id;
      // Both valid ones it contradicts end when July was said.
      expect(july.results[0]!.contradicts.sort()).toEqual([mayId, juneId].sort());
      expect(july.invalidated.map((m) => m.validUntil)).toEqual([t(3), t(3)]);
      const valid = await store.listMemories(agent, 10, undefined, {}, t(4));
      expect(valid.items.map((i) => i.node.id)).toEqual([julyId]);
      // A late report of an earlier fact is the older one: it is stored already ended.
      const april = await write(
        store,
        batch(agent, [item(agent, "The release is due in April", { occurredAt: t(1) })], {
          contradictionPolicy: "INVALIDATE_OLDER",
        }),
      );
      expect(april.results[0]!.memory.validUntil).toBe(t(3));
      expect((await store.getMemories([julyId]))[0]!.value!.validUntil).toBeNull();
    });

    it("does not merge into, list or search a fact that is no longer valid unless asked", async () => {
      const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
      const stale = await write(
        store,
        batch(agent, [
          item(agent, "The office is in Leeds", {
            createdAt: ago(120),
            validUntil: ago(60),
            embedding: axisVector(3),
          }),
        ]),
      );
      const fresh = await write(
        store,
        batch(agent, [item(agent, "The office is in Leeds", { embedding: axisVector(3) })]),
      );
      expect(fresh.results[0]!.outcome).toBe("CREATED");
      const staleId = stale.results[0]!.memory.id;
      const freshId = fresh.results[0]!.memory.id;
      const listed = await store.listMemories(agent, 10, undefined, {}, NOW());
      expect(listed.items.map((i) => i.node.id)).toEqual([freshId]);
      const all = await store.listMemories(agent, 10, undefined, { includeInvalid: true }, NOW());
      expect(all.totalCount).toBe(2);
      expect(ids(await store.vectorSearch(agent, axisVector(3), 10, {}, NOW()))).toEqual([freshId]);
      expect(ids(await store.textSearch(agent, ["leeds"], 10, {}, NOW()))).toEqual([freshId]);
      expect(ids(await store.textSearch(agent, ["leeds"], 10, { includeInvalid: true }, NOW()))).toContain(
        staleId,
      );
      // As of 90 minutes ago the old fact still held and the new one did not exist yet.
      expect(ids(await store.vectorSearch(agent, axisVector(3), 10, { asOf: ago(90) }, NOW()))).toEqual([
        staleId,
      ]);
    });

    it("finds nearest vectors of this agent only, best first, honouring filters", async () => {
      const other = freshAgent();
      await write(store, batch(other, [item(other, "theirs", { embedding: axisVector(1) })]));
      const written = await write(
        store,
        batch(agent, [
          item(agent, "exact", { embedding: axisVector(1), kind: "SEMANTIC" }),
          item(agent, "close", { embedding: axisVector(1, 2, 0.5) }),
          item(agent, "far", { embedding: axisVector(5) }),
          item(agent, "no vector", { embedding: null }),
        ]),
      );
      const [exact, close] = written.results.map((r) => r.memory.id);
      const hits = await store.vectorSearch(agent, axisVector(1), 2, {}, NOW());
      expect(ids(hits)).toEqual([exact, close]);
      expect(hits[0]!.score).toBeCloseTo(1, 4);
      expect(hits[1]!.score).toBeCloseTo(1 / Math.hypot(1, 0.5), 3);
      expect(ids(await store.vectorSearch(agent, axisVector(1), 10, { kinds: ["SEMANTIC"] }, NOW()))).toEqual(
        [exact],
      );
    });

    it("ranks keyword matches by BM25 within the agent", async () => {
      const other = freshAgent();
      await write(store, batch(other, [item(other, "the deploy token is XK4471")]));
      const written = await write(
        store,
        batch(agent, [
          item(agent, "the deploy token is XK4471 for staging"),
          item(agent, "deploying on Fridays is risky"),
          item(agent, "lunch was good"),
        ]),
      );
      const hits = await store.textSearch(agent, searchTerms("XK4471 deploy"), 10, {}, NOW());
      expect(ids(hits)[0]).toBe(written.results[0]!.memory.id);
      expect(hits.every((hit) => hit.score > 0)).toBe(true);
      expect(ids(hits)).not.toContain(written.results[2]!.memory.id);
      expect(hits).toHaveLength(2); // "deploying" stems to "deploy"; the other agent's memory is not here
    });

    it("finds filtered matches that rank below many unfiltered ones (over-fetch widens)", async () => {
      const crowd = Array.from({ length: 60 }, (_, i) =>
        item(agent, `apple apple apple note ${i}`, { embedding: axisVector(0, 1, 0.01 * i) }),
      );
      const rare = item(agent, "apple and a long tail of many other words that dilute the match", {
        kind: "PROCEDURAL",
        embedding: axisVector(0, 1, 3),
      });
      const written = await write(store, batch(agent, [...crowd, rare]));
      const rareId = written.results.at(-1)!.memory.id;
      const filter = { kinds: ["PROCEDURAL" as const] };
      expect(ids(await store.textSearch(agent, ["apple"], 1, filter, NOW()))).toEqual([rareId]);
      expect(ids(await store.vectorSearch(agent, axisVector(0), 1, filter, NOW()))).toEqual([rareId]);
      expect(await store.textSearch(agent, ["apple"], 200, {}, NOW())).toHaveLength(61);
    });

    it("finds the agent's nearest memories after another agent's crowd the index (the next search widens)", async () => {
      const own = Array.from({ length: 8 }, (_, i) =>
        item(agent, `own note ${i}`, { embedding: axisVector(5, 6, 0.5 + 0.1 * i) }),
      );
      const ownIds = (await write(store, batch(agent, own))).results.map((r) => r.memory.id);
      // Searches while the agent's memories are the nearest: a store may learn that few hits are needed.
      for (let i = 0; i < 3; i++) {
        expect(ids(await store.vectorSearch(agent, axisVector(5), 3, {}, NOW()))).toEqual(ownIds.slice(0, 3));
        expect(ids(await store.textSearch(agent, ["own"], 3, {}, NOW()))).toHaveLength(3);
      }
      const other = freshAgent();
      const crowd = Array.from({ length: 300 }, (_, i) =>
        item(other, `own crowd ${i}`, { embedding: axisVector(5, 7, 0.001 * i) }),
      );
      await write(store, batch(other, crowd));
      expect(ids(await store.vectorSearch(agent, axisVector(5), 3, {}, NOW()))).toEqual(ownIds.slice(0, 3));
      expect(ids(await store.vectorSearch(agent, axisVector(5), 8, {}, NOW()))).toEqual(ownIds);
      expect(new Set(ids(await store.textSearch(agent, ["own"], 8, {}, NOW())))).toEqual(new Set(ownIds));
    });

    it("ranks memories mentioning more of the entities first, then the newest, and widens past filtered ones", async () => {
      const both = item(agent, "Ada and Charles met", { entities: ["Ada", "Charles"] });
      const rare = item(agent, "how Ada debugs", { kind: "PROCEDURAL", entities: ["Ada"] });
      const crowd = Array.from({ length: 60 }, (_, i) => item(agent, `Ada note ${i}`, { entities: ["Ada"] }));
      const written = await write(store, batch(agent, [both, rare, ...crowd]));
      const [bothId, rareId] = written.results.map((r) => r.memory.id);
      const newest = written.results.at(-1)!.memory.id;
      const [ada, charles] = await store
        .entitiesByName(agent, ["ada", "charles"])
        .then((found) => ["Ada", "Charles"].map((name) => found.find((e) => e.name === name)!));
      const top = await store.memoriesMentioning(agent, [ada!.id, charles!.id], 2, {}, NOW());
      expect(top.map((m) => m.id)).toEqual([bothId, newest]);
      expect(top[0]!.entityIds.sort()).toEqual([ada!.id, charles!.id].sort());
      expect(top[1]!.entityIds).toEqual([ada!.id]);
      const filtered = await store.memoriesMentioning(agent, [ada!.id], 1, { kinds: ["PROCEDURAL"] }, NOW());
      expect(filtered.map((m) => m.id)).toEqual([rareId]);
      expect(await store.memoriesMentioning(agent, [ada!.id], 100, {}, NOW())).toHaveLength(62);
    });

    it("counts each entity's memories and the agent's memories, and the counts follow writes and forgets", async () => {
      const written = await write(
        store,
        batch(agent, [
          item(agent, "Ada met Charles", { entities: ["Ada", "Charles"] }),
          item(agent, "Ada wrote notes", { entities: ["Ada"] }),
          item(agent, "nothing named here"),
        ]),
      );
      const byName = async () => {
        const found = await store.entitiesByName(agent, ["ada", "charles"]);
        return ["Ada", "Charles"].map((name) => found.find((e) => e.name === name)!.id);
      };
      const ids = await byName();
      expect(await store.entityMentionCounts(agent, ids)).toEqual({ memories: 3, mentions: [2, 1] });
      await write(store, batch(agent, [item(agent, "Charles again", { entities: ["Charles"] })]));
      expect(await store.entityMentionCounts(agent, ids)).toEqual({ memories: 4, mentions: [2, 2] });
      await store.forget(agent, written.results[1]!.memory.id);
      expect(await store.entityMentionCounts(agent, ids)).toEqual({ memories: 3, mentions: [1, 2] });
    });

    it("merges entities by normalised name per agent and links mentions and relations", async () => {
      const other = freshAgent();
      await write(store, batch(other, [item(other, "x", { entities: ["Ada Lovelace"] })]));
      const written = await write(
        store,
        batch(agent, [
          item(agent, "Ada wrote the first program", {
            entities: ["Ada Lovelace", "Charles Babbage"],
            relations: [{ from: "Ada Lovelace", to: "Charles Babbage", type: "WORKED_WITH" }],
          }),
          item(agent, "ada lovelace liked poetry", { entities: ["ada  LOVELACE"] }),
        ]),
      );
      const entities = await store.entitiesByName(agent, ["ada lovelace", "charles babbage", "nobody"]);
      expect(entities.map((e) => e.name).sort()).toEqual(["Ada Lovelace", "Charles Babbage"]);
      const ada = entities.find((e) => e.name === "Ada Lovelace")!;
      const babbage = entities.find((e) => e.name === "Charles Babbage")!;
      expect(ada.agentId).toBe(agent);
      const page = await store.listEntities(agent, 10, undefined);
      expect(page.totalCount).toBe(2);

      const [first, second] = written.results.map((r) => r.memory.id);
      const mentioning = await store.memoriesMentioning(agent, [ada.id], 10, {}, NOW());
      expect(mentioning.map((m) => m.id).sort()).toEqual([first, second].sort());
      expect(await store.mentions([first!, second!])).toEqual([
        expect.arrayContaining([ada.id, babbage.id]),
        [ada.id],
      ]);
      expect(await store.relations([babbage.id])).toEqual([
        { fromId: ada.id, toId: babbage.id, type: "WORKED_WITH" },
      ]);
      const [loaded] = await store.getEntities([ada.id]);
      expect(loaded!.value).toEqual(ada);
    });

    it("links a session in order (FOLLOWS) and keeps the chain when a middle memory is forgotten", async () => {
      const t = (minutes: number) =>
        new Date(Date.parse("2026-01-01T10:00:00Z") + minutes * 60_000).toISOString();
      const written = await write(
        store,
        batch(agent, [
          item(agent, "hello", { sessionId: "s1", occurredAt: t(0) }),
          item(agent, "how are you", { sessionId: "s1", occurredAt: t(1) }),
          item(agent, "unrelated", { sessionId: "s2", occurredAt: t(2) }),
        ]),
      );
      const third = await write(
        store,
        batch(agent, [item(agent, "fine thanks", { sessionId: "s1", occurredAt: t(3) })]),
      );
      const [a, b, c] = written.results.map((r) => r.memory.id);
      const d = third.results[0]!.memory.id;
      expect(await store.links([b!])).toEqual(
        expect.arrayContaining([
          { fromId: b, toId: a, type: "FOLLOWS" },
          { fromId: d, toId: b, type: "FOLLOWS" },
        ]),
      );
      expect(await store.links([c!])).toEqual([]);
      await store.forget(agent, b!);
      expect(await store.links([d])).toEqual([{ fromId: d, toId: a, type: "FOLLOWS" }]);
    });

    it("stores a model-made vector mixed with its session's previous memory, a client's vector as given", async () => {
      const fromModel = { embeddingFromModel: true };
      const first = await write(
        store,
        batch(agent, [
          item(agent, "opening", { ...fromModel, embedding: axisVector(0), sessionId: "s1" }),
          item(agent, "reply", { ...fromModel, embedding: axisVector(1), sessionId: "s1" }),
          item(agent, "alone", { ...fromModel, embedding: axisVector(4) }),
        ]),
      );
      // The next batch finds its previous memory in the store (the session's head and its vector).
      const second = await write(
        store,
        batch(agent, [
          item(agent, "follow-up", { ...fromModel, embedding: axisVector(2), sessionId: "s1" }),
          item(agent, "client's own", { embedding: axisVector(3), sessionId: "s1" }),
          item(agent, "after the client's", { ...fromModel, embedding: axisVector(5), sessionId: "s1" }),
        ]),
      );
      const ids = [...first.results, ...second.results].map((r) => r.memory.id);
      const stored = new Map(
        (await store.candidates(agent, ids, {}, NOW(), new Set(ids))).map((c) => [
          c.record.content,
          c.embedding!,
        ]),
      );
      const mix = (own: Float32Array, previous: Float32Array) => {
        const sum = own.map((value, i) => value + 0.5 * previous[i]!);
        const norm = Math.hypot(...sum);
        return sum.map((value) => value / norm);
      };
      const opening = axisVector(0);
      const reply = mix(axisVector(1), opening);
      const followUp = mix(axisVector(2), reply);
      const expected: Record<string, Float32Array> = {
        opening,
        reply,
        alone: axisVector(4),
        "follow-up": followUp,
        "client's own": axisVector(3),
        "after the client's": mix(axisVector(5), axisVector(3)),
      };
      expect(stored.size).toBe(6);
      for (const [content, vector] of Object.entries(expected)) {
        const actual = Array.from(stored.get(content)!);
        expect(
          actual.map((value) => Number(value.toFixed(5))),
          content,
        ).toEqual(Array.from(vector, (value) => Number(value.toFixed(5))));
      }
      // The reply is found by its own meaning first, and by the opening's after it.
      expect((await store.vectorSearch(agent, axisVector(1), 1, {}, NOW())).map((hit) => hit.id)).toEqual([
        ids[1],
      ]);
      expect((await store.vectorSearch(agent, axisVector(0), 2, {}, NOW())).map((hit) => hit.id)).toEqual([
        ids[0],
        ids[1],
      ]);
    });

    it("refuses a derivation from an unknown memory and writes nothing of the batch", async () => {
      const source = await write(store, batch(agent, [item(agent, "source")]));
      const sourceId = source.results[0]!.memory.id;
      const derived = await write(store, batch(agent, [item(agent, "summary", { derivedFrom: [sourceId] })]));
      expect(await store.links([derived.results[0]!.memory.id])).toEqual([
        { fromId: derived.results[0]!.memory.id, toId: sourceId, type: "DERIVED_FROM" },
      ]);

      const other = freshAgent();
      const theirs = await write(store, batch(other, [item(other, "theirs")]));
      for (const bad of [newMemoryId(agent), theirs.results[0]!.memory.id]) {
        await expect(
          write(store, batch(agent, [item(agent, "fine"), item(agent, "bad", { derivedFrom: [bad] })])),
        ).rejects.toBeInstanceOf(UnknownMemoryError);
      }
      expect((await store.listMemories(agent, 10, undefined, {}, NOW())).totalCount).toBe(2);
    });

    it("evicts the least important memories past the capacity, never the ones just written", async () => {
      const old = await write(
        store,
        batch(agent, [
          item(agent, "keep me", { importance: 0.9 }),
          item(agent, "drop me", { importance: 0.1 }),
          item(agent, "middle", { importance: 0.5 }),
        ]),
      );
      const next = await write(
        store,
        batch(agent, [item(agent, "new and unimportant", { importance: 0 })], { capacity: 3 }),
      );
      expect(next.evicted).toEqual([old.results[1]!.memory.id]);
      const left = await store.listMemories(agent, 10, undefined, {}, NOW());
      expect(left.items.map((i) => i.node.content).sort()).toEqual([
        "keep me",
        "middle",
        "new and unimportant",
      ]);
    });

    it("records accesses and keeps per-agent configuration", async () => {
      const written = await write(store, batch(agent, [item(agent, "accessed")]));
      const id = written.results[0]!.memory.id;
      expect(await store.accessStats([id])).toEqual([
        { lastAccessedAt: null, accessCount: 0, usefulCount: 0, notUsefulCount: 0 },
      ]);
      await store.recordAccess([{ id, count: 2, at: "2026-02-01T00:00:00.000Z" }]);
      await store.recordAccess([{ id, count: 1, at: "2026-01-01T00:00:00.000Z" }]);
      expect(await store.accessStats([id, newMemoryId(agent)])).toEqual([
        { lastAccessedAt: "2026-02-01T00:00:00.000Z", accessCount: 3, usefulCount: 0, notUsefulCount: 0 },
        null,
      ]);

      expect(await store.getConfig(agent)).toBeNull();
      const config = { ...DEFAULT_MEMORY_CONFIG, capacity: 10, dedupThreshold: 0.9 };
      expect(await store.updateConfig(agent, () => config)).toEqual(config);
      expect(await store.getConfig(agent)).toEqual(config);
    });

    it("applies concurrent configuration updates one after another, and none when the change throws", async () => {
      const start = { ...DEFAULT_MEMORY_CONFIG, capacity: 0 };
      await store.updateConfig(agent, () => start);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          store.updateConfig(agent, (current) => ({ ...current!, capacity: current!.capacity! + 1 })),
        ),
      );
      expect((await store.getConfig(agent))?.capacity).toBe(20);
      await expect(
        store.updateConfig(agent, () => {
          throw new Error("refused");
        }),
      ).rejects.toThrow("refused");
      expect((await store.getConfig(agent))?.capacity).toBe(20);
    });

    it("pages memories newest first with filters, and loads candidates with their vectors", async () => {
      const written = await write(
        store,
        batch(agent, [
          item(agent, "m1", { tags: ["x"], embedding: axisVector(0) }),
          item(agent, "m2", { tags: ["y"] }),
          item(agent, "m3", { tags: ["x", "z"], modality: "IMAGE", caption: "m3" }),
        ]),
      );
      const page1 = await store.listMemories(agent, 2, undefined, {}, NOW());
      expect(page1.items.map((i) => i.node.content)).toEqual(["m3", "m2"]);
      expect(page1).toMatchObject({ hasNextPage: true, totalCount: 3 });
      const page2 = await store.listMemories(agent, 2, page1.items[1]!.cursor, {}, NOW());
      expect(page2.items.map((i) => i.node.content)).toEqual(["m1"]);
      expect(page2.hasNextPage).toBe(false);
      const tagged = await store.listMemories(agent, 10, undefined, { tags: ["x"] }, NOW());
      expect(tagged.items.map((i) => i.node.content)).toEqual(["m3", "m1"]);
      const images = await store.listMemories(agent, 10, undefined, { modalities: ["IMAGE"] }, NOW());
      expect(images.items.map((i) => i.node.content)).toEqual(["m3"]);

      const allIds = written.results.map((r) => r.memory.id);
      const candidates = await store.candidates(agent, allIds, { tags: ["x"] }, NOW(), new Set(allIds));
      const m1 = candidates.find((c) => c.record.content === "m1")!;
      expect(candidates).toHaveLength(2);
      expect(Array.from(m1.embedding!)).toEqual(Array.from(axisVector(0)));
      expect(candidates.find((c) => c.record.content === "m3")!.embedding).toBeNull();
      expect(await store.candidates(freshAgent(), allIds, {}, NOW(), new Set())).toEqual([]);
      const withoutVectors = await store.candidates(agent, allIds, {}, NOW(), new Set());
      expect(withoutVectors.map((c) => c.embedding)).toEqual([null, null, null]);
    });
    it("computes exact cosine similarities of the agent's memories to a vector, in order, null where there is none", async () => {
      const agent = freshAgent();
      const query = axisVector(0, 1, 0.5);
      const near = axisVector(0, 1, 0.2);
      const far = axisVector(2, 3, 0.7);
      const written = await write(
        store,
        batch(agent, [
          item(agent, "near", { embedding: near }),
          item(agent, "without a vector"),
          item(agent, "far", { embedding: far }),
        ]),
      );
      const [nearId, noneId, farId] = written.results.map((r) => r.memory.id);
      const exact = (v: Float32Array) => {
        let dot = 0;
        let a = 0;
        let b = 0;
        for (let i = 0; i < v.length; i++) {
          dot += v[i]! * query[i]!;
          a += v[i]! * v[i]!;
          b += query[i]! * query[i]!;
        }
        return dot / Math.sqrt(a * b);
      };
      const found = await store.similarities(agent, [farId!, "no-such-memory", nearId!, noneId!], query);
      expect(found).toHaveLength(4);
      expect(found[0]).toBeCloseTo(exact(far), 5);
      expect(found[1]).toBeNull();
      expect(found[2]).toBeCloseTo(exact(near), 5);
      expect(found[3]).toBeNull();
      // Another agent's memories are not this agent's to score.
      expect(await store.similarities(freshAgent(), [nearId!, farId!], query)).toEqual([null, null]);
      expect(await store.similarities(agent, [], query)).toEqual([]);
    });
    it("re-embeds every memory batch by batch while search keeps the old vectors, then switches in one step", async () => {
      const [alpha, beta] = (
        await write(
          store,
          batch(agent, [
            item(agent, "alpha", { embedding: axisVector(0) }),
            item(agent, "beta", { embedding: axisVector(1) }),
          ]),
        )
      ).results.map((result) => result.memory.id) as [string, string];
      // The "new model": alpha -> axis 5, beta -> axis 6, gamma -> axis 4; other memories in the
      // store (other tests' agents) -> a direction of their own, spread as real vectors are.
      const newVector = (text: string) => {
        const axis = { alpha: 5, beta: 6, gamma: 4 }[text];
        if (axis !== undefined) return axisVector(axis);
        let seed = [...text].reduce(
          (hash, char) => Math.imul(hash ^ char.charCodeAt(0), 16777619),
          2166136261,
        );
        const spread = Float32Array.from({ length: CONTRACT_DIMENSIONS }, () => {
          seed = Math.imul(seed ^ (seed >>> 15), 2246822507);
          return ((seed >>> 0) / 2 ** 32) * 2 - 1;
        });
        const norm = Math.hypot(...spread);
        return spread.map((value) => value / norm);
      };
      const target = { id: `test-model-${agent}`, dimensions: CONTRACT_DIMENSIONS };
      const started = await store.startReembed(target);
      expect(started.target).toEqual(target);
      await expect(
        store.startReembed({ id: "another-model", dimensions: CONTRACT_DIMENSIONS }),
      ).rejects.toThrow(/under way/);
      expect(await store.startReembed(target)).toMatchObject({ target }); // resuming is allowed

      const first = await store.memoriesToReembed(1);
      expect(first).toHaveLength(1);
      await store.saveReembedded(
        first.map((memory) => ({ id: memory.id, vector: newVector(memory.content) })),
      );
      // Half done: search still uses the old vectors, and the switch is refused.
      expect(ids(await store.vectorSearch(agent, axisVector(0), 1, {}, NOW()))).toEqual([alpha]);
      expect((await store.finishReembed()).switched).toBe(false);
      // A memory written meanwhile is re-embedded too before the switch.
      const gamma = (await write(store, batch(agent, [item(agent, "gamma", { embedding: axisVector(2) })])))
        .results[0]!.memory.id;
      for (let round = 0; ; round++) {
        expect(round).toBeLessThan(10_000);
        const next = await store.memoriesToReembed(64);
        if (next.length === 0) break;
        await store.saveReembedded(
          next.map((memory) => ({ id: memory.id, vector: newVector(memory.content) })),
        );
      }
      expect(await store.finishReembed()).toEqual({ switched: true, remaining: 0 });

      expect(await store.embeddingModel()).toEqual(target);
      expect((await store.reembedStatus()).target).toBeNull();
      expect(ids(await store.vectorSearch(agent, axisVector(6), 1, {}, NOW()))).toEqual([beta]);
      expect(ids(await store.vectorSearch(agent, axisVector(4), 1, {}, NOW()))).toEqual([gamma]);
      const [candidate] = await store.candidates(agent, [alpha], {}, NOW(), new Set([alpha]));
      expect(Array.from(candidate!.embedding!)).toEqual(Array.from(newVector("alpha")));
      // New writes after the switch use the new vectors.
      const delta = (await write(store, batch(agent, [item(agent, "delta", { embedding: axisVector(3) })])))
        .results[0]!.memory.id;
      expect(ids(await store.vectorSearch(agent, axisVector(3), 1, {}, NOW()))).toEqual([delta]);
    });

    it("re-embeds a session with its context, as writing it afresh with the new model would store it", async () => {
      // The "new model": a text's character codes folded into the 8 axes, unit length.
      const fold = (text: string) => {
        const vector = new Float32Array(CONTRACT_DIMENSIONS);
        for (let i = 0; i < text.length; i++) vector[text.charCodeAt(i) % CONTRACT_DIMENSIONS]! += 1;
        const norm = Math.hypot(...vector);
        return vector.map((value) => value / norm);
      };
      const model = {
        provider: "http" as const,
        modelId: `folding-${agent}`,
        dimensions: CONTRACT_DIMENSIONS,
        available: true,
        embed: async (texts: readonly string[]) => texts.map(fold),
      };
      const texts = ["where shall we meet", "at the harbour cafe", "at noon then", "bring the maps"];
      // Old vectors from the client; two batches, so a memory's context is in an earlier one.
      const old = axisVector(7);
      await write(
        store,
        batch(
          agent,
          texts.slice(0, 2).map((t) => item(agent, t, { embedding: old, sessionId: "trip" })),
        ),
      );
      await write(
        store,
        batch(
          agent,
          texts.slice(2).map((t) => item(agent, t, { embedding: old, sessionId: "trip" })),
        ),
      );
      // The same session written afresh with the new model's vectors.
      const fresh = freshAgent();
      await write(
        store,
        batch(
          fresh,
          texts.map((t) =>
            item(fresh, t, { embedding: fold(t), embeddingFromModel: true, sessionId: "trip" }),
          ),
        ),
      );
      // Batches of 3: the fourth memory's context comes from the store, the others' from their batch.
      expect((await reembedStore(store, model, { batchSize: 3, contextWeight: 0.5 })).state).toBe("switched");

      const vectorsOf = async (agentId: string) => {
        const page = await store.listMemories(agentId, 10, undefined, {}, NOW());
        const memoryIds = page.items.map((edge) => edge.node.id);
        const found = await store.candidates(agentId, memoryIds, {}, NOW(), new Set(memoryIds));
        return Object.fromEntries(
          found.map((c) => [c.record.content, Array.from(c.embedding!, (v) => Number(v.toFixed(5)))]),
        );
      };
      const reembedded = await vectorsOf(agent);
      expect(Object.keys(reembedded).sort()).toEqual([...texts].sort());
      expect(reembedded).toEqual(await vectorsOf(fresh));
      // And the context is really in there: only the first memory's vector is its own text's.
      expect(reembedded[texts[0]!]).toEqual(Array.from(fold(texts[0]!), (v) => Number(v.toFixed(5))));
      expect(reembedded[texts[1]!]).not.toEqual(Array.from(fold(texts[1]!), (v) => Number(v.toFixed(5))));

      // Forced with the same model and the context turned off: every vector is its own text's.
      expect((await reembedStore(store, model, { contextWeight: 0 })).state).toBe("unchanged");
      expect((await reembedStore(store, model, { contextWeight: 0, force: true })).state).toBe("switched");
      const plain = await vectorsOf(agent);
      for (const text of texts) {
        expect(plain[text], text).toEqual(Array.from(fold(text), (v) => Number(v.toFixed(5))));
      }
    });
  });
}
