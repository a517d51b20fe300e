/**
 * Re-embedding a store with another model: every memory's text is embedded again, batch by
 * batch, into the store's second set of vectors while recall keeps using the first; when every
 * memory has one, the store swaps them in one step and records the new model (see the store
 * port). Stopping at any point loses nothing: a second run goes on where the first stopped, and
 * memories written meanwhile are picked up before the swap.
 *
 * Memories whose client sent their own vector get the new model's vector too: a client vector
 * from the old model would not be comparable with the rest. Every new vector carries its
 * session's context as a write's does (domain/session-context.ts): the store hands memories over
 * after the ones they follow, so the previous memory's new vector is known.
 */
import type { Embedder } from "../analysis/embedder.js";
import { searchTextOf } from "./dedup.js";
import { DEFAULT_CONTEXT_WEIGHT, withSessionContext } from "./session-context.js";
import type { MemoryStore, ReembedStatus } from "./store-port.js";

/** Memories embedded per round trip: large enough for the embedder's batches, small enough to stop soon. */
export const REEMBED_BATCH = 256;

export interface ReembedProgress {
  done: number;
  memories: number;
  /** Memories per second over this run so far. */
  rate: number;
}

export interface ReembedOptions {
  batchSize?: number;
  onProgress?: (progress: ReembedProgress) => void;
  /** Stops after the current batch (progress is kept for the next run). */
  signal?: AbortSignal;
  /** EMBEDDINGS_CONTEXT_WEIGHT (default 0.5): as writes mix it, see domain/session-context.ts. */
  contextWeight?: number;
  /** Re-embeds even when the store's vectors are already this model's (e.g. after the context weight changed). */
  force?: boolean;
}

export type ReembedOutcome =
  | { state: "unchanged"; status: ReembedStatus }
  | { state: "switched"; status: ReembedStatus }
  | { state: "stopped"; status: ReembedStatus };

/** Re-embeds every memory of `store` with `embedder`, then switches the store to it. */
export async function reembedStore(
  store: MemoryStore,
  embedder: Embedder,
  options: ReembedOptions = {},
): Promise<ReembedOutcome> {
  if (!embedder.available) throw new Error("re-embedding needs an embedder (EMBEDDINGS_PROVIDER is none)");
  const target = { id: embedder.modelId, dimensions: embedder.dimensions };
  const before = await store.reembedStatus();
  if (
    !options.force &&
    before.target === null &&
    before.model?.id === target.id &&
    before.model.dimensions === target.dimensions
  ) {
    return { state: "unchanged", status: before };
  }
  const batchSize = options.batchSize ?? REEMBED_BATCH;
  const contextWeight = options.contextWeight ?? DEFAULT_CONTEXT_WEIGHT;
  let status = await store.startReembed(target);
  const started = performance.now();
  let embedded = 0;
  for (;;) {
    if (options.signal?.aborted) return { state: "stopped", status: await store.reembedStatus() };
    const batch = await store.memoriesToReembed(batchSize);
    if (batch.length === 0) {
      const { switched } = await store.finishReembed();
      if (switched) return { state: "switched", status: await store.reembedStatus() };
      continue; // memories were written since the last batch: embed them too
    }
    const own = await embedder.embed(batch.map((memory) => searchTextOf(memory)));
    const made = new Map<string, Float32Array>();
    for (const [i, memory] of batch.entries()) {
      const previous = memory.follows ? (made.get(memory.follows.id) ?? memory.follows.vector) : null;
      made.set(memory.id, previous ? withSessionContext(own[i]!, previous, contextWeight) : own[i]!);
    }
    await store.saveReembedded(batch.map((memory) => ({ id: memory.id, vector: made.get(memory.id)! })));
    embedded += batch.length;
    status = { ...status, done: status.done + batch.length };
    options.onProgress?.({
      done: Math.min(status.done, status.memories),
      memories: status.memories,
      rate: embedded / Math.max(0.001, (performance.now() - started) / 1000),
    });
  }
}
