/**
 * `npm run bench:dedup`: does a write ever merge away a fact? The statement-pair corpus
 * (test/fixtures/statement-pairs.ts: 240 pairs that differ in one fact, 102 that say the same
 * thing) is written pair by pair through the real memory service (offline embedder, entity
 * extraction, the write algorithm, the store) on SQLite and on Neo4j, with the default settings.
 * Beside them, the rule of v0.1 (merge at cosine >= 0.97 with the same digits and negations),
 * computed on the same embeddings, shows what it lost.
 *
 * Per set and category: how many pairs were merged. Merge precision = merged paraphrase pairs /
 * all merged pairs; recall = merged paraphrase pairs / paraphrase pairs; lost facts = merged
 * pairs that differ in a fact. Results in bench/results/dedup.json.
 *
 * Options: --stores sqlite,neo4j (default both)
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRuntime } from "../core/runtime.js";
import { normalizeText } from "../subgraphs/memory/domain/text.js";
import { createMemoryComponents } from "../subgraphs/memory/index.js";
import { mayMerge, mustStayApart, type StatementPair } from "../test/fixtures/statement-pairs.js";
import { testConfig } from "../test/support/stack.js";
import { startBenchNeo4j } from "./support/neo4j.js";
import { printTable, writeResults } from "./support/report.js";

const BENCH_PRINCIPAL = { sub: "bench:dedup", role: "admin" as const, agents: ["*"] };
const STORE_NAMES = ["sqlite", "neo4j"] as const;
type StoreName = (typeof STORE_NAMES)[number];

interface Tally {
  pairs: number;
  merged: number;
}

interface SystemResult {
  apart: Record<string, Tally>;
  same: Record<string, Tally>;
  lostFacts: number;
  mergePrecision: number | null;
  mergeRecall: number;
}

function parseStores(): StoreName[] {
  const i = process.argv.indexOf("--stores");
  if (i < 0) return [...STORE_NAMES];
  const wanted = (process.argv[i + 1] ?? "").split(",");
  for (const name of wanted) {
    if (!(STORE_NAMES as readonly string[]).includes(name)) {
      console.error(`--stores takes a comma list of ${STORE_NAMES.join(", ")} (got "${name}")`);
      process.exit(2);
    }
  }
  return wanted as StoreName[];
}

function tally(pairs: readonly StatementPair[], merged: readonly boolean[]): Record<string, Tally> {
  const byCategory: Record<string, Tally> = {};
  pairs.forEach((pair, i) => {
    byCategory[pair.category] ??= { pairs: 0, merged: 0 };
    const entry = byCategory[pair.category]!;
    entry.pairs++;
    if (merged[i]) entry.merged++;
  });
  return byCategory;
}

function summarise(apart: Record<string, Tally>, same: Record<string, Tally>): SystemResult {
  const sum = (table: Record<string, Tally>, key: keyof Tally) =>
    Object.values(table).reduce((total, entry) => total + entry[key], 0);
  const lostFacts = sum(apart, "merged");
  const mergedSame = sum(same, "merged");
  return {
    apart,
    same,
    lostFacts,
    mergePrecision: mergedSame + lostFacts === 0 ? null : mergedSame / (mergedSame + lostFacts),
    mergeRecall: mergedSame / sum(same, "pairs"),
  };
}

/** Writes each pair for its own agent through the service; true where the second write merged. */
async function runStore(
  store: StoreName,
  apart: StatementPair[],
  same: StatementPair[],
  neo4jEnv: Record<string, string>,
) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `mnemo-bench-dedup-${store}-`));
  const config = testConfig({ dataDir, env: store === "neo4j" ? neo4jEnv : {} });
  const runtime = await createRuntime(config);
  const memory = await createMemoryComponents(runtime);
  const run = async (pairs: StatementPair[], prefix: string) => {
    const merged: boolean[] = [];
    for (const [i, pair] of pairs.entries()) {
      const agentId = `${prefix}-${i}`;
      await memory.service.remember(BENCH_PRINCIPAL, agentId, [{ content: pair.first }]);
      const [second] = await memory.service.remember(BENCH_PRINCIPAL, agentId, [{ content: pair.second }]);
      merged.push(second!.outcome === "MERGED");
    }
    return merged;
  };
  const started = performance.now();
  try {
    const result = summarise(tally(apart, await run(apart, "apart")), tally(same, await run(same, "same")));
    return { result, seconds: (performance.now() - started) / 1000 };
  } finally {
    await memory.close();
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** v0.1's rule, for comparison only: cosine >= 0.97 and the same digits and negations, or the same text. */
function previousRule(a: string, b: string, cosine: number): boolean {
  const salient = (text: string) => {
    const words = normalizeText(text.replace(/n['’]t\b/gi, " nt")).split(" ");
    const negations = new Set([
      "not",
      "no",
      "never",
      "nor",
      "cannot",
      "without",
      "nt",
      "none",
      "nobody",
      "nothing",
    ]);
    return `${words.filter((w) => /\p{N}/u.test(w)).sort()}|${words.filter((w) => negations.has(w)).sort()}`;
  };
  return normalizeText(a) === normalizeText(b) || (cosine >= 0.97 && salient(a) === salient(b));
}

async function main(): Promise<void> {
  const stores = parseStores();
  const apart = mustStayApart();
  const same = mayMerge();
  const neo4j = stores.includes("neo4j") ? await startBenchNeo4j({ heap: "1g", pageCache: "256m" }) : null;
  const systems: Record<string, SystemResult & { seconds?: number }> = {};
  try {
    let embedWith: { embedQuery(text: string): Promise<Float32Array> } | null = null;
    for (const store of stores) {
      console.log(`writing ${apart.length + same.length} pairs on ${store}...`);
      const { result, seconds } = await runStore(store, apart, same, neo4j?.env ?? {});
      systems[store] = { ...result, seconds: Math.round(seconds * 10) / 10 };
    }
    // The previous rule on the cosines of the embedder it shipped with (USE lite): with
    // EMBEDDINGS_PROVIDER left to `auto` the figures would change with whether `npm run models` ran.
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-dedup-embed-"));
    const runtime = await createRuntime(testConfig({ dataDir, env: { EMBEDDINGS_PROVIDER: "local" } }));
    const memory = await createMemoryComponents(runtime);
    embedWith = memory.service;
    const decide = async (pairs: StatementPair[]) => {
      const merged: boolean[] = [];
      for (const pair of pairs) {
        const [a, b] = [await embedWith!.embedQuery(pair.first), await embedWith!.embedQuery(pair.second)];
        const cosine = a.reduce((sum, value, i) => sum + value * b[i]!, 0);
        merged.push(previousRule(pair.first, pair.second, cosine));
      }
      return merged;
    };
    systems["v0.1 rule (cosine >= 0.97)"] = summarise(
      tally(apart, await decide(apart)),
      tally(same, await decide(same)),
    );
    await memory.close();
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  } finally {
    await neo4j?.stop();
  }

  const names = Object.keys(systems);
  printTable(
    "Merge decisions on the statement-pair corpus (default settings)",
    names.map((name) => {
      const s = systems[name]!;
      return {
        system: name,
        "lost facts (of 240)": s.lostFacts,
        "merged paraphrases (of 102)": Math.round(s.mergeRecall * 102),
        "merge precision": s.mergePrecision === null ? "-" : s.mergePrecision.toFixed(3),
        "merge recall": s.mergeRecall.toFixed(3),
      };
    }),
  );
  const categoryRows = (set: "apart" | "same") =>
    Object.keys(systems[names[0]!]![set]).map((category) => ({
      category,
      pairs: systems[names[0]!]![set][category]!.pairs,
      ...Object.fromEntries(names.map((name) => [`${name} merged`, systems[name]![set][category]!.merged])),
    }));
  printTable("Pairs that differ in one fact: how many were merged (must be 0)", categoryRows("apart"));
  printTable("Pairs that say the same thing: how many were merged", categoryRows("same"));
  writeResults("dedup", {
    pairs: { apart: apart.length, same: same.length },
    neo4jStartMs: neo4j?.startMs,
    systems,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
