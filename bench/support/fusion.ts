/**
 * Choosing fusion weights by leave-one-conversation-out cross-validation. A recall's candidates
 * and their components (each signal's value in [0, 1]) do not depend on the weights, only their
 * order does, so every question's candidates are gathered once and re-ranked here under each
 * weight vector of a grid. For each held-out conversation the weights that do best on the
 * others are chosen and scored on it; the held-out scores, pooled, are the cross-validated
 * figures: what a conversation the weights never saw can expect.
 */
import { SIGNALS, type SignalName } from "../../subgraphs/memory/domain/model.js";
import { type Category, RecallAccumulator, recallAt } from "./locomo.js";

export interface RankedCandidate {
  /** The turns this memory stands for (one, unless duplicates were merged). */
  turns: string[];
  /** Component values in SIGNALS order. */
  components: number[];
}

export interface QuestionCandidates {
  conversation: string;
  category: Category;
  evidence: string[];
  /** Candidates in tie-break order (more recent first, then id), as `rank` breaks ties. */
  candidates: RankedCandidate[];
}

export type Weights = Record<SignalName, number>;

/**
 * The grid the cross-validation searches. Importance and recency are left as configured: in a
 * benchmark where every memory has the default importance and all turns are years old, they
 * cannot change an order, so fitting them would only fit noise.
 */
export const WEIGHT_GRID: Record<
  "semantic" | "lexical" | "graph" | "temporal" | "session",
  readonly number[]
> = {
  semantic: [0, 0.1, 0.2, 0.35, 0.5, 0.75, 1],
  lexical: [0, 0.1, 0.2, 0.35, 0.5, 0.75, 1],
  graph: [0, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2],
  temporal: [0, 0.15, 0.3, 0.6],
  session: [0, 0.1, 0.25, 0.5],
};

export function weightGrid(base: Weights): Weights[] {
  const grid: Weights[] = [];
  for (const semantic of WEIGHT_GRID.semantic)
    for (const lexical of WEIGHT_GRID.lexical)
      for (const graph of WEIGHT_GRID.graph)
        for (const temporal of WEIGHT_GRID.temporal)
          for (const session of WEIGHT_GRID.session) {
            if (semantic + lexical + graph === 0) continue;
            grid.push({ ...base, semantic, lexical, graph, temporal, session });
          }
  return grid;
}

/**
 * The turn ids of the top `k` candidates under `weights` (a weighted sum ranks as the weighted
 * mean does). A partial selection, not a sort: it runs millions of times in a cross-validation.
 */
export function rankTurns(question: QuestionCandidates, weights: Weights, k: number): string[] {
  const w = SIGNALS.map((name) => weights[name] ?? 0);
  const top: { score: number; order: number }[] = [];
  question.candidates.forEach((candidate, order) => {
    let score = 0;
    for (let i = 0; i < w.length; i++) score += w[i]! * candidate.components[i]!;
    // Strictly better only: on equal scores the earlier candidate (rank()'s tie-break) stays ahead.
    if (top.length === k && score <= top[k - 1]!.score) return;
    let at = top.length;
    while (at > 0 && top[at - 1]!.score < score) at--;
    top.splice(at, 0, { score, order });
    if (top.length > k) top.pop();
  });
  const turns: string[] = [];
  for (const { order } of top) {
    turns.push(...question.candidates[order]!.turns);
    if (turns.length >= k) break;
  }
  return turns;
}

export interface CrossValidation {
  /** Pooled held-out recall@k (each question scored with weights chosen without its conversation). */
  heldOut: ReturnType<RecallAccumulator["result"]>;
  /** Weights chosen on all conversations, and their (in-sample) recall@k. */
  fitted: { weights: Weights; result: ReturnType<RecallAccumulator["result"]> };
  /** The weights each fold chose. */
  folds: { heldOut: string; weights: Weights }[];
}

/**
 * Leave-one-conversation-out: the objective is the mean recall over `ks`, averaged over the
 * training questions; ties between grid points go to the earlier one (the grid starts small).
 */
export function crossValidate(
  questions: readonly QuestionCandidates[],
  grid: readonly Weights[],
  ks: readonly number[],
): CrossValidation {
  const maxK = Math.max(...ks);
  // objective[g][q]: question q's mean recall over ks under grid point g.
  const objective = grid.map((weights) =>
    Float64Array.from(questions, (question) => {
      const ranked = rankTurns(question, weights, maxK);
      return ks.reduce((sum, k) => sum + recallAt(ranked, question.evidence, k), 0) / ks.length;
    }),
  );
  const best = (include: (q: QuestionCandidates) => boolean): Weights => {
    let bestIndex = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    objective.forEach((values, g) => {
      let sum = 0;
      questions.forEach((question, q) => {
        if (include(question)) sum += values[q]!;
      });
      if (sum > bestValue + 1e-9) {
        bestValue = sum;
        bestIndex = g;
      }
    });
    return grid[bestIndex]!;
  };
  const conversations = [...new Set(questions.map((question) => question.conversation))];
  const heldOut = new RecallAccumulator(ks);
  const folds = conversations.map((conversation) => {
    const weights = best((question) => question.conversation !== conversation);
    for (const question of questions) {
      if (question.conversation !== conversation) continue;
      heldOut.add(question.category, rankTurns(question, weights, maxK), question.evidence);
    }
    return { heldOut: conversation, weights };
  });
  const fittedWeights = best(() => true);
  return {
    heldOut: heldOut.result(),
    fitted: { weights: fittedWeights, result: evaluate(questions, fittedWeights, ks).result() },
    folds,
  };
}

/** Recall@k of every question under one weight vector. */
export function evaluate(
  questions: readonly QuestionCandidates[],
  weights: Weights,
  ks: readonly number[],
): RecallAccumulator {
  const accumulator = new RecallAccumulator(ks);
  const maxK = Math.max(...ks);
  for (const question of questions) {
    accumulator.add(question.category, rankTurns(question, weights, maxK), question.evidence);
  }
  return accumulator;
}
