/**
 * A memory's vector carries its place in the conversation. A turn such as "Yes, seat 14C" says
 * little by itself; what it answers ("Did you book the Lisbon flights?") came just before it in
 * the same session. So the vector the model makes from a memory's own text is mixed with the
 * stored vector of the memory it follows in its session (the session's previous memory, the
 * target of its FOLLOWS link):
 *
 *     stored = unit(own + weight × previous)
 *
 * `previous` was made the same way, so the context decays geometrically along the session (the
 * turn before weighs `weight`, the one before that `weight²`, ...) while a memory's own text
 * always weighs most. Only model-made vectors are mixed: a vector a client sends is stored as
 * given. Writes (domain/write-plan.ts) and re-embedding (domain/reembedding.ts) apply the same
 * rule, so a re-embedded store ranks as one written afresh.
 *
 * Measured on the LoCoMo dev split (docs/retrieval.md, "Vectors in context"): vector-only
 * recall@10 0.478 → 0.537 with all-MiniLM-L6-v2 and 0.388 → 0.465 with USE lite at weight 0.5,
 * better in each of the four conversations; 0.5 and 0.6 tie, and every held-out fold chose one
 * of them.
 */

/** EMBEDDINGS_CONTEXT_WEIGHT's default. */
export const DEFAULT_CONTEXT_WEIGHT = 0.5;

/** `own` mixed with `previous` (both unit length) at `weight`, unit length; `own` itself at weight 0. */
export function withSessionContext(own: Float32Array, previous: Float32Array, weight: number): Float32Array {
  if (weight <= 0 || previous.length !== own.length) return own;
  const mixed = new Float32Array(own.length);
  let norm = 0;
  for (let i = 0; i < own.length; i++) {
    const value = own[i]! + weight * previous[i]!;
    mixed[i] = value;
    norm += value * value;
  }
  // Opposite vectors at weight 1 cancel out: keep the memory's own meaning rather than nothing.
  if (norm < 1e-12) return own;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < mixed.length; i++) mixed[i]! *= scale;
  return mixed;
}
