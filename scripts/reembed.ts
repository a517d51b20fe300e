/**
 * `npm run reembed [-- --batch 256] [--force]`: re-embeds the memory store (STORE, DATA_DIR or NEO4J_*, as
 * the server reads them) with the configured embedder (EMBEDDINGS_PROVIDER, EMBEDDINGS_MODEL_PATH,
 * ...), printing progress, then switches the store to that model in one step.
 *
 * Safe while a server on the old model keeps serving the same store: it recalls with the old
 * vectors until the switch, and then must be restarted with the new model (its recall drops the
 * semantic signal and its writes are refused until then, rather than mixing two models).
 * Interrupted (Ctrl-C), it stops after the current batch; running it again goes on from there.
 * `--force` re-embeds a store whose vectors are already the configured model's: after changing
 * EMBEDDINGS_CONTEXT_WEIGHT, so every memory carries the new mix.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../core/config.js";
import { createRuntime } from "../core/runtime.js";
import { createEmbedder } from "../subgraphs/memory/analysis/embedder.js";
import { acquireAnalysisPool } from "../subgraphs/memory/analysis/pool.js";
import { REEMBED_BATCH, reembedStore } from "../subgraphs/memory/domain/reembedding.js";
import { createMemoryStore } from "../subgraphs/memory/index.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { batch: { type: "string" }, force: { type: "boolean", default: false } },
    strict: true,
  });
  const batchSize = Number(values.batch ?? REEMBED_BATCH);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error(`--batch takes a whole number from 1 to 10000 (got "${values.batch}")`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ LOG_LEVEL: "warn", ...process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const runtime = await createRuntime(config);
  const pool = acquireAnalysisPool(config.embeddings.workers);
  const stop = new AbortController();
  process.once("SIGINT", () => {
    console.error("\nstopping after this batch (run again to go on)");
    stop.abort();
  });
  try {
    const embedder = await createEmbedder(config.embeddings, pool);
    const store = await createMemoryStore(runtime);
    try {
      const before = await store.reembedStatus();
      console.log(
        `memory store: ${before.memories} memories, vectors by ${before.model ? `"${before.model.id}" (${before.model.dimensions} d)` : "an unrecorded model"}; ` +
          `re-embedding with "${embedder.modelId}" (${embedder.dimensions} d)` +
          (before.target ? `, resuming (${before.done} done)` : ""),
      );
      const outcome = await reembedStore(store, embedder, {
        batchSize,
        signal: stop.signal,
        contextWeight: config.embeddings.contextWeight,
        force: values.force,
        onProgress: ({ done, memories, rate }) => {
          const line = `re-embedded ${done}/${memories} (${rate.toFixed(0)} memories/s)`;
          if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
          else console.error(line);
        },
      });
      if (process.stderr.isTTY) process.stderr.write("\n");
      if (outcome.state === "unchanged")
        console.log("the store's vectors are already this model's: nothing to do");
      else if (outcome.state === "stopped") {
        console.log(`stopped at ${outcome.status.done}/${outcome.status.memories}; run again to go on`);
        return 130;
      } else
        console.log(`switched: the store's vectors are now "${embedder.modelId}" (${embedder.dimensions} d)`);
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    await pool.release();
    await runtime.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`reembed: ${(error as Error).message}`);
    process.exit(1);
  },
);
