/**
 * `npm run bench:memory`: how fast the memory subgraph ingests and recalls.
 *
 *  - ingest rate (memories/s, batches of 100 through the gateway) with each embedder the machine
 *    has (the ONNX model when `npm run models` placed it, and the Universal Sentence Encoder
 *    lite): real conversation turns from LoCoMo when available, else synthetic text, with
 *    entity extraction and near-duplicate dedup; and with client-supplied vectors;
 *  - recall latency p50/p95/p99 at 1k (per embedder), 10k and 100k memories of one agent,
 *    through the gateway and directly against the store (the hybrid pipeline without GraphQL),
 *    excluding and including the query embedding;
 *  - how much the approximate first pass loses at 10k and 100k: the share of the exact 10
 *    nearest neighbours that the store's vector search returns;
 *  - floors measured in the same run on the same data: an SQLite point read, the sqlite-vec
 *    k-NN alone, and an exact brute-force vector scan in memory.
 *
 * The 10k and 100k levels use synthetic text and client-supplied vectors made from real ones:
 * each is an embedding of a LoCoMo turn (by the first embedder) plus Gaussian noise, so the
 * vectors cluster as real ones do (uniformly random vectors would make every neighbour equally
 * far, and the approximate search look worse than it is). Embedding 100k texts would take ~10
 * minutes on two cores. The 100k level is filled directly through the store with exact-only
 * dedup. Environment: BENCH_LEVELS (default "1000,10000,100000"), BENCH_QUERIES (default 40),
 * BENCH_EMBEDDERS (default "onnx,local", those present), BENCH_NEO4J_LEVELS (default
 * "10000,100000"; empty skips Neo4j), BENCH_RESULTS_DIR, LOCOMO_PATH.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startStack } from "../bin/stack.js";
import { issueToken } from "../core/auth/tokens.js";
import { loadConfig } from "../core/config.js";
import { createRuntime } from "../core/runtime.js";
import { createNeo4jDriver } from "../core/store/neo4j.js";
import { createEmbedder } from "../subgraphs/memory/analysis/embedder.js";
import { acquireAnalysisPool } from "../subgraphs/memory/analysis/pool.js";
import { DEFAULT_MEMORY_CONFIG } from "../subgraphs/memory/domain/model.js";
import { recallMemories } from "../subgraphs/memory/domain/recall.js";
import type { MemoryStore } from "../subgraphs/memory/domain/store-port.js";
import { createNeo4jMemoryStore } from "../subgraphs/memory/store/neo4j.js";
import { createSqliteMemoryStore } from "../subgraphs/memory/store/sqlite.js";
import { APPROXIMATE_FROM } from "../subgraphs/memory/store/sqlite-vector-index.js";
import { batch, item, write } from "../test/support/memory-writes.js";
import { seededRandom } from "../test/support/seeded-random.js";
import { testConfig } from "../test/support/stack.js";
import { startBenchNeo4j } from "./support/neo4j.js";
import { type LatencySummary, printTable, summarize, writeResults } from "./support/report.js";

const K = 10;
const BATCH = 100;
const LEVELS = (process.env.BENCH_LEVELS ?? "1000,10000,100000").split(",").map(Number);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 40);

// ---- data -------------------------------------------------------------------------------

/** Deterministic, so two runs measure the same data. */
const random = seededRandom(42);

function gaussian(): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** Real embeddings the synthetic vectors are drawn around (set once the embedder has run). */
let baseVectors: Float32Array[] = [];
/** Noise per dimension: cosine to the base vector ~0.75, like paraphrases of one turn. */
const NOISE = 0.045;

/** A unit vector near a random real embedding (see the header). */
function randomVector(): number[] {
  const base = baseVectors[Math.floor(random() * baseVectors.length)]!;
  const values = Array.from(base, (value) => value + NOISE * gaussian());
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

const WORDS = (
  "meeting project budget release deploy server client design review plan travel flight hotel dinner lunch " +
  "coffee tea family kids school garden music concert painting book novel movie camera photo beach mountain " +
  "hike run gym yoga doctor appointment birthday party gift wedding anniversary recipe bake cake pasta pizza " +
  "market price stock report deadline sprint ticket bug feature test database cache memory graph vector query " +
  "search index token password account invoice contract lawyer office desk laptop phone call email message " +
  "weekend holiday summer winter spring autumn morning evening night rain snow sun wind river lake city village " +
  "museum gallery theatre football tennis chess piano guitar violin poem story letter diary journal habit goal"
).split(" ");
const NAMES = Array.from({ length: 400 }, (_, i) => `Person${i}`);

function pick<T>(items: readonly T[]): T {
  // Zipf-like: low indexes are much more frequent, like real vocabulary.
  return items[Math.floor(items.length * random() ** 2.5)]!;
}
function sentence(words: number): string {
  return Array.from({ length: words }, () => pick(WORDS)).join(" ");
}

interface Turn {
  text: string;
  session: string;
}

/** LoCoMo conversation turns, read in place (never copied into the repository). */
function locomo(): { turns: Turn[]; questions: string[] } | null {
  const candidates = [
    process.env.LOCOMO_PATH,
    path.resolve("../shared/data/locomo/locomo-dev.json"),
    path.resolve("../../shared/data/locomo/locomo-dev.json"),
    "/work/shared/data/locomo/locomo-dev.json",
  ].filter((p): p is string => Boolean(p));
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) return null;
  const samples = JSON.parse(readFileSync(file, "utf8")) as {
    sample_id: string;
    conversation: Record<string, unknown>;
    qa: { question: string }[];
  }[];
  const turns: Turn[] = [];
  for (const sample of samples) {
    for (const [key, value] of Object.entries(sample.conversation)) {
      if (!/^session_\d+$/.test(key) || !Array.isArray(value)) continue;
      for (const turn of value as { speaker: string; text: string }[]) {
        turns.push({ text: `${turn.speaker}: ${turn.text}`, session: `${sample.sample_id}-${key}` });
      }
    }
  }
  return { turns, questions: samples.flatMap((sample) => sample.qa.map((qa) => qa.question)) };
}

// ---- measurement ------------------------------------------------------------------------

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * Wall-clock latencies, and the process's CPU time per run (all threads): on a loaded machine
 * the first also measures the neighbours, the second only this work.
 */
async function time(
  runs: number,
  run: (i: number) => Promise<unknown> | unknown,
): Promise<LatencySummary & { cpuMsPerRun: number }> {
  await run(-1); // warm-up
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run(i);
    samples.push(performance.now() - start);
  }
  const used = process.cpuUsage(cpu);
  return { ...summarize(samples), cpuMsPerRun: round((used.user + used.system) / 1000 / runs) };
}

// ---- main -------------------------------------------------------------------------------

/**
 * Fills an agent with `level` memories straight through the store and the domain's write
 * algorithm (no GraphQL), in chunks of 1,000: synthetic text, one person entity each, and
 * vectors drawn around real embeddings. Returns the ids and vectors written.
 */
async function fillDirect(
  store: MemoryStore,
  agentId: string,
  level: number,
): Promise<{ id: string; vector: Float32Array }[]> {
  const written: { id: string; vector: Float32Array }[] = [];
  const chunk = 1000;
  for (let i = 0; i < level; i += chunk) {
    const items = Array.from({ length: Math.min(chunk, level - i) }, (_, j) => {
      const content = `${sentence(10)} (${i + j})`;
      const name = pick(NAMES);
      const vector = Float32Array.from(randomVector());
      const memory = item(agentId, content, {
        embedding: vector,
        entities: [name],
        sessionId: `s${Math.floor((i + j) / 20)}`,
      });
      written.push({ id: memory.record.id, vector });
      return memory;
    });
    await write(store, batch(agentId, items));
  }
  return written;
}

type EmbedderName = "onnx" | "local";

function benchConfig(dataDir: string, embedder: EmbedderName, workers: number) {
  return testConfig({
    dataDir,
    env: {
      EMBEDDINGS_WORKERS: String(workers),
      EMBEDDINGS_PROVIDER: embedder,
      ...(embedder === "onnx" && process.env.EMBEDDINGS_MODEL_PATH
        ? { EMBEDDINGS_MODEL_PATH: process.env.EMBEDDINGS_MODEL_PATH }
        : {}),
      REQUEST_MAX_BYTES: String(16 * 1024 * 1024),
    },
  });
}

/** A stack on a fresh data directory, with a GraphQL helper authorised as admin. */
async function startBenchStack(dataDir: string, embedder: EmbedderName, workers: number) {
  const config = benchConfig(dataDir, embedder, workers);
  const runtime = await createRuntime(config);
  const stack = await startStack(config, {
    services: ["gateway", "state", "memory", "cache-admin"],
    runtime,
  });
  const gateway = stack.services.gateway!.url;
  const token = await issueToken(config.auth, { sub: "bench", role: "admin", agents: ["*"] });
  const post = (query: string, variables: Record<string, unknown>) =>
    fetch(gateway, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    // A keep-alive connection left idle through a long direct fill may have been closed by the
    // server just as it is reused: that request never reached it, so it is sent again.
    const response = await post(query, variables).catch((error: { cause?: { code?: string } }) => {
      if (error.cause?.code === "ECONNRESET") return post(query, variables);
      throw error;
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data!;
  };
  return {
    config,
    gql,
    close: async () => {
      await stack.close();
      await runtime.close();
    },
  };
}

const REMEMBER_MANY = `mutation ($agentId: ID!, $inputs: [MemoryInput!]!) { rememberMany(agentId: $agentId, inputs: $inputs) { outcome } }`;
const RECALL = `query ($agentId: ID!, $query: String!, $k: Int, $queryEmbedding: [Float!]) {
  recall(agentId: $agentId, query: $query, k: $k, queryEmbedding: $queryEmbedding) { score memory { id content } } }`;

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-memory-"));
  // The deployment defaults (EMBEDDINGS_WORKERS is 2, capped at the cores) unless overridden.
  const defaults = loadConfig({}).embeddings;
  const workers = Number(process.env.EMBEDDINGS_WORKERS ?? defaults.workers);
  const modelInstalled = defaults.provider === "onnx";
  const embedders = (process.env.BENCH_EMBEDDERS ?? "onnx,local")
    .split(",")
    .filter((name): name is EmbedderName => name === "local" || (name === "onnx" && modelInstalled));
  if (embedders.length === 0) throw new Error("BENCH_EMBEDDERS names no embedder this machine has");
  const notes: string[] = [];
  if (!modelInstalled) notes.push("no ONNX model installed (npm run models): USE lite only");

  const first = await startBenchStack(path.join(dataDir, "main"), embedders[0]!, workers);
  const { gql, config } = first;
  const pool = acquireAnalysisPool(workers);
  const embedder = await createEmbedder(config.embeddings, pool);
  const dimensions = embedder.dimensions;
  // A second connection to the same SQLite file, for direct measurements and the bulk fill.
  const store = createSqliteMemoryStore(path.join(dataDir, "main"), dimensions);
  /**
   * Besides the wall-clock rate, the CPU time the whole process spent (gateway, subgraphs, worker
   * threads): on a shared machine the wall clock measures the neighbours too, while
   * memories per CPU-second x cores is what this machine does when it is quiet.
   */
  const ingest: Record<
    string,
    {
      memories: number;
      seconds: number;
      perSecond: number;
      cpuSeconds: number;
      perCpuSecond: number;
      note: string;
    }
  > = {};
  let cpuAtStart = process.cpuUsage();
  const cpuSince = () => {
    const used = process.cpuUsage(cpuAtStart);
    return (used.user + used.system) / 1e6;
  };

  const real = locomo();
  if (!real) notes.push("LoCoMo not found (LOCOMO_PATH): the embedder ingest used synthetic text");
  const smallest = LEVELS[0] ?? 1000;
  const turns: Turn[] = Array.from({ length: smallest }, (_, i) =>
    real ? real.turns[i % real.turns.length]! : { text: sentence(12), session: `s${Math.floor(i / 20)}` },
  );
  baseVectors = await embedder.embed((real ? real.turns.slice(0, 2000) : turns).map((turn) => turn.text));

  const agentFor = (level: number) => `bench-${level}`;
  const levelData: Record<number, { queries: string[]; vectors: number[][] }> = {};
  const rows: ({ memories: number; path: string } & LatencySummary & { cpuMsPerRun: number })[] = [];
  const record = (level: number, label: string, result: LatencySummary & { cpuMsPerRun: number }) => {
    rows.push({ memories: level, path: label, ...result });
    console.log(`${level}\t${label}\tp50 ${result.p50Ms} ms\tp95 ${result.p95Ms} ms\tp99 ${result.p99Ms} ms`);
  };
  const questions = real
    ? real.questions.slice(0, QUERIES)
    : Array.from({ length: QUERIES }, () => sentence(6));

  /** The full default path through the gateway: embedder, entity extraction, near-duplicate dedup. */
  const ingestTurns = async (
    post: typeof gql,
    name: EmbedderName,
    modelId: string,
    agentId: string,
  ): Promise<void> => {
    // One untimed write first, to another agent and of other text: a server that has been up a
    // while has its workers' entity extractor loaded and compiled, and that first load (~1.5 s
    // of CPU on 2 cores) is start-up cost, not throughput.
    const warmUp = (real ? real.turns.slice(smallest, smallest + BATCH) : turns.slice(0, BATCH)).map(
      (turn) => ({
        content: `${turn.text} (warm-up)`,
        sessionId: `warm-up-${turn.session}`,
      }),
    );
    await post(REMEMBER_MANY, { agentId: `${agentId}-warm-up`, inputs: warmUp });
    const started = performance.now();
    cpuAtStart = process.cpuUsage();
    for (let i = 0; i < turns.length; i += BATCH) {
      const inputs = turns
        .slice(i, i + BATCH)
        .map((turn) => ({ content: turn.text, sessionId: turn.session }));
      await post(REMEMBER_MANY, { agentId, inputs });
    }
    const seconds = (performance.now() - started) / 1000;
    ingest[`embedder ${name}`] = {
      memories: turns.length,
      seconds: round(seconds),
      perSecond: round(turns.length / seconds),
      cpuSeconds: round(cpuSince()),
      perCpuSecond: round(turns.length / cpuSince()),
      note: `gateway, rememberMany x${BATCH}, ${modelId} (${workers} worker threads), entity extraction, dedup`,
    };
    let unique = 0;
    record(
      turns.length,
      `gateway recall, embedding the query (${name})`,
      await time(QUERIES, (i) =>
        post(RECALL, { agentId, query: `${questions[Math.max(0, i) % questions.length]} ${unique++}`, k: K }),
      ),
    );
  };

  // The other embedders: ingest and query-embedding recall on their own stack.
  for (const name of embedders.slice(1)) {
    const other = await startBenchStack(path.join(dataDir, name), name, workers);
    try {
      const otherPool = acquireAnalysisPool(workers);
      const otherModel = (await createEmbedder(other.config.embeddings, otherPool)).modelId;
      await otherPool.release();
      await ingestTurns(other.gql, name, otherModel, `bench-${name}`);
    } finally {
      await other.close();
    }
  }

  for (const level of LEVELS) {
    const agentId = agentFor(level);
    const started = performance.now();
    cpuAtStart = process.cpuUsage();
    if (level === smallest) {
      await ingestTurns(gql, embedders[0]!, embedder.modelId, agentId);
    } else if (level <= 10_000) {
      for (let i = 0; i < level; i += BATCH) {
        const inputs = Array.from({ length: Math.min(BATCH, level - i) }, (_, j) => ({
          content: `${sentence(10)} (${i + j})`,
          embedding: randomVector(),
          extractEntities: false,
          entities: [{ name: pick(NAMES), type: "PERSON" }],
          sessionId: `s${Math.floor((i + j) / 20)}`,
        }));
        await gql(REMEMBER_MANY, { agentId, inputs });
      }
      const seconds = (performance.now() - started) / 1000;
      ingest.clientVectors = {
        memories: level,
        seconds: round(seconds),
        perSecond: round(level / seconds),
        cpuSeconds: round(cpuSince()),
        perCpuSecond: round(level / cpuSince()),
        note: `gateway, rememberMany x${BATCH}, client vectors and entities, near-duplicate dedup on`,
      };
    } else {
      await gql(
        `mutation ($agentId: ID!) { configureMemory(agentId: $agentId, config: { dedupThreshold: 1 }) { capacity } }`,
        {
          agentId,
        },
      );
      await fillDirect(store, agentId, level);
      const seconds = (performance.now() - started) / 1000;
      ingest.directStoreFill = {
        memories: level,
        seconds: round(seconds),
        perSecond: round(level / seconds),
        cpuSeconds: round(cpuSince()),
        perCpuSecond: round(level / cpuSince()),
        note: "direct store.write x1000, client vectors, exact-only dedup (no GraphQL)",
      };
    }
    const queries =
      level === smallest ? questions : Array.from({ length: QUERIES }, () => `${pick(NAMES)} ${sentence(4)}`);
    // Query vectors near the stored ones, as a real question's vector is near its answer's.
    const vectors =
      level === smallest
        ? (await embedder.embed(queries, "query")).map((vector) => Array.from(vector))
        : queries.map(() => randomVector());
    levelData[level] = { queries, vectors };
    console.log(`filled ${agentId} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  // Bulk import with exact-only dedup: no k-NN per write, so the rate does not fall as the agent grows.
  {
    const agentId = "bench-import";
    const memories = 2000;
    await gql(
      `mutation ($agentId: ID!) { configureMemory(agentId: $agentId, config: { dedupThreshold: 1 }) { capacity } }`,
      {
        agentId,
      },
    );
    const started = performance.now();
    cpuAtStart = process.cpuUsage();
    for (let i = 0; i < memories; i += BATCH) {
      const inputs = Array.from({ length: BATCH }, (_, j) => ({
        content: `${sentence(10)} (${i + j})`,
        embedding: randomVector(),
        extractEntities: false,
        entities: [{ name: pick(NAMES), type: "PERSON" }],
      }));
      await gql(REMEMBER_MANY, { agentId, inputs });
    }
    const seconds = (performance.now() - started) / 1000;
    ingest.clientVectorsExactDedup = {
      memories,
      seconds: round(seconds),
      perSecond: round(memories / seconds),
      cpuSeconds: round(cpuSince()),
      perCpuSecond: round(memories / cpuSince()),
      note: `gateway, rememberMany x${BATCH}, client vectors and entities, dedupThreshold 1 (exact text only)`,
    };
  }
  if (LEVELS.some((level) => level > smallest)) {
    notes.push(
      `levels above the smallest use synthetic text and ${dimensions}-d client vectors drawn around real embeddings`,
    );
  }

  const approximation: { memories: number; overlapAt10: number; queries: number; store: string }[] = [];
  for (const level of LEVELS) {
    const agentId = agentFor(level);
    const { queries, vectors } = levelData[level]!;
    const runs = level >= 100_000 ? Math.min(QUERIES, 25) : QUERIES;
    const q = (i: number) => queries[Math.max(0, i) % queries.length]!;
    const v = (i: number) => vectors[Math.max(0, i) % vectors.length]!;
    const now = () => new Date().toISOString();
    const direct = (vector: Float32Array | null, query: string) =>
      recallMemories(store, {
        agentId,
        query,
        vector,
        k: K,
        filter: {},
        weights: DEFAULT_MEMORY_CONFIG.weights,
        config: DEFAULT_MEMORY_CONFIG,
        now: now(),
      });
    let unique = 0;

    record(
      level,
      "gateway recall, query vector given",
      await time(runs, (i) => gql(RECALL, { agentId, query: q(i), k: K, queryEmbedding: v(i) })),
    );
    // A fresh query text each time, so the query-vector cache never answers.
    record(
      level,
      "gateway recall, embedding the query",
      await time(runs, (i) => gql(RECALL, { agentId, query: `${q(i)} ${unique++}`, k: K })),
    );
    record(
      level,
      "direct recall (store + scoring), query vector given",
      await time(runs, (i) => direct(Float32Array.from(v(i)), q(i))),
    );
    record(
      level,
      "direct recall, embedding the query",
      await time(runs, async (i) => {
        const [vector] = await embedder.embed([`${q(i)} ${unique++}`], "query");
        return direct(vector!, q(i));
      }),
    );
    record(
      level,
      "store vector search alone (k=100)",
      await time(runs, (i) => store.vectorSearch(agentId, Float32Array.from(v(i)), 100, {}, now())),
    );
    const exactKnn = store.db.prepare(
      "SELECT rowid, distance FROM memory_vectors WHERE embedding MATCH ? AND k = ? AND agent_id = ?",
    );
    record(
      level,
      "floor: sqlite-vec exact k-NN alone (k=100)",
      await time(runs, (i) => exactKnn.all(Buffer.from(Float32Array.from(v(i)).buffer), 100, agentId)),
    );
    if (level >= APPROXIMATE_FROM) {
      // Recall loss of the approximate first pass: the exact 10 nearest against what the store returns.
      const seqOf = store.db.prepare("SELECT id FROM memories WHERE seq = ?");
      let overlap = 0;
      for (let i = 0; i < queries.length; i++) {
        const vector = Float32Array.from(v(i));
        const exact = (exactKnn.all(Buffer.from(vector.buffer), K, agentId) as { rowid: number }[]).map(
          (row) => (seqOf.get(row.rowid) as { id: string }).id,
        );
        const found = new Set((await store.vectorSearch(agentId, vector, K, {}, now())).map((hit) => hit.id));
        overlap += exact.filter((id) => found.has(id)).length / exact.length;
      }
      approximation.push({
        memories: level,
        overlapAt10: round(overlap / queries.length),
        queries: queries.length,
        store: "sqlite (binary first pass + exact re-rank)",
      });
    }
    const ids = (
      store.db.prepare("SELECT id FROM memories WHERE agent_id = ? ORDER BY seq LIMIT 1000").all(agentId) as {
        id: string;
      }[]
    ).map((row) => row.id);
    const point = store.db.prepare("SELECT * FROM memories WHERE id = ?");
    record(
      level,
      "floor: SQLite point read by id",
      await time(runs * 10, (i) => point.get(ids[Math.max(0, i) % ids.length])),
    );
    // Exact scan of every vector of the agent, in memory (no I/O): the least any exact k-NN can cost.
    const blobs = store.db
      .prepare("SELECT embedding FROM memory_vectors WHERE agent_id = ?")
      .all(agentId) as { embedding: Buffer }[];
    const matrix = new Float32Array(blobs.length * dimensions);
    blobs.forEach((row, r) => {
      matrix.set(
        new Float32Array(row.embedding.buffer, row.embedding.byteOffset, dimensions),
        r * dimensions,
      );
    });
    record(
      level,
      "floor: exact brute-force scan in memory (JS)",
      await time(runs, (i) => bruteForce(matrix, blobs.length, dimensions, Float32Array.from(v(i)), K)),
    );
  }

  // Neo4j beside SQLite: the same kind of data, filled straight through the store, searched
  // through its HNSW vector index (BENCH_NEO4J_LEVELS, default "10000,100000"; empty skips).
  const neo4jLevels = (process.env.BENCH_NEO4J_LEVELS ?? "10000,100000")
    .split(",")
    .filter(Boolean)
    .map(Number);
  if (neo4jLevels.length > 0) {
    const server = await startBenchNeo4j();
    const driver = createNeo4jDriver(server.config);
    try {
      const neo = await createNeo4jMemoryStore(driver, server.config.database, dimensions);
      for (const level of neo4jLevels) {
        const agentId = `neo4j-${level}`;
        const started = performance.now();
        cpuAtStart = process.cpuUsage();
        const written = await fillDirect(neo, agentId, level);
        const seconds = (performance.now() - started) / 1000;
        ingest[`neo4j directStoreFill ${level}`] = {
          memories: level,
          seconds: round(seconds),
          perSecond: round(level / seconds),
          cpuSeconds: round(cpuSince()),
          perCpuSecond: round(level / cpuSince()),
          note: "Neo4j: direct store.write x1000, client vectors, exact-only dedup (CPU: this process only, not the server)",
        };
        console.log(`filled ${agentId} on Neo4j (${seconds.toFixed(1)} s)`);
        const queries = Array.from({ length: QUERIES }, () => `${pick(NAMES)} ${sentence(4)}`);
        const vectors = queries.map(() => Float32Array.from(randomVector()));
        const runs = level >= 100_000 ? Math.min(QUERIES, 25) : QUERIES;
        const at = (i: number) => Math.max(0, i) % queries.length;
        record(
          level,
          "neo4j: direct recall (store + scoring), query vector given",
          await time(runs, (i) =>
            recallMemories(neo, {
              agentId,
              query: queries[at(i)]!,
              vector: vectors[at(i)]!,
              k: K,
              filter: {},
              weights: DEFAULT_MEMORY_CONFIG.weights,
              config: DEFAULT_MEMORY_CONFIG,
              now: new Date().toISOString(),
            }),
          ),
        );
        record(
          level,
          "neo4j: store vector search alone (k=100)",
          await time(runs, (i) =>
            neo.vectorSearch(agentId, vectors[at(i)]!, 100, {}, new Date().toISOString()),
          ),
        );
        // HNSW is approximate too: the exact 10 nearest (computed here) against what it returns.
        let overlap = 0;
        for (const vector of vectors) {
          const exact = written
            .map((memory) => ({ id: memory.id, score: dotProduct(memory.vector, vector) }))
            .sort((a, b) => b.score - a.score)
            .slice(0, K);
          const found = new Set(
            (await neo.vectorSearch(agentId, vector, K, {}, new Date().toISOString())).map((hit) => hit.id),
          );
          overlap += exact.filter((hit) => found.has(hit.id)).length / K;
        }
        approximation.push({
          memories: level,
          overlapAt10: round(overlap / vectors.length),
          queries: vectors.length,
          store: "neo4j (HNSW)",
        });
      }
    } finally {
      await driver.close();
      await server.stop();
    }
  }

  await pool.release();
  await store.close();
  await first.close();
  rmSync(dataDir, { recursive: true, force: true });

  printTable(
    "Ingest (memories/s)",
    Object.entries(ingest).map(([path, entry]) => ({ path, ...entry })),
  );
  printTable(
    `Recall (k=${K}), milliseconds`,
    rows.map(({ memories, path, p50Ms, p95Ms, p99Ms, cpuMsPerRun, count }) => ({
      memories,
      path,
      p50Ms,
      p95Ms,
      p99Ms,
      cpuMsPerRun,
      runs: count,
    })),
  );
  if (approximation.length > 0) {
    printTable(
      "Approximate vector search: share of the exact 10 nearest returned",
      approximation.map((row) => ({ ...row })),
    );
  }
  for (const note of notes) console.log(`note: ${note}`);
  writeResults(
    "memory",
    {
      settings: {
        levels: LEVELS,
        queries: QUERIES,
        k: K,
        batch: BATCH,
        embedderWorkers: workers,
        embedders,
        dimensions,
        store: "sqlite",
        loadAverage: os.loadavg(),
      },
      ingest,
      recall: rows,
      approximation,
      notes,
    },
    process.env.BENCH_RESULTS_DIR,
  );
}

function dotProduct(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function bruteForce(
  matrix: Float32Array,
  rows: number,
  dimensions: number,
  query: Float32Array,
  k: number,
): number[] {
  const best: { row: number; score: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    const offset = r * dimensions;
    for (let d = 0; d < dimensions; d++) dot += matrix[offset + d]! * query[d]!;
    if (best.length < k || dot > best[best.length - 1]!.score) {
      best.push({ row: r, score: dot });
      best.sort((a, b) => b.score - a.score);
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b.row);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
