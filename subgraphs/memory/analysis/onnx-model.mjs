// A sentence-embedding model in ONNX, run by onnxruntime-node inside an analysis worker. Plain
// JavaScript for the same reason as worker.mjs (workers get no TypeScript transforms).
//
// A model directory holds model.onnx (a BERT-style encoder: input_ids, attention_mask and, if
// it takes them, token_type_ids in; token vectors out), tokenizer.json and tokenizer_config.json
// (read by @huggingface/tokenizers, offline). `spec` (resolved on the main thread, see
// onnx-model.ts) says which output holds the token vectors, how to pool them and the longest
// input in tokens. Vectors come back unit length.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";

/**
 * A run pads its texts to the longest one, so a task's texts are sorted by length and cut into
 * runs of at most RUN_TOKENS padded tokens (and RUN_TEXTS texts): many short texts run together,
 * long ones a few at a time. On LoCoMo turns (35 tokens on average, some over 200) in writes of
 * 100 this took 40% less CPU per text than runs of a fixed 32 texts; 256 to 1,024 tokens measured
 * alike. A model that is not batch-invariant (dynamic int8 quantisation, see pool.ts) runs one
 * text at a time: on LoCoMo turns that costs ~30% more CPU than runs, and buys vectors that are a
 * function of the text alone (dedup, the query-vector cache and re-embedding rely on it).
 */
const RUN_TOKENS = 512;
const RUN_TEXTS = 64;

const loaded = new Map();

/** One session and tokenizer per model directory and worker, loaded on first use. */
function load(spec) {
  let model = loaded.get(spec.dir);
  if (!model) {
    model = (async () => {
      const read = (name) => JSON.parse(readFileSync(path.join(spec.dir, name), "utf8"));
      const tokenizer = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
      const session = await ort.InferenceSession.create(path.join(spec.dir, "model.onnx"), {
        // Each worker is one of EMBEDDINGS_WORKERS threads; the pool sizes them to the cores.
        intraOpNumThreads: spec.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: "all",
        // Idle onnxruntime threads would spin for work, taking CPU from entity extraction and
        // the event loop on a small machine; they sleep instead.
        extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
      });
      return { tokenizer, session, typeIds: session.inputNames.includes("token_type_ids") };
    })();
    loaded.set(spec.dir, model);
    model.catch(() => loaded.delete(spec.dir));
  }
  return model;
}

function encode(tokenizer, text, maxTokens) {
  const { ids } = tokenizer.encode(text.length === 0 ? " " : text);
  if (ids.length <= maxTokens) return ids;
  // Keep [CLS] ... and the closing [SEP]: a truncated text is still a well-formed input.
  return [...ids.slice(0, maxTokens - 1), ids[ids.length - 1]];
}

async function runBatch(model, spec, batch) {
  const { session } = model;
  const width = Math.max(...batch.map((ids) => ids.length));
  const size = batch.length * width;
  const inputIds = new BigInt64Array(size);
  const mask = new BigInt64Array(size);
  batch.forEach((ids, row) => {
    for (let i = 0; i < ids.length; i++) {
      inputIds[row * width + i] = BigInt(ids[i]);
      mask[row * width + i] = 1n;
    }
  });
  const dims = [batch.length, width];
  const feeds = {
    input_ids: new ort.Tensor("int64", inputIds, dims),
    attention_mask: new ort.Tensor("int64", mask, dims),
  };
  if (model.typeIds) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(size), dims);
  const outputs = await session.run(feeds, [spec.output]);
  const hidden = outputs[spec.output];
  const [, , features] = hidden.dims;
  const data = hidden.data;
  const vectors = batch.map((ids, row) => {
    const vector = new Float32Array(features);
    if (spec.pooling === "cls") {
      vector.set(data.subarray(row * width * features, row * width * features + features));
    } else {
      // Mean over the real tokens (padding excluded), as sentence-transformers pools.
      for (let t = 0; t < ids.length; t++) {
        const offset = (row * width + t) * features;
        for (let f = 0; f < features; f++) vector[f] += data[offset + f];
      }
      for (let f = 0; f < features; f++) vector[f] /= ids.length;
    }
    let norm = 0;
    for (let f = 0; f < features; f++) norm += vector[f] * vector[f];
    norm = Math.sqrt(norm);
    if (norm > 0) for (let f = 0; f < features; f++) vector[f] /= norm;
    return vector;
  });
  for (const tensor of Object.values(outputs)) tensor.dispose?.();
  return vectors;
}

/** Unit-length vectors for `texts`, in order. */
export async function embedWithOnnx(spec, texts) {
  const model = await load(spec);
  const prefix = spec.prefix ?? "";
  const encoded = texts.map((text, index) => ({
    index,
    ids: encode(model.tokenizer, prefix + text, spec.maxTokens),
  }));
  encoded.sort((a, b) => a.ids.length - b.ids.length);
  const runTexts = spec.batchInvariant === false ? 1 : RUN_TEXTS;
  const results = new Array(texts.length);
  for (let start = 0; start < encoded.length; ) {
    // Sorted, so the last text of a run is its longest: grow the run while it fits the budget.
    let end = start + 1;
    while (
      end < encoded.length &&
      end - start < runTexts &&
      (end + 1 - start) * encoded[end].ids.length <= RUN_TOKENS
    ) {
      end++;
    }
    const slice = encoded.slice(start, end);
    start = end;
    const vectors = await runBatch(
      model,
      spec,
      slice.map((entry) => entry.ids),
    );
    slice.forEach((entry, i) => {
      results[entry.index] = vectors[i];
    });
  }
  return results;
}
