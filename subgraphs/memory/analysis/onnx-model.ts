/**
 * Finding an ONNX sentence model on the main thread: which directory, which model it is (the id
 * the store records), its size, and how to pool it. The workers then load it (onnx-model.mjs).
 *
 * A model directory holds model.onnx, tokenizer.json and tokenizer_config.json, plus either a
 * `mnemo-model.json` (written by `npm run models`) or the sentence-transformers files a Hugging
 * Face repository has (config.json's hidden_size, 1_Pooling/config.json). With EMBEDDINGS_MODEL
 * set to a Hugging Face model id, the files are downloaded once into EMBEDDINGS_CACHE_DIR; where
 * Hugging Face cannot be reached that fails with a message saying how to place a model by hand.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { OnnxModelSpec } from "./pool.js";

export const MODEL_MANIFEST = "mnemo-model.json";
const REQUIRED_FILES = ["model.onnx", "tokenizer.json", "tokenizer_config.json"] as const;
const HUGGING_FACE = "https://huggingface.co";
const DOWNLOAD_TIMEOUT_MS = 120_000;

export interface OnnxModel {
  /** The model's name, as the store records it ("which model made these vectors"). */
  id: string;
  dimensions: number;
  /** What a worker needs, without the per-call prefix and thread count. */
  spec: Omit<OnnxModelSpec, "prefix" | "threads">;
  /** Prepended to queries / stored texts (e5: "query: " / "passage: "; bge: an instruction for queries). */
  queryPrefix: string;
  documentPrefix: string;
}

/** A model that cannot be found or read: a start-up error that says what to do. */
export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
}

interface Manifest {
  id?: string;
  dimensions?: number;
  pooling?: "mean" | "cls";
  /** False when a text's vector depends on its batch (dynamic int8 quantisation): see OnnxModelSpec. */
  batchInvariant?: boolean;
  maxTokens?: number;
  output?: string;
  queryPrefix?: string;
  documentPrefix?: string;
}

/** Reads a model directory; throws ModelUnavailableError naming what is missing. */
export function readModelDirectory(dir: string, fallbackId?: string): OnnxModel {
  const missing = REQUIRED_FILES.filter((file) => !existsSync(path.join(dir, file)));
  if (missing.length > 0) {
    throw new ModelUnavailableError(
      `The ONNX model directory ${dir} lacks ${missing.join(", ")}. Run \`npm run models\` to place the ` +
        "default model, or point EMBEDDINGS_MODEL_PATH at a directory with model.onnx, tokenizer.json and tokenizer_config.json",
    );
  }
  const json = <T>(file: string): T | null => {
    const full = path.join(dir, file);
    if (!existsSync(full)) return null;
    try {
      return JSON.parse(readFileSync(full, "utf8")) as T;
    } catch (error) {
      throw new ModelUnavailableError(`${full} is not valid JSON: ${(error as Error).message}`);
    }
  };
  const manifest = json<Manifest>(MODEL_MANIFEST) ?? {};
  const config = json<{ hidden_size?: number; max_position_embeddings?: number }>("config.json");
  const pooling = json<{ pooling_mode_cls_token?: boolean }>(path.join("1_Pooling", "config.json"));
  const sentenceConfig = json<{ max_seq_length?: number }>("sentence_bert_config.json");
  const dimensions = manifest.dimensions ?? config?.hidden_size;
  if (!dimensions || !Number.isInteger(dimensions) || dimensions < 1) {
    throw new ModelUnavailableError(
      `Cannot tell the vector size of the model in ${dir}: give "dimensions" in ${MODEL_MANIFEST} or hidden_size in config.json`,
    );
  }
  if (manifest.batchInvariant !== undefined && typeof manifest.batchInvariant !== "boolean") {
    // A string "false" would batch a dynamically quantised model and let batches shift vectors.
    throw new ModelUnavailableError(
      `"batchInvariant" in ${path.join(dir, MODEL_MANIFEST)} must be true or false (got ${JSON.stringify(manifest.batchInvariant)})`,
    );
  }
  return {
    id: manifest.id ?? fallbackId ?? path.basename(dir),
    dimensions,
    spec: {
      dir,
      output: manifest.output ?? "last_hidden_state",
      pooling: manifest.pooling ?? (pooling?.pooling_mode_cls_token ? "cls" : "mean"),
      batchInvariant: manifest.batchInvariant ?? true,
      maxTokens:
        manifest.maxTokens ??
        sentenceConfig?.max_seq_length ??
        Math.min(512, config?.max_position_embeddings ?? 512),
    },
    queryPrefix: manifest.queryPrefix ?? "",
    documentPrefix: manifest.documentPrefix ?? "",
  };
}

/**
 * The model directory for a Hugging Face model id, downloaded into `cacheDir` when it is not
 * there yet (model.onnx from the repository's onnx/ folder, or its root).
 */
export async function downloadModel(modelId: string, cacheDir: string): Promise<string> {
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(modelId)) {
    throw new ModelUnavailableError(
      `EMBEDDINGS_MODEL must be a Hugging Face model id like "sentence-transformers/all-MiniLM-L6-v2" (got "${modelId}")`,
    );
  }
  const dir = path.join(cacheDir, modelId.replace("/", "--"));
  if (REQUIRED_FILES.every((file) => existsSync(path.join(dir, file)))) return dir;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.join(staging, "1_Pooling"), { recursive: true });
  try {
    const fetchFile = async (candidates: string[], target: string, required: boolean) => {
      for (const file of candidates) {
        const url = `${HUGGING_FACE}/${modelId}/resolve/main/${file}`;
        let response: Response;
        try {
          response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
        } catch (error) {
          const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
          throw new ModelUnavailableError(
            `Could not download ${modelId} from Hugging Face (${cause}). Without network access to it, place ` +
              "the model directory yourself (model.onnx, tokenizer.json, tokenizer_config.json) and set " +
              "EMBEDDINGS_MODEL_PATH to it, or run `npm run models` for the default model",
          );
        }
        if (response.ok) {
          writeFileSync(path.join(staging, target), Buffer.from(await response.arrayBuffer()));
          return;
        }
        if (response.status !== 404) {
          throw new ModelUnavailableError(
            `Hugging Face answered HTTP ${response.status} for ${url}; check EMBEDDINGS_MODEL and try again`,
          );
        }
      }
      if (required) {
        throw new ModelUnavailableError(
          `${modelId} has none of ${candidates.join(", ")} on Hugging Face: it is not an ONNX sentence model Mnemo can run`,
        );
      }
    };
    await fetchFile(["onnx/model.onnx", "model.onnx"], "model.onnx", true);
    await fetchFile(["tokenizer.json"], "tokenizer.json", true);
    await fetchFile(["tokenizer_config.json"], "tokenizer_config.json", true);
    await fetchFile(["config.json"], "config.json", false);
    await fetchFile(["sentence_bert_config.json"], "sentence_bert_config.json", false);
    await fetchFile(["1_Pooling/config.json"], path.join("1_Pooling", "config.json"), false);
    writeFileSync(path.join(staging, MODEL_MANIFEST), `${JSON.stringify({ id: modelId }, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
