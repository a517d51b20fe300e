/**
 * Embedders and entity extraction: the offline model in the worker pool, an OpenAI-compatible
 * HTTP endpoint (a real local HTTP server speaking that protocol), client-vector checks, and a
 * stack started with each provider.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.js";
import { checkVector, createEmbedder, HttpEmbedder } from "../../subgraphs/memory/analysis/embedder.js";
import { type AnalysisPool, acquireAnalysisPool } from "../../subgraphs/memory/analysis/pool.js";
import { cosineSimilarity } from "../../subgraphs/memory/domain/scoring.js";
import { errorCodes } from "../support/graphql-client.js";
import { startTestStack } from "../support/stack.js";

describe("the offline embedder and extractor (worker pool)", () => {
  let pool: AnalysisPool;
  beforeAll(() => {
    pool = acquireAnalysisPool(1);
  });
  afterAll(async () => {
    await pool.release();
  });

  it("embeds in batches into 512-d unit vectors that place paraphrases closer than unrelated text", async () => {
    const embedder = await createEmbedder(loadConfig({ EMBEDDINGS_PROVIDER: "local" }).embeddings, pool);
    const texts = Array.from({ length: 40 }, (_, i) => `sentence number ${i}`);
    const [cat, kitten, stocks, ...rest] = await embedder.embed([
      "My cat is sick",
      "The kitten is not feeling well",
      "Stocks rose sharply on Tuesday",
      ...texts,
    ]);
    expect(rest).toHaveLength(40); // more than one worker batch of 32, reassembled in order
    expect(embedder.dimensions).toBe(512);
    for (const vector of [cat!, kitten!, stocks!]) {
      expect(vector).toHaveLength(512);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    }
    expect(cosineSimilarity(cat!, kitten!)).toBeGreaterThan(cosineSimilarity(cat!, stocks!) + 0.3);
    const [again] = await embedder.embed(["sentence number 39"]);
    expect(cosineSimilarity(again!, rest[39]!)).toBeCloseTo(1, 5);
  });

  it("extracts people, places, organisations and topics offline", async () => {
    const [entities] = await pool.run({
      task: "extract",
      texts: [
        "Ada Lovelace met Charles Babbage in London at the Royal Society. They talked about #computing.",
      ],
    });
    expect(entities).toEqual(
      expect.arrayContaining([
        { name: "Ada Lovelace", type: "PERSON" },
        { name: "Charles Babbage", type: "PERSON" },
        { name: "London", type: "PLACE" },
        { name: "Royal Society", type: "ORGANIZATION" },
        { name: "computing", type: "TOPIC" },
      ]),
    );
  });
});

describe("the ONNX sentence embedder (the model placed by `npm run models`)", () => {
  let pool: AnalysisPool;
  beforeAll(() => {
    pool = acquireAnalysisPool(1);
  });
  afterAll(async () => {
    await pool.release();
  });

  // 155 texts of up to 400 words through one worker: slow on a shared machine, hence the timeout.
  it("embeds in batches into unit vectors of the model's size, in order, paraphrases closer than unrelated text", {
    timeout: 120_000,
  }, async () => {
    const embedder = await createEmbedder(loadConfig({ EMBEDDINGS_PROVIDER: "onnx" }).embeddings, pool);
    expect(embedder.modelId).toBe("onnx:sentence-transformers/all-MiniLM-L6-v2 (int8, Xenova)");
    expect(embedder.dimensions).toBe(384);
    const texts = Array.from({ length: 150 }, (_, i) => `sentence number ${i} ${"word ".repeat(i % 40)}`);
    const [cat, kitten, stocks, empty, long, ...rest] = await embedder.embed([
      "My cat is sick",
      "The kitten is not feeling well",
      "Stocks rose sharply on Tuesday",
      "",
      "a very long text ".repeat(400),
      ...texts,
    ]);
    expect(rest).toHaveLength(150); // several worker tasks, reassembled in order
    for (const vector of [cat!, kitten!, stocks!, empty!, long!, rest[149]!]) {
      expect(vector).toHaveLength(384);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    }
    expect(cosineSimilarity(cat!, kitten!)).toBeGreaterThan(cosineSimilarity(cat!, stocks!) + 0.3);
    // The same text gives the same vector alone or in a batch padded to longer texts.
    const [again] = await embedder.embed([texts[7]!]);
    expect(cosineSimilarity(again!, rest[7]!)).toBeCloseTo(1, 4);
  });

  it("says how to place a model when the model directory is incomplete or Hugging Face cannot be reached", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-model-"));
    try {
      writeFileSync(path.join(dir, "model.onnx"), "");
      const config = loadConfig({ EMBEDDINGS_PROVIDER: "onnx", EMBEDDINGS_MODEL_PATH: dir }).embeddings;
      await expect(createEmbedder(config, pool)).rejects.toThrow(
        /lacks tokenizer\.json, tokenizer_config\.json\. Run `npm run models`/,
      );
      // No network to Hugging Face here: a clear error, not a hang or a stack trace.
      const fromHub = loadConfig({
        EMBEDDINGS_PROVIDER: "onnx",
        EMBEDDINGS_MODEL: "mnemo-test/no-such-model",
        EMBEDDINGS_CACHE_DIR: dir,
      }).embeddings;
      await expect(createEmbedder(fromHub, pool)).rejects.toThrow(
        /Could not download mnemo-test\/no-such-model from Hugging Face .*EMBEDDINGS_MODEL_PATH|has none of onnx\/model\.onnx/,
      );
      // A manifest says whether texts may be batched; anything but a boolean is refused by name.
      for (const file of ["tokenizer.json", "tokenizer_config.json"])
        writeFileSync(path.join(dir, file), "{}");
      writeFileSync(
        path.join(dir, "mnemo-model.json"),
        JSON.stringify({ dimensions: 384, batchInvariant: "false" }),
      );
      await expect(createEmbedder(config, pool)).rejects.toThrow(
        /"batchInvariant" in .* must be true or false \(got "false"\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("client-supplied vectors", () => {
  it("must have the store's dimension, finite values and a direction; they are scaled to unit length", () => {
    expect(Array.from(checkVector([3, 4], 2, "v"))).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(() => checkVector([1, 2, 3], 2, "input.embedding")).toThrow(/3 dimensions; this store holds 2/);
    expect(() => checkVector([1, Number.NaN], 2, "v")).toThrow(/NaN or infinite/);
    expect(() => checkVector([1, Number.POSITIVE_INFINITY], 2, "v")).toThrow(/NaN or infinite/);
    expect(() => checkVector([0, 0], 2, "v")).toThrow(/all zeros/);
    expect(() => checkVector([1e300, 1], 2, "v")).toThrow(/too large for 32-bit/);
  });
});

/** A tiny OpenAI-compatible embeddings server: vector i of a text = its character codes folded into `dims`. */
async function startEmbeddingServer(dims: number, options: { failWith?: number; returnDims?: number } = {}) {
  const requests: { authorization?: string; input: string[]; model?: string }[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const parsed = JSON.parse(body) as { input: string[]; model?: string };
    requests.push({ authorization: req.headers.authorization, input: parsed.input, model: parsed.model });
    if (req.url !== "/v1/embeddings") {
      res.writeHead(404).end();
      return;
    }
    if (options.failWith) {
      res.writeHead(options.failWith).end("{}");
      return;
    }
    const data = parsed.input.map((text, index) => {
      const vector = new Array(options.returnDims ?? dims).fill(0);
      for (let i = 0; i < text.length; i++) vector[text.charCodeAt(i) % vector.length] += 1;
      return { object: "embedding", index, embedding: vector };
    });
    res.writeHead(200, { "content-type": "application/json" });
    // Out of order on purpose: clients must use `index`.
    res.end(JSON.stringify({ object: "list", data: data.reverse(), model: parsed.model }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the OpenAI-compatible HTTP embedder", () => {
  it("posts batches with the model and key, and returns unit vectors in input order", async () => {
    const server = await startEmbeddingServer(16);
    try {
      const embedder = new HttpEmbedder({
        url: `${server.url}/`,
        model: "text-embedding-3-small",
        apiKey: "sk-test",
        dimensions: 16,
      });
      const texts = Array.from({ length: 70 }, (_, i) => "x".repeat(i + 1));
      const vectors = await embedder.embed(texts);
      expect(server.requests.map((r) => r.input.length)).toEqual([64, 6]);
      expect(server.requests[0]).toMatchObject({
        authorization: "Bearer sk-test",
        model: "text-embedding-3-small",
      });
      expect(vectors).toHaveLength(70);
      expect(Math.hypot(...vectors[5]!)).toBeCloseTo(1, 5);
      const [single] = await embedder.embed(["x".repeat(6)]);
      expect(Array.from(single!)).toEqual(Array.from(vectors[5]!));
    } finally {
      await server.close();
    }
  });

  it("fails with UNAVAILABLE on an error status or a vector of the wrong size", async () => {
    for (const options of [{ failWith: 503 }, { returnDims: 8 }]) {
      const server = await startEmbeddingServer(16, options);
      try {
        const embedder = new HttpEmbedder({ url: server.url, dimensions: 16 });
        await expect(embedder.embed(["hello"])).rejects.toMatchObject({
          extensions: { code: "UNAVAILABLE" },
        });
      } finally {
        await server.close();
      }
    }
  });

  it("serves remember and recall in a stack configured with EMBEDDINGS_PROVIDER=http", async () => {
    const server = await startEmbeddingServer(32);
    const mnemo = await startTestStack({
      env: { EMBEDDINGS_PROVIDER: "http", EMBEDDINGS_URL: server.url, EMBEDDINGS_DIMENSIONS: "32" },
    });
    try {
      const written = await mnemo.query(
        `mutation { rememberMany(agentId: "http-1", inputs: [{ content: "aaaa bbbb" }, { content: "zzzz yyyy" }]) { outcome } }`,
      );
      expect(written.errors).toBeUndefined();
      const hits = await mnemo.query<{
        recall: { memory: { content: string }; components: { semantic: number } }[];
      }>(
        `{ recall(agentId: "http-1", query: "aaaa bbbb", k: 2) { memory { content } components { semantic } } }`,
      );
      expect(hits.data!.recall[0]!.memory.content).toBe("aaaa bbbb");
      expect(hits.data!.recall[0]!.components.semantic).toBeCloseTo(1, 4);
      // A client vector of the model's size is accepted; another size (the local model's 512) is not.
      const wrong = await mnemo.query(
        `mutation ($e: [Float!]) { remember(agentId: "http-1", input: { content: "v", embedding: $e }) { outcome } }`,
        { e: new Array(512).fill(0.1) },
      );
      expect(errorCodes(wrong)).toEqual(["BAD_USER_INPUT"]);
    } finally {
      await mnemo.close();
      await server.close();
    }
  });
});

describe("a store created with one embedder", () => {
  it("refuses to start with another embedder, and works with client vectors only", async () => {
    const first = await startTestStack({ env: { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4" } });
    const dataDir = first.dataDir;
    try {
      const written = await first.query(
        `mutation { remember(agentId: "none-1", input: { content: "client vector", embedding: [1, 0, 0, 0] }) { outcome } }`,
      );
      expect(written.errors).toBeUndefined();
      const plain = await first.query(
        `mutation { remember(agentId: "none-1", input: { content: "no vector at all, found by words" }) { outcome } }`,
      );
      expect(plain.errors).toBeUndefined();
      const byWords = await first.query<{ recall: { memory: { content: string } }[] }>(
        `{ recall(agentId: "none-1", query: "found by words") { memory { content } } }`,
      );
      expect(byWords.data!.recall[0]!.memory.content).toBe("no vector at all, found by words");
      const byVector = await first.query<{ recall: { memory: { content: string } }[] }>(
        `{ recall(agentId: "none-1", query: "zzz", queryEmbedding: [0.9, 0.1, 0, 0]) { memory { content } } }`,
      );
      expect(byVector.data!.recall[0]!.memory.content).toBe("client vector");
    } finally {
      await first.close({ keepData: true });
    }
    // The default embedder is another model: refused, naming both, and pointing at re-embedding.
    await expect(startTestStack({ dataDir })).rejects.toThrow(
      /vectors were made by "client" \(4 d\), but the configured embedder is "[^"]+" \(\d+ d\).*npm run reembed/,
    );
  });
});
