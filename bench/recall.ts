/**
 * `npm run bench:recall -- --data ../shared/data/locomo/locomo-dev.json [--out FILE] [--k 5,10,25]`
 *
 * Retrieval quality on LoCoMo (bench/support/locomo.ts): every conversation is a fresh agent,
 * every turn one memory (the speaker's name in the content, the session's date as `occurredAt`,
 * the image caption as `caption`, the session as `sessionId`), ingested through the real memory
 * service and SQLite store, once per embedder (`--embedders`, default both: the Universal
 * Sentence Encoder lite and the ONNX model of EMBEDDINGS_MODEL_PATH / `npm run models`). Every
 * category 1-4 question is recalled with the question as the query by these systems:
 *
 *  - `hybrid`:    Mnemo's recall as shipped (default configuration and weights);
 *  - `hybrid-cv`: the same candidates fused with weights chosen by leave-one-conversation-out
 *                 cross-validation (bench/support/fusion.ts): each conversation is ranked with the
 *                 weights that did best on the other conversations, never on itself;
 *  - `bm25`:      the store's full-text search alone (the same terms recall sends it);
 *  - `vector`:    the store's nearest neighbours to the query vector alone.
 *
 * It prints recall@k per category and overall, writes bench/results/recall.json (or into
 * --results-dir) and, with --out, the bare `{questions, systems}` JSON of the first embedder.
 *
 * Options: --cache keeps embeddings in bench/.cache (git-ignored) across runs;
 * --conversations conv-26,conv-30 restricts the run to some samples.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Principal } from "../core/auth/principal.js";
import { loadConfig } from "../core/config.js";
import { createRuntime } from "../core/runtime.js";
import { LIMITS, type MemoryInput } from "../subgraphs/memory/domain/input.js";
import { DEFAULT_MEMORY_CONFIG, SIGNALS } from "../subgraphs/memory/domain/model.js";
import { rank, scoreCandidates } from "../subgraphs/memory/domain/scoring.js";
import { searchTerms } from "../subgraphs/memory/domain/text.js";
import { createMemoryComponents } from "../subgraphs/memory/index.js";
import { testConfig } from "../test/support/stack.js";
import { cachingEmbedder } from "./support/embedding-cache.js";
import { crossValidate, type QuestionCandidates, type Weights, weightGrid } from "./support/fusion.js";
import {
  CATEGORY_NAMES,
  type Conversation,
  DatasetError,
  loadLocomo,
  RECALL_CATEGORIES,
  RecallAccumulator,
  type SystemResult,
  type Turn,
} from "./support/locomo.js";
import { startBenchNeo4j } from "./support/neo4j.js";
import { printTable, writeResults } from "./support/report.js";

const SYSTEMS = ["hybrid", "hybrid-cv", "bm25", "vector"] as const;
type SystemName = (typeof SYSTEMS)[number];

/** The embedders a run compares: `local` (USE lite) and `onnx` (the model directory in use). */
const EMBEDDERS = ["onnx", "local"] as const;
type EmbedderName = (typeof EMBEDDERS)[number];

/** Who the benchmark's writes are recorded as in the audit log of its temporary store. */
const BENCH_PRINCIPAL: Principal = { sub: "bench:recall", role: "admin", agents: ["*"] };

const USAGE =
  "usage: npm run bench:recall -- --data ../shared/data/locomo/locomo-dev.json [--out FILE] [--k 5,10,25] " +
  "[--cache] [--conversations conv-26,...] [--embedders onnx,local] [--stores sqlite,neo4j] [--results-dir DIR]";

function options() {
  const { values } = parseArgs({
    options: {
      data: { type: "string", default: "../shared/data/locomo/locomo-dev.json" },
      out: { type: "string" },
      k: { type: "string", default: "5,10,25" },
      cache: { type: "boolean", default: false },
      conversations: { type: "string" },
      embedders: { type: "string" },
      stores: { type: "string", default: "sqlite" },
      "reuse-candidates": { type: "boolean", default: false },
      "results-dir": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const ks = values.k.split(",").map((value) => Number(value.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1 || k > LIMITS.maxK)) {
    throw new DatasetError(
      `--k takes whole numbers from 1 to ${LIMITS.maxK}, comma-separated (got "${values.k}")`,
    );
  }
  const modelInstalled = loadConfig(process.env).embeddings.provider === "onnx";
  const embedders = (values.embedders ?? (modelInstalled ? "onnx,local" : "local"))
    .split(",")
    .map((name) => name.trim());
  for (const name of embedders) {
    if (!(EMBEDDERS as readonly string[]).includes(name)) {
      throw new DatasetError(`--embedders takes ${EMBEDDERS.join(", ")} (got "${name}")`);
    }
  }
  if (embedders.includes("onnx") && !modelInstalled) {
    throw new DatasetError(
      "--embedders onnx needs a model: run `npm run models` (or set EMBEDDINGS_MODEL_PATH)",
    );
  }
  const stores = values.stores.split(",").map((name) => name.trim());
  for (const name of stores) {
    if (!(STORES as readonly string[]).includes(name)) {
      throw new DatasetError(`--stores takes ${STORES.join(", ")} (got "${name}")`);
    }
  }
  return {
    embedders: embedders as EmbedderName[],
    stores: [...new Set(stores)] as StoreName[],
    reuseCandidates: values["reuse-candidates"],
    data: values.data,
    out: values.out,
    ks: [...new Set(ks)].sort((a, b) => a - b),
    cache: values.cache,
    conversations: values.conversations?.split(",").map((id) => id.trim()),
    resultsDir: values["results-dir"],
  };
}

/** One turn as one memory, as the issue specifies. */
function turnToMemory(turn: Turn): MemoryInput {
  return {
    content: `${turn.speaker}: ${turn.text}`,
    occurredAt: turn.occurredAt,
    sessionId: turn.session,
    ...(turn.caption
      ? {
          modality: "IMAGE" as const,
          caption: turn.caption,
          // A few image URLs in the dataset are longer than the API allows; the URL is not searched.
          mediaUri: turn.imageUrl && turn.imageUrl.length <= LIMITS.mediaUriLength ? turn.imageUrl : null,
        }
      : {}),
  };
}

const progress = (line: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else process.stderr.write(`${line}\n`);
};

/** The stores a run can ingest into; Neo4j is the embedded one (bench/support/neo4j.ts) unless NEO4J_URI is set. */
const STORES = ["sqlite", "neo4j"] as const;
type StoreName = (typeof STORES)[number];

/** What one embedder's run on one store produced: the ranked turns per system, and candidates for fusion. */
interface EmbedderRun {
  name: EmbedderName;
  store: StoreName;
  modelId: string;
  bm25: RecallAccumulator;
  vector: RecallAccumulator;
  shipped: RecallAccumulator;
  questions: QuestionCandidates[];
  /** Per question, the turns each fixed system returned (kept to re-score saved runs). */
  ranked: { bm25: string[]; vector: string[]; shipped: string[] }[];
  shippedWeights: Weights;
  seconds: { ingest: number; recall: number };
}

async function runEmbedder(
  name: EmbedderName,
  conversations: readonly Conversation[],
  args: ReturnType<typeof options>,
  storeName: StoreName = "sqlite",
  storeEnv: Record<string, string> = {},
): Promise<EmbedderRun> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-recall-"));
  const config = testConfig({
    dataDir,
    env: {
      EMBEDDINGS_WORKERS: process.env.EMBEDDINGS_WORKERS ?? "1",
      EMBEDDINGS_PROVIDER: name,
      ...(process.env.EMBEDDINGS_CONTEXT_WEIGHT
        ? { EMBEDDINGS_CONTEXT_WEIGHT: process.env.EMBEDDINGS_CONTEXT_WEIGHT }
        : {}),
      ...(name === "onnx" && process.env.EMBEDDINGS_MODEL_PATH
        ? { EMBEDDINGS_MODEL_PATH: process.env.EMBEDDINGS_MODEL_PATH }
        : {}),
      ...storeEnv,
    },
  });
  const runtime = await createRuntime(config);
  let cache: ReturnType<typeof cachingEmbedder> | null = null;
  const memory = await createMemoryComponents(runtime, {
    embedder: (configured) => {
      if (!args.cache) return configured;
      cache = cachingEmbedder(configured, new URL("./.cache/", import.meta.url).pathname);
      return cache;
    },
  });
  const { service, store } = memory;
  const maxK = args.ks.at(-1)!;
  const run: EmbedderRun = {
    name,
    store: storeName,
    modelId: "",
    bm25: new RecallAccumulator(args.ks),
    vector: new RecallAccumulator(args.ks),
    shipped: new RecallAccumulator(args.ks),
    questions: [],
    ranked: [],
    shippedWeights: { ...DEFAULT_MEMORY_CONFIG.weights },
    seconds: { ingest: 0, recall: 0 },
  };
  const totalTurns = conversations.reduce((sum, c) => sum + c.turns.length, 0);
  const totalQuestions = conversations.reduce((sum, c) => sum + c.questions.length, 0);
  let turnsDone = 0;
  let questionsDone = 0;
  try {
    for (const conversation of conversations) {
      const agentId = `locomo-${conversation.sampleId}`.replace(/[^A-Za-z0-9._:-]/g, "-");
      // Ingest: every turn one memory, in order, in batches of the API's maximum.
      const ingestStart = performance.now();
      const memoryOfTurn = new Map<string, string>();
      for (let i = 0; i < conversation.turns.length; i += LIMITS.batch) {
        const turns = conversation.turns.slice(i, i + LIMITS.batch);
        const results = await service.remember(BENCH_PRINCIPAL, agentId, turns.map(turnToMemory));
        results.forEach((result, j) => {
          memoryOfTurn.set(turns[j]!.diaId, result.memory.id);
        });
        turnsDone += turns.length;
        progress(`${name}: ingest ${conversation.sampleId}: ${turnsDone}/${totalTurns} turns`);
      }
      run.seconds.ingest += (performance.now() - ingestStart) / 1000;

      // Recall: the same question through each system; ranks are mapped back to turn ids.
      const recallStart = performance.now();
      const turnOfMemory = new Map<string, string[]>();
      for (const [turn, id] of memoryOfTurn) turnOfMemory.set(id, [...(turnOfMemory.get(id) ?? []), turn]);
      const toTurns = (ids: readonly string[]) => ids.flatMap((id) => turnOfMemory.get(id) ?? []);
      const now = new Date().toISOString();
      for (const question of conversation.questions) {
        const vector = await service.embedQuery(question.question);
        const [gathered, bm25, nearest] = await Promise.all([
          service.recallCandidates({ agentId, query: question.question, k: maxK }),
          store.textSearch(agentId, searchTerms(question.question), maxK, {}, now),
          store.vectorSearch(agentId, vector, maxK, {}, now),
        ]);
        run.shippedWeights = gathered.weights as Weights;
        const candidates = scoreCandidates(gathered.candidates, gathered.weights, gathered.context);
        const shipped = rank([...candidates]).slice(0, maxK);
        const ranked = {
          shipped: toTurns(shipped.map((hit) => hit.record.id)),
          bm25: toTurns(bm25.map((hit) => hit.id)),
          vector: toTurns(nearest.map((hit) => hit.id)),
        };
        run.ranked.push(ranked);
        run.shipped.add(question.category, ranked.shipped, question.evidence);
        run.bm25.add(question.category, ranked.bm25, question.evidence);
        run.vector.add(question.category, ranked.vector, question.evidence);
        run.questions.push({
          conversation: conversation.sampleId,
          category: question.category,
          evidence: question.evidence,
          // In rank()'s tie-break order, so a re-weighted ranking breaks ties the same way.
          candidates: rank(candidates.map((candidate) => ({ ...candidate, score: 0 }))).map((candidate) => ({
            turns: turnOfMemory.get(candidate.record.id) ?? [],
            components: SIGNALS.map((signal) => candidate.components[signal]),
          })),
        });
        questionsDone++;
        if (questionsDone % 10 === 0 || questionsDone === totalQuestions) {
          progress(`${name}: recall ${conversation.sampleId}: ${questionsDone}/${totalQuestions} questions`);
        }
      }
      run.seconds.recall += (performance.now() - recallStart) / 1000;
    }
    run.modelId = service.embedderModelId;
  } finally {
    if (process.stderr.isTTY) process.stderr.write("\n");
    await memory.close();
    (cache as { close(): void } | null)?.close();
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return run;
}

type SavedRun = Omit<EmbedderRun, "bm25" | "vector" | "shipped"> & {
  ranked: { bm25: string[]; vector: string[]; shipped: string[] }[];
};

/** The per-question rankings are kept next to the candidates; accumulators are rebuilt from them. */
function saveRun(run: EmbedderRun): SavedRun {
  const { bm25: _b, vector: _v, shipped: _s, ...rest } = run;
  return { ...rest, ranked: run.ranked };
}

function reviveRun(saved: SavedRun, ks: readonly number[]): EmbedderRun {
  const run: EmbedderRun = {
    ...saved,
    bm25: new RecallAccumulator(ks),
    vector: new RecallAccumulator(ks),
    shipped: new RecallAccumulator(ks),
  };
  saved.questions.forEach((question, i) => {
    const ranked = saved.ranked[i]!;
    run.bm25.add(question.category, ranked.bm25, question.evidence);
    run.vector.add(question.category, ranked.vector, question.evidence);
    run.shipped.add(question.category, ranked.shipped, question.evidence);
  });
  return run;
}

async function main() {
  const args = options();
  let conversations: Conversation[] = loadLocomo(args.data);
  if (args.conversations) {
    const wanted = new Set(args.conversations);
    conversations = conversations.filter((conversation) => wanted.has(conversation.sampleId));
    if (conversations.length === 0)
      throw new DatasetError(`--conversations matched no sample_id in ${args.data}`);
  }
  const started = performance.now();
  const runs: EmbedderRun[] = [];
  const neo4j = args.stores.includes("neo4j")
    ? await startBenchNeo4j({ heap: "1g", pageCache: "512m" })
    : null;
  try {
    for (const store of args.stores) {
      for (const name of args.embedders) {
        // --cache also keeps each embedder's gathered candidates, so fusion can be re-examined
        // (--reuse-candidates) without ingesting again.
        const saved = new URL(`./.cache/candidates-${name}-${store}.json`, import.meta.url);
        if (args.reuseCandidates && existsSync(saved)) {
          runs.push({ ...reviveRun(JSON.parse(readFileSync(saved, "utf8")) as SavedRun, args.ks), store });
          continue;
        }
        // Each run gets an empty database: the store records one embedding model.
        if (store === "neo4j") await neo4j!.empty();
        const run = await runEmbedder(name, conversations, args, store, store === "neo4j" ? neo4j!.env : {});
        if (args.cache) writeFileSync(saved, JSON.stringify(saveRun(run)));
        runs.push(run);
      }
    }
  } finally {
    await neo4j?.stop();
  }

  const fusionStart = performance.now();
  const results = runs.map((run) => {
    const grid = weightGrid(run.shippedWeights);
    const cv = crossValidate(run.questions, grid, args.ks);
    const systems: Record<SystemName, SystemResult> = {
      hybrid: run.shipped.result(),
      "hybrid-cv": cv.heldOut,
      bm25: run.bm25.result(),
      vector: run.vector.result(),
    };
    return { run, cv, systems };
  });
  const fusionSeconds = (performance.now() - fusionStart) / 1000;
  const totalTurns = conversations.reduce((sum, c) => sum + c.turns.length, 0);
  const questions = runs[0]!.shipped.count();
  const label = (run: EmbedderRun) =>
    `${run.name === "local" ? "use-lite" : "onnx"}${args.stores.length > 1 ? ` ${run.store}` : ""}`;

  for (const k of args.ks) {
    printTable(
      `recall@${k} (${questions} questions, ${conversations.length} conversations, ${totalTurns} turns)`,
      [...RECALL_CATEGORIES.filter((c) => runs[0]!.shipped.count(c) > 0), "overall" as const].map(
        (category) => {
          const row: Record<string, string | number> = {
            category: category === "overall" ? "overall" : `${category} ${CATEGORY_NAMES[category]}`,
            questions: runs[0]!.shipped.count(category === "overall" ? undefined : category),
          };
          const value = (result: SystemResult) =>
            (category === "overall" ? result.overall : result.byCategory[category]!)[`recall@${k}`] ?? 0;
          row.bm25 = value(results[0]!.systems.bm25);
          for (const { run, systems } of results) {
            for (const system of ["vector", "hybrid", "hybrid-cv"] as const) {
              row[`${system} ${label(run)}`] = value(systems[system]);
            }
          }
          return row;
        },
      ),
    );
  }
  for (const { run, cv } of results) {
    const show = (w: Weights) =>
      `semantic ${w.semantic}, lexical ${w.lexical}, graph ${w.graph}, temporal ${w.temporal}, session ${w.session}`;
    console.log(`\n${label(run)} (${run.modelId}): shipped weights ${show(run.shippedWeights)}`);
    for (const fold of cv.folds) console.log(`  fold without ${fold.heldOut}: ${show(fold.weights)}`);
    console.log(
      `  fitted on all: ${show(cv.fitted.weights)} (in-sample recall@${args.ks.join("/")} ` +
        `${args.ks.map((k) => cv.fitted.result.overall[`recall@${k}`]).join(" / ")})`,
    );
    console.log(
      `  ingest ${run.seconds.ingest.toFixed(1)} s (${totalTurns} turns${args.cache ? ", embedding cache on" : ""}), ` +
        `recall ${run.seconds.recall.toFixed(1)} s (${questions} questions)`,
    );
  }
  const agreement = storeAgreement(results, args.ks);
  if (agreement.length > 0) {
    printTable(
      "Same answers on every store: largest difference in recall@k, over every k and category",
      agreement.map((row) => ({
        embedder: row.embedder,
        ...Object.fromEntries(Object.entries(row.maxDifference).map(([system, d]) => [system, d.toFixed(4)])),
      })),
    );
  }
  const total = Math.round(((performance.now() - started) / 1000) * 10) / 10;
  console.log(`\ncross-validation ${fusionSeconds.toFixed(1)} s, total ${total} s`);

  const first = results[0]!;
  if (args.out) {
    const { "hybrid-cv": _cv, ...shape } = first.systems;
    writeFileSync(path.resolve(args.out), `${JSON.stringify({ questions, systems: shape }, null, 2)}\n`);
    console.log(`wrote ${path.resolve(args.out)}`);
  }
  writeResults(
    "recall",
    {
      dataset: path.basename(args.data),
      conversations: conversations.map((conversation) => conversation.sampleId),
      turns: totalTurns,
      ks: args.ks,
      embeddingCache: args.cache,
      questions,
      systems: first.systems,
      embedders: Object.fromEntries(
        results.map(({ run, cv, systems }) => [
          label(run),
          {
            model: run.modelId,
            seconds: {
              ingest: Math.round(run.seconds.ingest * 10) / 10,
              recall: Math.round(run.seconds.recall * 10) / 10,
            },
            shippedWeights: run.shippedWeights,
            crossValidation: { folds: cv.folds, fitted: cv.fitted },
            systems,
          },
        ]),
      ),
      stores: args.stores,
      storeAgreement: agreement,
      seconds: { fusion: Math.round(fusionSeconds * 10) / 10, total },
    },
    args.resultsDir,
  );
}

/**
 * For each embedder run on more than one store: the largest difference between the stores'
 * recall, per system, over every k and category (issue: within 0.01 at every k).
 */
function storeAgreement(
  results: { run: EmbedderRun; systems: Record<SystemName, SystemResult> }[],
  ks: readonly number[],
): { embedder: string; maxDifference: Record<string, number> }[] {
  const rows: { embedder: string; maxDifference: Record<string, number> }[] = [];
  for (const name of new Set(results.map(({ run }) => run.name))) {
    const same = results.filter(({ run }) => run.name === name);
    if (same.length < 2) continue;
    const maxDifference: Record<string, number> = {};
    for (const system of ["bm25", "vector", "hybrid"] as const) {
      let max = 0;
      for (const a of same) {
        for (const b of same) {
          const tables = (result: SystemResult) => [result.overall, ...Object.values(result.byCategory)];
          const [ta, tb] = [tables(a.systems[system]), tables(b.systems[system])];
          ta.forEach((table, i) => {
            for (const k of ks) {
              max = Math.max(max, Math.abs((table[`recall@${k}`] ?? 0) - (tb[i]![`recall@${k}`] ?? 0)));
            }
          });
        }
      }
      maxDifference[system] = max;
    }
    rows.push({ embedder: name === "local" ? "use-lite" : "onnx", maxDifference });
  }
  return rows;
}

main().catch((error: unknown) => {
  if (
    error instanceof DatasetError ||
    (error as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
  ) {
    console.error(`bench:recall: ${(error as Error).message}\n${USAGE}`);
  } else console.error(error);
  process.exit(1);
});
