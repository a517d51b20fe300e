/**
 * Re-embedding a store with another model: the domain loop (progress, stopping and resuming,
 * memories written meanwhile), and `npm run reembed` end to end on a store made with the
 * Universal Sentence Encoder lite, switched to the ONNX model (placed by `npm run models`).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { Embedder } from "../../subgraphs/memory/analysis/embedder.js";
import { type ReembedProgress, reembedStore } from "../../subgraphs/memory/domain/reembedding.js";
import { createSqliteMemoryStore } from "../../subgraphs/memory/store/sqlite.js";
import { freshAgent } from "../contract/memory-store.contract.js";
import { batch, item, write } from "../support/memory-writes.js";
import { startTestStack } from "../support/stack.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");

/** A deterministic 8-d "model": each text's character codes folded into 8 buckets, unit length. */
function foldingEmbedder(modelId: string): Embedder & { calls: number } {
  const embedder = {
    provider: "http" as const,
    modelId,
    dimensions: 8,
    available: true,
    calls: 0,
    async embed(texts: readonly string[]) {
      embedder.calls++;
      return texts.map((text) => {
        const vector = new Float32Array(8);
        for (let i = 0; i < text.length; i++) vector[text.charCodeAt(i) % 8]! += 1;
        const norm = Math.hypot(...vector) || 1;
        return vector.map((value) => value / norm);
      });
    },
  };
  return embedder;
}

describe("reembedStore", () => {
  it("re-embeds batch by batch with progress, stops when asked, resumes, and picks up new memories", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-reembed-domain-"));
    const store = createSqliteMemoryStore(dir, 8, undefined, { id: "old-model", dimensions: 8 });
    try {
      const agent = freshAgent();
      const old = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
      await write(
        store,
        batch(
          agent,
          Array.from({ length: 10 }, (_, i) => item(agent, `memory number ${i}`, { embedding: old })),
          { dedupThreshold: 1 },
        ),
      );
      const embedder = foldingEmbedder("new-model");
      const stop = new AbortController();
      const progress: ReembedProgress[] = [];
      const stopped = await reembedStore(store, embedder, {
        batchSize: 3,
        signal: stop.signal,
        onProgress: (p) => {
          progress.push(p);
          if (p.done >= 6) stop.abort();
        },
      });
      expect(stopped.state).toBe("stopped");
      expect(stopped.status).toMatchObject({ done: 6, memories: 10, target: { id: "new-model" } });
      expect(progress.map((p) => p.done)).toEqual([3, 6]);
      expect(await store.embeddingModel()).toEqual({ id: "old-model", dimensions: 8 });

      // Written while the re-embedding is under way: embedded before the switch.
      await write(store, batch(agent, [item(agent, "written meanwhile", { embedding: old })]));
      const finished = await reembedStore(store, embedder, { batchSize: 3 });
      expect(finished.state).toBe("switched");
      expect(finished.status).toMatchObject({ model: { id: "new-model", dimensions: 8 }, target: null });
      const [query] = await embedder.embed(["written meanwhile"]);
      const [hit] = await store.vectorSearch(agent, query!, 1, {}, new Date().toISOString());
      expect((await store.getMemories([hit!.id]))[0]!.value!.content).toBe("written meanwhile");
      expect(hit!.score).toBeCloseTo(1, 5);

      const calls = embedder.calls;
      expect((await reembedStore(store, embedder)).state).toBe("unchanged");
      expect(embedder.calls).toBe(calls);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("npm run reembed", () => {
  it("switches a store made with USE lite to the ONNX model, after which the server starts and recalls by meaning", async () => {
    const local = { EMBEDDINGS_PROVIDER: "local" };
    // Made here, so the stacks leave it alone (a refused start would remove a directory it made).
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-reembed-cli-"));
    const first = await startTestStack({ env: local, dataDir });
    try {
      const written = await first.query(
        `mutation { rememberMany(agentId: "re-1", inputs: [{content: "Ada prefers green tea in the morning"}, {content: "The deploy pipeline failed on Tuesday"}]) { outcome } }`,
      );
      expect(written.errors).toBeUndefined();
    } finally {
      await first.close();
    }
    const onnx = { EMBEDDINGS_PROVIDER: "onnx" };
    await expect(startTestStack({ dataDir, env: onnx })).rejects.toThrow(
      /made by "use-lite" \(512 d\), but the configured embedder is "onnx:[^"]+" \(384 d\)/,
    );

    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "scripts/reembed.ts", "--batch", "1"],
      {
        cwd: root,
        env: { ...process.env, ...onnx, DATA_DIR: dataDir, STORE: "sqlite" },
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(/2 memories, vectors by "use-lite" \(512 d\)/);
    expect(stdout).toMatch(/switched: the store's vectors are now "onnx:[^"]+" \(384 d\)/);

    const second = await startTestStack({ dataDir, env: onnx });
    try {
      const recalled = await second.query<{ recall: { memory: { content: string } }[] }>(
        `{ recall(agentId: "re-1", query: "What does she like to drink?", k: 1) { memory { content } } }`,
      );
      expect(recalled.data!.recall[0]!.memory.content).toBe("Ada prefers green tea in the morning");
    } finally {
      await second.close();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);
});
