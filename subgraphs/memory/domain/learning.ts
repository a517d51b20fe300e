/**
 * Learning from feedback. `reinforceMemory(id, useful)` does two things:
 *
 *  1. the memory's own votes change its `feedback` signal (scoring.ts `feedbackValue`), so that
 *     memory ranks higher (or lower) in later recalls of this agent;
 *  2. the agent's fusion weights take one step of online logistic regression: the model is
 *     p(useful) = σ(b + Σ wᵢ·cᵢ), where cᵢ are the components the memory had in the last recall
 *     that returned it and wᵢ the agent's fusion weights. A vote moves each weight by
 *     η·(y − p)·cᵢ (y = 1 useful, 0 not): signals that were high on useful hits gain weight,
 *     signals that were high on useless hits lose it.
 *
 * Bounded: every weight stays within [0, MAX_WEIGHT] and the weights never all reach 0; the
 * step size η is the agent's `learningRate` (default 0.05; 0 turns weight learning off). The
 * configured weights are the starting point, and `resetLearning` returns to them.
 */
import type { LearnedWeights, MemoryConfig, RecallWeights, ScoreComponents } from "./model.js";
import { SIGNALS } from "./model.js";

export const MAX_WEIGHT = 2;

/** The weights a recall of this agent fuses with: learned ones once there are any. */
export function effectiveWeights(config: MemoryConfig): RecallWeights {
  return config.learned?.weights ?? config.weights;
}

/** The learned state after one vote on a memory whose last recall had these components. */
export function learnFromFeedback(
  config: MemoryConfig,
  components: ScoreComponents | null,
  useful: boolean,
): LearnedWeights {
  const current: LearnedWeights = config.learned ?? {
    weights: { ...config.weights },
    // Starts where a hit with middling components (all 0.5) is judged a coin flip.
    bias: -0.5 * SIGNALS.reduce((sum, name) => sum + config.weights[name], 0),
    updates: 0,
  };
  const rate = config.learningRate;
  if (!components || rate === 0) return { ...current, updates: current.updates + 1 };

  const logit =
    current.bias + SIGNALS.reduce((sum, name) => sum + current.weights[name] * components[name], 0);
  const p = 1 / (1 + Math.exp(-logit));
  const error = (useful ? 1 : 0) - p;
  const weights = { ...current.weights };
  for (const name of SIGNALS) {
    weights[name] = Math.min(MAX_WEIGHT, Math.max(0, weights[name] + rate * error * components[name]));
  }
  // A step that would silence every signal is not taken (recall needs at least one weight).
  const usable = SIGNALS.some((name) => weights[name] > 0);
  return {
    weights: usable ? weights : current.weights,
    bias: current.bias + rate * error,
    updates: current.updates + 1,
  };
}
