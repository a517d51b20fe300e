/**
 * The worker pool that runs embedding and entity extraction off the event loop (piscina over
 * worker.cjs, which loads worker.mjs). Loading the embedding model costs time and ~100 MB per
 * worker, so one pool is shared by everything in the process (tests start several stacks in one
 * process) and closed when its last user releases it.
 */
import os from "node:os";
import { Piscina } from "piscina";

/** What a worker needs to run an ONNX sentence model (resolved by onnx-model.ts). */
export interface OnnxModelSpec {
  /** The model directory (model.onnx, tokenizer.json, tokenizer_config.json). */
  dir: string;
  /** The output holding the token vectors (batch x tokens x dimensions). */
  output: string;
  pooling: "mean" | "cls";
  /**
   * False for dynamically quantised models: their int8 scales are taken from the whole input
   * tensor, so a text's vector would depend on the texts batched with it. Those run one text at
   * a time, and the same text always gets the same vector.
   */
  batchInvariant: boolean;
  /** Longer inputs are truncated to this many tokens. */
  maxTokens: number;
  /** Prepended to every text (models trained with "query: " / "passage: " prefixes). */
  prefix?: string;
  /** onnxruntime intra-op threads per worker. */
  threads: number;
}

export type AnalysisTask =
  | { task: "embed"; texts: string[] }
  | { task: "embed-onnx"; model: OnnxModelSpec; texts: string[] }
  | { task: "extract"; texts: string[] };

export interface AnalysisPool {
  run(task: { task: "embed"; texts: string[] }): Promise<Float32Array[]>;
  run(task: { task: "embed-onnx"; model: OnnxModelSpec; texts: string[] }): Promise<Float32Array[]>;
  run(task: { task: "extract"; texts: string[] }): Promise<{ name: string; type: string }[][]>;
  release(): Promise<void>;
  /** Worker threads in the pool. */
  readonly threads: number;
}

// worker.cjs loads worker.mjs; it says why piscina must not require() the ES module itself.
const WORKER_URL = new URL("./worker.cjs", import.meta.url).href;

let shared: { piscina: Piscina; users: number; threads: number } | null = null;

/** Returns the process's pool (created on first use); call `release()` when done with it. */
export function acquireAnalysisPool(threads: number): AnalysisPool {
  if (!shared) {
    const size = Math.max(1, Math.min(threads, os.availableParallelism()));
    shared = {
      piscina: new Piscina({
        filename: WORKER_URL,
        minThreads: size,
        maxThreads: size,
        // Workers hold the loaded model: keep them for the pool's whole life.
        idleTimeout: Number.POSITIVE_INFINITY,
      }),
      users: 0,
      threads: size,
    };
  }
  const entry = shared;
  entry.users++;
  let released = false;
  return {
    threads: entry.threads,
    run: ((task: AnalysisTask) => entry.piscina.run(task)) as AnalysisPool["run"],
    async release() {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users === 0 && shared === entry) {
        shared = null;
        await entry.piscina.destroy();
      }
    },
  };
}
