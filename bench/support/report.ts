/**
 * Shared benchmark plumbing: latency summaries, a printed table, and JSON results in
 * bench/results/<name>.json (with the machine and time, so figures can be compared).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Agent, request } from "undici";

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    count: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  };
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const cell = (value: string | number | undefined) =>
    typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(3)) : (value ?? "");
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n${title}`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(columns.map((c) => cell(row[c]))));
}

/** Writes bench/results/<name>.json (or into `directory` when given). */
export function writeResults(name: string, results: unknown, directory?: string): string {
  const dir = directory
    ? pathToFileURL(`${path.resolve(directory)}/`)
    : new URL("../results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  const payload = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      node: process.version,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      // The machine is shared: figures taken under load are noisier (1, 5, 15 minute averages).
      loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    },
    results,
  };
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  console.log(`\nwrote ${file.pathname}`);
  return file.pathname;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  latency: LatencySummary;
}

/** Runs `task` from `concurrency` loops for `durationMs` (after a short warm-up) and measures each call. */
export async function runLoad(options: {
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  task: (worker: number, iteration: number) => Promise<boolean>;
  /** Called between the warm-up and the measured run (e.g. to snapshot counters). */
  onMeasureStart?: () => void;
}): Promise<LoadResult> {
  const run = async (durationMs: number, record: boolean) => {
    const latencies: number[] = [];
    let errors = 0;
    const started = performance.now();
    const deadline = started + durationMs;
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, worker) => {
        let iteration = 0;
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const ok = await options.task(worker, iteration++);
          if (record) latencies.push(performance.now() - t0);
          if (!ok) errors++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { latencies, errors, seconds };
  };
  if (options.warmupMs) await run(options.warmupMs, false);
  options.onMeasureStart?.();
  const { latencies, errors, seconds } = await run(options.durationMs, true);
  return {
    requests: latencies.length,
    errors,
    seconds: Math.round(seconds * 100) / 100,
    requestsPerSecond: Math.round(latencies.length / seconds),
    latency: summarize(latencies),
  };
}

/**
 * A lean GraphQL client for load generation (undici `request` on a keep-alive pool), so the
 * client's own cost in this process stays small next to the server's.
 */
export function createGraphQLPoster(url: string, headers: Record<string, string>) {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 512 });
  const post = async (query: string, variables: Record<string, unknown> = {}): Promise<boolean> => {
    const response = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
      dispatcher: agent,
    });
    const body = (await response.body.json()) as { errors?: unknown[] };
    return response.statusCode === 200 && !body.errors;
  };
  return { post, close: () => agent.close() };
}
