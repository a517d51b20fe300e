/**
 * `npm run bench:recall -- --data ../shared/data/locomo/locomo-dev.json [--out FILE] [--k 5,10,25]`
 *
 * Retrieval quality on LoCoMo (bench/support/locomo.ts): every conversation is a fresh agent,
 * every turn one memory (the speaker's name in the content, the session's date as `occurredAt`,
 * the image caption as `caption`, the session as `sessionId`), ingested through the real memory
 * service and SQLite store with the offline embedder. Every category 1-4 question is recalled
 * with the question as the query by three systems in the same run:
 *
 *  - `hybrid`: Mnemo's recall as shipped (MemoryService.recall, default configuration);
 *  - `bm25`:   the store's full-text search alone (the same terms recall sends it);
 *  - `vector`: the store's nearest neighbours to the query vector alone.
 *
 * It prints recall@k per category and overall, writes bench/results/recall.json (or into
 * --results-dir) and, with --out, the bare `{questions, systems}` JSON.
 *
 * Options: --cache keeps embeddings in bench/.cache (git-ignored) across runs;
 * --conversations conv-26,conv-30 restricts the run to some samples.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Principal } from "../core/auth/principal.js";
import { loadConfig } from "../core/config.js";
import { createRuntime } from "../core/runtime.js";
import { LIMITS, type MemoryInput } from "../subgraphs/memory/domain/input.js";
import { searchTerms } from "../subgraphs/memory/domain/text.js";
import { createMemoryComponents } from "../subgraphs/memory/index.js";
import { cachingEmbedder } from "./support/embedding-cache.js";
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
import { printTable, writeResults } from "./support/report.js";

const SYSTEMS = ["hybrid", "bm25", "vector"] as const;
type SystemName = (typeof SYSTEMS)[number];

/** Who the benchmark's writes are recorded as in the audit log of its temporary store. */
const BENCH_PRINCIPAL: Principal = { sub: "bench:recall", role: "admin", agents: ["*"] };

const USAGE =
  "usage: npm run bench:recall -- --data ../shared/data/locomo/locomo-dev.json [--out FILE] [--k 5,10,25] " +
  "[--cache] [--conversations conv-26,...] [--results-dir DIR]";

function options() {
  const { values } = parseArgs({
    options: {
      data: { type: "string", default: "../shared/data/locomo/locomo-dev.json" },
      out: { type: "string" },
      k: { type: "string", default: "5,10,25" },
      cache: { type: "boolean", default: false },
      conversations: { type: "string" },
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
  return {
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
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-recall-"));
  const config = loadConfig(
    {
      NODE_ENV: "development",
      LOG_LEVEL: "silent",
      DATA_DIR: dataDir,
      AUTH_JWT_SECRET: "bench-jwt-secret-that-is-at-least-32-bytes",
      INTERNAL_SECRET: "bench-internal-secret-at-least-32-bytes-long",
      EMBEDDINGS_WORKERS: process.env.EMBEDDINGS_WORKERS ?? "1",
    },
    { services: ["gateway", "state", "memory", "cache-admin"] },
  );
  const runtime = await createRuntime(config);
  let cache: ReturnType<typeof cachingEmbedder> | null = null;
  const memory = await createMemoryComponents(runtime, {
    embedder: (configured) => {
      if (!args.cache) return configured;
      cache = cachingEmbedder(
        configured,
        new URL("./.cache/", import.meta.url).pathname,
        `${config.embeddings.provider}:${config.embeddings.model ?? "use-lite"}`,
      );
      return cache;
    },
  });
  const { service, store } = memory;

  const accumulators = Object.fromEntries(
    SYSTEMS.map((system) => [system, new RecallAccumulator(args.ks)]),
  ) as Record<SystemName, RecallAccumulator>;
  const maxK = args.ks.at(-1)!;
  const totalTurns = conversations.reduce((sum, c) => sum + c.turns.length, 0);
  const totalQuestions = conversations.reduce((sum, c) => sum + c.questions.length, 0);
  let ingestSeconds = 0;
  let recallSeconds = 0;
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
        progress(`ingest ${conversation.sampleId}: ${turnsDone}/${totalTurns} turns`);
      }
      ingestSeconds += (performance.now() - ingestStart) / 1000;

      // Recall: the same question through each system; ranks are mapped back to turn ids.
      const recallStart = performance.now();
      const turnOfMemory = new Map<string, string[]>();
      for (const [turn, id] of memoryOfTurn) turnOfMemory.set(id, [...(turnOfMemory.get(id) ?? []), turn]);
      const toTurns = (ids: readonly string[]) => ids.flatMap((id) => turnOfMemory.get(id) ?? []);
      const now = new Date().toISOString();
      for (const question of conversation.questions) {
        const vector = await service.embedQuery(question.question);
        const [hybrid, bm25, nearest] = await Promise.all([
          service.recall({ agentId, query: question.question, k: maxK }),
          store.textSearch(agentId, searchTerms(question.question), maxK, {}, now),
          store.vectorSearch(agentId, vector, maxK, {}, now),
        ]);
        const ranked: Record<SystemName, string[]> = {
          hybrid: toTurns(hybrid.map((hit) => hit.record.id)),
          bm25: toTurns(bm25.map((hit) => hit.id)),
          vector: toTurns(nearest.map((hit) => hit.id)),
        };
        for (const system of SYSTEMS) {
          accumulators[system].add(question.category, ranked[system], question.evidence);
        }
        questionsDone++;
        if (questionsDone % 10 === 0 || questionsDone === totalQuestions) {
          progress(`recall ${conversation.sampleId}: ${questionsDone}/${totalQuestions} questions`);
        }
      }
      recallSeconds += (performance.now() - recallStart) / 1000;
    }
  } finally {
    if (process.stderr.isTTY) process.stderr.write("\n");
    await memory.close();
    (cache as { close(): void } | null)?.close();
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const systems = Object.fromEntries(
    SYSTEMS.map((system) => [system, accumulators[system].result()]),
  ) as Record<SystemName, SystemResult>;
  const questions = accumulators.hybrid.count();
  const seconds = {
    ingest: Math.round(ingestSeconds * 10) / 10,
    recall: Math.round(recallSeconds * 10) / 10,
    total: Math.round(((performance.now() - started) / 1000) * 10) / 10,
  };

  for (const k of args.ks) {
    printTable(
      `recall@${k} (${questions} questions, ${conversations.length} conversations, ${totalTurns} turns)`,
      [...RECALL_CATEGORIES.filter((c) => accumulators.hybrid.count(c) > 0), "overall" as const].map(
        (category) => {
          const label = category === "overall" ? "overall" : `${category} ${CATEGORY_NAMES[category]}`;
          const row: Record<string, string | number> = {
            category: label,
            questions: accumulators.hybrid.count(category === "overall" ? undefined : category),
          };
          for (const system of SYSTEMS) {
            const table =
              category === "overall" ? systems[system].overall : systems[system].byCategory[category]!;
            row[system] = table[`recall@${k}`] ?? 0;
          }
          return row;
        },
      ),
    );
  }
  console.log(
    `\ningest ${seconds.ingest} s (${totalTurns} turns${args.cache ? ", embedding cache on" : ""}), ` +
      `recall ${seconds.recall} s (${questions} questions x ${SYSTEMS.length} systems), total ${seconds.total} s`,
  );

  const result = { questions, systems };
  if (args.out) {
    writeFileSync(path.resolve(args.out), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${path.resolve(args.out)}`);
  }
  writeResults(
    "recall",
    {
      dataset: path.basename(args.data),
      conversations: conversations.map((conversation) => conversation.sampleId),
      turns: totalTurns,
      ks: args.ks,
      embedder: config.embeddings.provider,
      embeddingCache: args.cache,
      seconds,
      ...result,
    },
    args.resultsDir,
  );
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
