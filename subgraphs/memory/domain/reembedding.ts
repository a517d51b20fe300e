/**
 * Re-embedding a store with another model: every memory's text is embedded again, batch by
 * batch, into the store's second set of vectors while recall keeps using the first; when every
 * memory has one, the store swaps them in one step and records the new model (see the store
 * port). Stopping at any point loses nothing: a second run goes on where the first stopped, and
 * memories written meanwhile are picked up before the swap.
 *
 * Memories whose client sent their own vector get the new model's vector too: a client vector
 * from the old model would not be comparable with the rest.
 */
import type { Embedder } from "../analysis/embedder.js";
import { searchTextOf } from "./dedup.js";
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
    before.target === null &&
    before.model?.id === target.id &&
    before.model.dimensions === target.dimensions
  ) {
    return { state: "unchanged", status: before };
  }
  const batchSize = options.batchSize ?? REEMBED_BATCH;
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
    const vectors = await embedder.embed(batch.map((memory) => searchTextOf(memory)));
    await store.saveReembedded(batch.map((memory, i) => ({ id: memory.id, vector: vectors[i]! })));
    embedded += batch.length;
    status = { ...status, done: status.done + batch.length };
    options.onProgress?.({
      done: Math.min(status.done, status.memories),
      memories: status.memories,
      rate: embedded / Math.max(0.001, (performance.now() - started) / 1000),
    });
  }
}
