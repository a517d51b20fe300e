/**
 * Usage analytics: who used Mnemo how much. Each subgraph reports every root Query and Mutation
 * field it answers (root-field-usage.ts); this process adds the counts up in memory (no Redis call
 * on the request path) and sends them to the shared UsageStore every few seconds, so the admin
 * `usage` query sees every replica. Deltas that fail to flush are kept for the next flush.
 *
 * Agents and principals are counted here, never as Prometheus labels: their number is
 * unbounded, and a label per agent would multiply every time series.
 */
import type { Logger } from "../logger.js";
import { type Bucket, bucketId, bucketOf, type UsageWindow, windowBuckets } from "./buckets.js";
import { addAll, type Counts, countsOf, summarise, type UsageCounts, type UsageEvent } from "./counts.js";
import {
  createInProcessUsageStore,
  type Subject,
  subjectKey,
  type UsageDeltas,
  type UsageStore,
} from "./store.js";

/** Longest agent id or principal kept as a subject (a `sub` claim can be anything). */
const MAX_SUBJECT_LENGTH = 256;
export const DEFAULT_USAGE_FLUSH_MS = 5000;

export interface UsageQuery {
  window: UsageWindow;
  /** The subject of `total` and `series`: everyone (default), one agent or one principal. */
  agentId?: string | null;
  principal?: string | null;
  /** How many agents and principals the rankings list. */
  first: number;
}

export interface UsageReport {
  window: UsageWindow;
  from: string;
  to: string;
  bucketSeconds: number;
  total: UsageCounts;
  byAgent: { agentId: string; usage: UsageCounts }[];
  byPrincipal: { principal: string; usage: UsageCounts }[];
  series: { start: string; usage: UsageCounts }[];
}

export interface UsageRecorderOptions {
  store?: UsageStore;
  flushMs?: number;
  logger?: Logger;
  now?: () => number;
}

export class UsageRecorder {
  private readonly store: UsageStore;
  private readonly now: () => number;
  private pending: UsageDeltas = new Map();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: UsageRecorderOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = options.store ?? createInProcessUsageStore(this.now);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushMs ?? DEFAULT_USAGE_FLUSH_MS);
    this.timer.unref();
  }

  record(event: UsageEvent): void {
    const counts = countsOf(event);
    const subjects: Subject[] = [{ kind: "total" }, { kind: "principal", id: clip(event.principal) }];
    if (event.agentId) subjects.push({ kind: "agent", id: clip(event.agentId) });
    const at = this.now();
    for (const granularity of ["minute", "hour"] as const) {
      const bucket = bucketOf(granularity, at);
      const id = bucketId(bucket);
      const entry = this.pending.get(id) ?? { bucket, subjects: new Map<string, Counts>() };
      this.pending.set(id, entry);
      for (const subject of subjects) {
        const key = subjectKey(subject);
        const existing = entry.subjects.get(key) ?? new Map();
        entry.subjects.set(key, existing);
        addAll(existing, counts);
      }
    }
  }

  /** Sends this process's counts to the shared store (one flush at a time). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const deltas = this.pending;
      this.pending = new Map();
      try {
        await this.store.add(deltas);
      } catch (error) {
        this.giveBack(deltas);
        this.options.logger?.debug(
          { err: String(error) },
          "usage counts not flushed; kept for the next flush",
        );
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Every replica's counts over the window (this one's flushed first). */
  async report(query: UsageQuery): Promise<UsageReport> {
    await this.flush();
    const buckets = windowBuckets(query.window, this.now());
    const subject: Subject = query.agentId
      ? { kind: "agent", id: query.agentId }
      : query.principal
        ? { kind: "principal", id: query.principal }
        : { kind: "total" };
    const [series, agents, principals] = await Promise.all([
      this.store.read(buckets, subject),
      this.top(buckets, "agent", query.first),
      this.top(buckets, "principal", query.first),
    ]);
    const total: Counts = new Map();
    for (const counts of series) addAll(total, counts);
    const last = buckets.at(-1)!;
    const bucketMs = buckets.length > 1 ? buckets[1]!.start - buckets[0]!.start : 60_000;
    return {
      window: query.window,
      from: new Date(buckets[0]!.start).toISOString(),
      to: new Date(last.start + bucketMs).toISOString(),
      bucketSeconds: bucketMs / 1000,
      total: summarise(total),
      byAgent: agents.map(({ id, usage }) => ({ agentId: id, usage })),
      byPrincipal: principals.map(({ id, usage }) => ({ principal: id, usage })),
      series: buckets.map((bucket, i) => ({
        start: new Date(bucket.start).toISOString(),
        usage: summarise(series[i]!),
      })),
    };
  }

  /** The `first` agents or principals with the most operations, with their counts summed. */
  private async top(buckets: Bucket[], dimension: "agent" | "principal", first: number) {
    const ranking = await this.store.ranking(buckets, dimension);
    const ids = [...ranking]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, first)
      .map(([id]) => id);
    return Promise.all(
      ids.map(async (id) => {
        const total: Counts = new Map();
        for (const counts of await this.store.read(buckets, { kind: dimension, id })) addAll(total, counts);
        return { id, usage: summarise(total) };
      }),
    );
  }

  private giveBack(deltas: UsageDeltas): void {
    for (const [id, { bucket, subjects }] of deltas) {
      const entry = this.pending.get(id) ?? { bucket, subjects: new Map<string, Counts>() };
      this.pending.set(id, entry);
      for (const [key, counts] of subjects) {
        const existing = entry.subjects.get(key) ?? new Map();
        entry.subjects.set(key, existing);
        addAll(existing, counts);
      }
    }
  }
}

function clip(value: string): string {
  return value.length > MAX_SUBJECT_LENGTH ? value.slice(0, MAX_SUBJECT_LENGTH) : value;
}
