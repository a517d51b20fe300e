/**
 * `npm run bench:memory`: how fast the memory subgraph ingests and recalls.
 *
 *  - ingest rate (memories/s, batches of 100 through the gateway): with the offline embedder
 *    (real conversation turns from LoCoMo when available, else synthetic text) and with
 *    client-supplied vectors;
 *  - recall latency p50/p99 at 1k, 10k and 100k memories of one agent, through the gateway and
 *    directly against the store (the hybrid pipeline without GraphQL), excluding and including
 *    the query embedding;
 *  - floors measured in the same run on the same data: an SQLite point read, the sqlite-vec
 *    k-NN alone, and an exact brute-force vector scan in memory.
 *
 * The 10k and 100k levels use random client-supplied vectors and synthetic text (embedding
 * 100k texts with the offline model would take ~15 minutes on two cores); the 100k level is
 * filled directly through the store with exact-only dedup. Environment: BENCH_LEVELS
 * (default "1000,10000,100000"), BENCH_QUERIES (default 40), LOCOMO_PATH.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startStack } from "../bin/stack.js";
import { issueToken } from "../core/auth/tokens.js";
import { loadConfig } from "../core/config.js";
import { createRuntime } from "../core/runtime.js";
import { createEmbedder } from "../subgraphs/memory/analysis/embedder.js";
import { acquireAnalysisPool } from "../subgraphs/memory/analysis/pool.js";
import { newMemoryId } from "../subgraphs/memory/domain/ids.js";
import { DEFAULT_MEMORY_CONFIG } from "../subgraphs/memory/domain/model.js";
import { recallMemories } from "../subgraphs/memory/domain/recall.js";
import { analyzeStatement } from "../subgraphs/memory/domain/statements.js";
import type { NewMemory } from "../subgraphs/memory/domain/store-port.js";
import { contentHash, normalizeName } from "../subgraphs/memory/domain/text.js";
import { planWrite, type WriteRequest, writeQuery } from "../subgraphs/memory/domain/write-plan.js";
import { createSqliteMemoryStore } from "../subgraphs/memory/store/sqlite.js";
import { type LatencySummary, printTable, summarize, writeResults } from "./support/report.js";

const DIMENSIONS = 512;
const K = 10;
const BATCH = 100;
const LEVELS = (process.env.BENCH_LEVELS ?? "1000,10000,100000").split(",").map(Number);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 40);

// ---- data -------------------------------------------------------------------------------

/** Deterministic randomness, so two runs measure the same data. */
function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(42);

function randomVector(): number[] {
  const values = new Array<number>(DIMENSIONS);
  let norm = 0;
  for (let i = 0; i < DIMENSIONS; i += 2) {
    const r = Math.sqrt(-2 * Math.log(random() + 1e-12));
    const theta = 2 * Math.PI * random();
    values[i] = r * Math.cos(theta);
    values[i + 1] = r * Math.sin(theta);
    norm += values[i]! ** 2 + values[i + 1]! ** 2;
  }
  norm = Math.sqrt(norm);
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

async function time(runs: number, run: (i: number) => Promise<unknown> | unknown) {
  await run(-1); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run(i);
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

// ---- main -------------------------------------------------------------------------------

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-memory-"));
  // The deployment default (EMBEDDINGS_WORKERS=1): on two cores a second model thread only contends.
  const workers = Number(process.env.EMBEDDINGS_WORKERS ?? 1);
  const config = loadConfig(
    {
      NODE_ENV: "development",
      LOG_LEVEL: "silent",
      GATEWAY_PORT: "0",
      STATE_PORT: "0",
      MEMORY_PORT: "0",
      CACHE_ADMIN_PORT: "0",
      DATA_DIR: dataDir,
      AUTH_JWT_SECRET: "bench-jwt-secret-that-is-at-least-32-bytes",
      INTERNAL_SECRET: "bench-internal-secret-at-least-32-bytes-long",
      EMBEDDINGS_WORKERS: String(workers),
      REQUEST_MAX_BYTES: String(16 * 1024 * 1024),
    },
    { services: ["gateway", "state", "memory", "cache-admin"] },
  );
  const runtime = await createRuntime(config);
  const stack = await startStack(config, {
    services: ["gateway", "state", "memory", "cache-admin"],
    runtime,
  });
  const gateway = stack.services.gateway!.url;
  const token = await issueToken(config.auth, { sub: "bench", role: "admin", agents: ["*"] });
  const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const response = await fetch(gateway, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data!;
  };
  const REMEMBER_MANY = `mutation ($agentId: ID!, $inputs: [MemoryInput!]!) { rememberMany(agentId: $agentId, inputs: $inputs) { outcome } }`;
  const RECALL = `query ($agentId: ID!, $query: String!, $k: Int, $queryEmbedding: [Float!]) {
    recall(agentId: $agentId, query: $query, k: $k, queryEmbedding: $queryEmbedding) { score memory { id content } } }`;

  // A second connection to the same SQLite file, for direct measurements and the bulk fill.
  const store = createSqliteMemoryStore(dataDir, DIMENSIONS);
  const pool = acquireAnalysisPool(workers);
  const embedder = createEmbedder(config.embeddings, pool);
  const notes: string[] = [];
  const ingest: Record<string, { memories: number; seconds: number; perSecond: number; note: string }> = {};

  const real = locomo();
  if (!real) notes.push("LoCoMo not found (LOCOMO_PATH): the offline-embedder ingest used synthetic text");
  const smallest = LEVELS[0] ?? 1000;
  const turns: Turn[] = Array.from({ length: smallest }, (_, i) =>
    real ? real.turns[i % real.turns.length]! : { text: sentence(12), session: `s${Math.floor(i / 20)}` },
  );

  const agentFor = (level: number) => `bench-${level}`;
  const levelData: Record<number, { queries: string[]; vectors: number[][] }> = {};

  for (const level of LEVELS) {
    const agentId = agentFor(level);
    const started = performance.now();
    if (level === smallest) {
      // Offline embedder, entity extraction and near-duplicate dedup: the full default path.
      for (let i = 0; i < level; i += BATCH) {
        const inputs = turns
          .slice(i, i + BATCH)
          .map((turn) => ({ content: turn.text, sessionId: turn.session }));
        await gql(REMEMBER_MANY, { agentId, inputs });
      }
      const seconds = (performance.now() - started) / 1000;
      ingest.offlineEmbedder = {
        memories: level,
        seconds: round(seconds),
        perSecond: round(level / seconds),
        note: `gateway, rememberMany x${BATCH}, local USE embedder (${workers} worker threads), entity extraction, dedup`,
      };
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
        note: `gateway, rememberMany x${BATCH}, client vectors and entities, near-duplicate dedup on`,
      };
    } else {
      await gql(
        `mutation ($agentId: ID!) { configureMemory(agentId: $agentId, config: { dedupThreshold: 1 }) { capacity } }`,
        {
          agentId,
        },
      );
      const chunk = 1000;
      for (let i = 0; i < level; i += chunk) {
        const now = new Date().toISOString();
        const items: NewMemory[] = Array.from({ length: Math.min(chunk, level - i) }, (_, j) => {
          const content = `${sentence(10)} (${i + j})`;
          const name = pick(NAMES);
          return {
            record: {
              id: newMemoryId(agentId),
              agentId,
              content,
              kind: "EPISODIC",
              tags: [],
              importance: 0.5,
              createdAt: now,
              occurredAt: now,
              metadata: null,
              modality: "TEXT",
              mediaUri: null,
              caption: null,
              validFrom: null,
              validUntil: null,
              sessionId: `s${Math.floor((i + j) / 20)}`,
              pinned: false,
              consolidation: null,
              variants: [],
            },
            contentHash: contentHash(content),
            statementKey: analyzeStatement(content).canonical,
            frameKey: null,
            searchText: content,
            embedding: Float32Array.from(randomVector()),
            entities: [{ name, normalizedName: normalizeName(name), type: "PERSON" }],
            relations: [],
            derivedFrom: [],
          };
        });
        const request: WriteRequest = {
          agentId,
          items,
          dedupThreshold: 1,
          capacity: null,
          contradictionPolicy: "KEEP_BOTH",
          now,
        };
        await store.write(writeQuery(request), (snapshot) => planWrite(request, snapshot));
      }
      const seconds = (performance.now() - started) / 1000;
      ingest.directStoreFill = {
        memories: level,
        seconds: round(seconds),
        perSecond: round(level / seconds),
        note: "direct store.write x1000, client vectors, exact-only dedup (no GraphQL)",
      };
    }
    const queries =
      level === smallest && real
        ? real.questions.slice(0, QUERIES)
        : Array.from({ length: QUERIES }, () => `${pick(NAMES)} ${sentence(4)}`);
    const vectors = (await embedder.embed(queries)).map((vector) => Array.from(vector));
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
      note: `gateway, rememberMany x${BATCH}, client vectors and entities, dedupThreshold 1 (exact text only)`,
    };
  }
  if (LEVELS.some((level) => level > smallest)) {
    notes.push("levels above the smallest use random client-supplied 512-d vectors and synthetic text");
  }

  const rows: ({ memories: number; path: string } & LatencySummary)[] = [];
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
    const record = (path: string, result: LatencySummary) => {
      rows.push({ memories: level, path, ...result });
      console.log(`${level}\t${path}\tp50 ${result.p50Ms} ms\tp99 ${result.p99Ms} ms`);
    };

    record(
      "gateway recall, query vector given",
      await time(runs, (i) => gql(RECALL, { agentId, query: q(i), k: K, queryEmbedding: v(i) })),
    );
    // A fresh query text each time, so the query-vector cache never answers.
    record(
      "gateway recall, embedding the query",
      await time(runs, (i) => gql(RECALL, { agentId, query: `${q(i)} ${unique++}`, k: K })),
    );
    record(
      "direct recall (store + scoring), query vector given",
      await time(runs, (i) => direct(Float32Array.from(v(i)), q(i))),
    );
    record(
      "direct recall, embedding the query",
      await time(runs, async (i) => {
        const [vector] = await embedder.embed([`${q(i)} ${unique++}`]);
        return direct(vector!, q(i));
      }),
    );
    record(
      "floor: sqlite-vec k-NN alone (k=50)",
      await time(runs, (i) =>
        store.db
          .prepare(
            "SELECT rowid, distance FROM memory_vectors WHERE embedding MATCH ? AND k = 50 AND agent_id = ?",
          )
          .all(Buffer.from(Float32Array.from(v(i)).buffer), agentId),
      ),
    );
    const ids = (
      store.db.prepare("SELECT id FROM memories WHERE agent_id = ? ORDER BY seq LIMIT 1000").all(agentId) as {
        id: string;
      }[]
    ).map((row) => row.id);
    const point = store.db.prepare("SELECT * FROM memories WHERE id = ?");
    record(
      "floor: SQLite point read by id",
      await time(runs * 10, (i) => point.get(ids[Math.max(0, i) % ids.length])),
    );
    // Exact scan of every vector of the agent, in memory (no I/O): the least any exact k-NN can cost.
    const blobs = store.db
      .prepare("SELECT embedding FROM memory_vectors WHERE agent_id = ?")
      .all(agentId) as { embedding: Buffer }[];
    const matrix = new Float32Array(blobs.length * DIMENSIONS);
    blobs.forEach((row, r) => {
      matrix.set(
        new Float32Array(row.embedding.buffer, row.embedding.byteOffset, DIMENSIONS),
        r * DIMENSIONS,
      );
    });
    record(
      "floor: exact brute-force scan in memory (JS)",
      await time(runs, (i) => bruteForce(matrix, blobs.length, Float32Array.from(v(i)), K)),
    );
  }

  await pool.release();
  await store.close();
  await stack.close();
  await runtime.close();
  rmSync(dataDir, { recursive: true, force: true });

  printTable(
    "Ingest (memories/s)",
    Object.entries(ingest).map(([path, entry]) => ({ path, ...entry })),
  );
  printTable(
    `Recall (k=${K}), milliseconds`,
    rows.map(({ memories, path, p50Ms, p99Ms, count }) => ({ memories, path, p50Ms, p99Ms, runs: count })),
  );
  for (const note of notes) console.log(`note: ${note}`);
  writeResults("memory", {
    settings: {
      levels: LEVELS,
      queries: QUERIES,
      k: K,
      batch: BATCH,
      embedderWorkers: workers,
      store: "sqlite",
    },
    ingest,
    recall: rows,
    notes,
  });
}

function bruteForce(matrix: Float32Array, rows: number, query: Float32Array, k: number): number[] {
  const best: { row: number; score: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    const offset = r * DIMENSIONS;
    for (let d = 0; d < DIMENSIONS; d++) dot += matrix[offset + d]! * query[d]!;
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
