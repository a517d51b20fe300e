/**
 * The scoring rules on their own: normalisation of each signal, fusion, and the text
 * normalisation that dedup and entity merging rely on.
 */
import { describe, expect, it } from "vitest";
import { sameStatement } from "../../subgraphs/memory/domain/dedup.js";
import { DEFAULT_MEMORY_CONFIG, type MemoryRecord } from "../../subgraphs/memory/domain/model.js";
import { type CandidateEvidence, rank, scoreCandidates } from "../../subgraphs/memory/domain/scoring.js";
import {
  contentHash,
  nameCandidates,
  normalizeText,
  searchTerms,
} from "../../subgraphs/memory/domain/text.js";

const AT = Date.parse("2026-06-01T00:00:00Z");

function candidate(
  id: string,
  evidence: Partial<CandidateEvidence> & { occurredAt?: string; importance?: number },
) {
  const record: MemoryRecord = {
    id,
    agentId: "a",
    content: id,
    kind: "EPISODIC",
    tags: [],
    importance: evidence.importance ?? 0.5,
    createdAt: "2026-06-01T00:00:00.000Z",
    occurredAt: evidence.occurredAt ?? "2026-06-01T00:00:00.000Z",
    metadata: null,
    modality: "TEXT",
    mediaUri: null,
    caption: null,
    validFrom: null,
    validUntil: null,
    sessionId: null,
    pinned: false,
    consolidation: null,
    variants: [],
  };
  return {
    record,
    cosine: evidence.cosine ?? null,
    bm25: evidence.bm25 ?? 0,
    graph: evidence.graph ?? 0,
    sessionBm25: evidence.sessionBm25 ?? 0,
  };
}

const context = { maxBm25: 8, at: AT, halfLifeHours: 24, hasQueryVector: true };

describe("scoring", () => {
  it("normalises each signal into 0..1", () => {
    const [scored] = scoreCandidates(
      [
        candidate("m", {
          cosine: 0.8,
          bm25: 4,
          graph: 1.5,
          occurredAt: "2026-05-31T00:00:00.000Z",
          importance: 0.7,
        }),
      ],
      DEFAULT_MEMORY_CONFIG.weights,
      context,
    );
    expect(scored!.components.semantic).toBeCloseTo(0.8);
    expect(scored!.components.lexical).toBeCloseTo(0.5); // divided by the best BM25 of the query
    expect(scored!.components.graph).toBeCloseTo(1 - Math.exp(-1.5));
    expect(scored!.components.recency).toBeCloseTo(0.5); // one half-life old
    expect(scored!.components.importance).toBeCloseTo(0.7);

    const [negative] = scoreCandidates(
      [candidate("n", { cosine: -0.4, occurredAt: "2026-07-01T00:00:00.000Z" })],
      DEFAULT_MEMORY_CONFIG.weights,
      context,
    );
    expect(negative!.components.semantic).toBe(0);
    expect(negative!.components.recency).toBe(1); // the future counts as now
  });

  it("fuses as the weighted mean of active signals; semantic sits out without a query vector", () => {
    const weights = {
      semantic: 3,
      lexical: 1,
      graph: 0,
      temporal: 0,
      recency: 0,
      importance: 0,
      feedback: 0,
      session: 0,
    };
    const [withVector] = scoreCandidates([candidate("m", { cosine: 0.6, bm25: 8 })], weights, context);
    expect(withVector!.score).toBeCloseTo((3 * 0.6 + 1 * 1) / 4);
    const [without] = scoreCandidates([candidate("m", { cosine: null, bm25: 8 })], weights, {
      ...context,
      hasQueryVector: false,
    });
    expect(without!.score).toBeCloseTo(1);
    expect(without!.components.semantic).toBe(0);
  });

  it("scores a memory by the best word match of its session, and only when some session has one", () => {
    const weights = { ...DEFAULT_MEMORY_CONFIG.weights, session: 1 };
    const [answer, unrelated] = scoreCandidates(
      [candidate("answer", { bm25: 0, sessionBm25: 6 }), candidate("other", { bm25: 0, sessionBm25: 0 })],
      weights,
      { ...context, hasSessionWords: true },
    );
    expect(answer!.components.session).toBeCloseTo(6 / 8); // on the lexical scale of the query
    expect(unrelated!.components.session).toBe(0);
    expect(answer!.score).toBeGreaterThan(unrelated!.score);
    const [alone] = scoreCandidates([candidate("answer", { sessionBm25: 6 })], weights, context);
    expect(alone!.components.session).toBe(0); // no session holds a word match: the signal sits out
  });

  it("ranks by score, then the more recent, then id", () => {
    const weights = {
      semantic: 0,
      lexical: 0,
      graph: 0,
      temporal: 0,
      recency: 0,
      importance: 1,
      feedback: 0,
      session: 0,
    };
    const ranked = rank(
      scoreCandidates(
        [
          candidate("b", { importance: 0.5, occurredAt: "2026-01-01T00:00:00.000Z" }),
          candidate("a", { importance: 0.5, occurredAt: "2026-01-01T00:00:00.000Z" }),
          candidate("c", { importance: 0.5, occurredAt: "2026-02-01T00:00:00.000Z" }),
          candidate("d", { importance: 0.9 }),
        ],
        weights,
        context,
      ),
    );
    expect(ranked.map((s) => s.record.id)).toEqual(["d", "c", "a", "b"]);
  });
});

describe("near-duplicate guard", () => {
  const record = (content: string) => ({ ...candidate(content, {}).record, content });
  it("merges paraphrases but not changed numbers, negations or orders", () => {
    expect(sameStatement(record("I went to the support group"), record("I went to a support group"))).toBe(
      true,
    );
    expect(sameStatement(record("Meeting moved to 3pm"), record("Meeting moved to 4pm"))).toBe(false);
    expect(sameStatement(record("I like apples"), record("I don't like apples"))).toBe(false);
    // The same facts in another order: kept apart (order can carry meaning; see statements.ts).
    expect(sameStatement(record("Room 12, floor 3"), record("floor 3, room 12"))).toBe(false);
    expect(
      sameStatement(record("Meeting moved to 3pm"), { ...record("Meeting moved to 3pm"), kind: "SEMANTIC" }),
    ).toBe(false);
  });
});

describe("text normalisation", () => {
  it("folds case, accents, punctuation and spacing for dedup and entity names", () => {
    expect(normalizeText("  Café   au LAIT! ")).toBe("cafe au lait");
    expect(contentHash("The release is due in May.")).toBe(contentHash("the release  is due in may"));
    expect(contentHash("The release is due in May")).not.toBe(contentHash("The release is due in June"));
  });

  it("turns a query into search terms and candidate entity names", () => {
    expect(searchTerms("What did I say about the XK-4471 deploy token?")).toEqual([
      "xk",
      "4471",
      "deploy",
      "token",
    ]);
    expect(nameCandidates("Did Ada Lovelace call?")).toEqual(
      expect.arrayContaining(["ada", "ada lovelace", "lovelace", "lovelace call", "did ada lovelace"]),
    );
    expect(nameCandidates("the")).toEqual([]);
  });
});
