/**
 * What usage analytics counts, per subject (everyone, one agent, one principal) and per time
 * bucket. Counts are flat `field -> number` maps so a Redis hash (HINCRBY) and an in-process map
 * hold them the same way and replicas add up by plain addition.
 */

/** Recall latency histogram bounds, ms; the last bucket is everything above. */
export const RECALL_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

/** Field names in a bucket's hash. */
export const Field = {
  operations: "ops",
  errors: "errors",
  memoriesStored: "memories",
  stateVersionsStored: "stateVersions",
  bytesStored: "bytes",
  recalls: "recalls",
  recallMsSum: "recallMs",
  operationsOf: (kind: string) => `op:${kind}`,
  errorsOf: (kind: string) => `err:${kind}`,
  /** Recalls at or under RECALL_BUCKETS_MS[i] ms (not cumulative: one bucket each); i = length for the rest. */
  recallBucket: (index: number) => `recall:${index}`,
} as const;

export type Counts = Map<string, number>;

export function addTo(target: Counts, field: string, amount: number): void {
  if (amount === 0 || !Number.isFinite(amount)) return;
  target.set(field, (target.get(field) ?? 0) + amount);
}

export function addAll(target: Counts, source: Iterable<[string, number]>): void {
  for (const [field, amount] of source) addTo(target, field, amount);
}

export function recallBucketIndex(ms: number): number {
  const index = RECALL_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? RECALL_BUCKETS_MS.length : index;
}

/** One root Query or Mutation field answered by a subgraph. */
export interface UsageEvent {
  /** The root field, e.g. putState, recall. */
  kind: string;
  agentId: string | null;
  principal: string;
  ok: boolean;
  durationMs: number;
  /** What the operation stored (see UsageOfResult). */
  stored?: StoredUsage;
}

export interface StoredUsage {
  memories?: number;
  stateVersions?: number;
  bytes?: number;
}

/** The counts one event adds to each of its subjects. */
export function countsOf(event: UsageEvent): Counts {
  const counts: Counts = new Map();
  addTo(counts, Field.operations, 1);
  addTo(counts, Field.operationsOf(event.kind), 1);
  if (!event.ok) {
    addTo(counts, Field.errors, 1);
    addTo(counts, Field.errorsOf(event.kind), 1);
  }
  if (event.stored) {
    addTo(counts, Field.memoriesStored, event.stored.memories ?? 0);
    addTo(counts, Field.stateVersionsStored, event.stored.stateVersions ?? 0);
    addTo(counts, Field.bytesStored, event.stored.bytes ?? 0);
  }
  if (event.kind === "recall" && event.ok) {
    addTo(counts, Field.recalls, 1);
    addTo(counts, Field.recallMsSum, event.durationMs);
    addTo(counts, Field.recallBucket(recallBucketIndex(event.durationMs)), 1);
  }
  return counts;
}

/** The public shape of a subject's counts (the GraphQL UsageCounts type). */
export interface UsageCounts {
  operations: number;
  errors: number;
  byKind: { kind: string; operations: number; errors: number }[];
  memoriesStored: number;
  stateVersionsStored: number;
  bytesStored: number;
  recalls: number;
  recallLatency: { meanMs: number; p50Ms: number; p99Ms: number } | null;
}

export function summarise(counts: Counts): UsageCounts {
  const get = (field: string) => counts.get(field) ?? 0;
  const kinds = new Set<string>();
  for (const field of counts.keys()) {
    if (field.startsWith("op:")) kinds.add(field.slice(3));
  }
  const byKind = [...kinds]
    .map((kind) => ({
      kind,
      operations: get(Field.operationsOf(kind)),
      errors: get(Field.errorsOf(kind)),
    }))
    .sort((a, b) => b.operations - a.operations || a.kind.localeCompare(b.kind));
  const recalls = get(Field.recalls);
  const histogram = Array.from({ length: RECALL_BUCKETS_MS.length + 1 }, (_, i) =>
    get(Field.recallBucket(i)),
  );
  return {
    operations: get(Field.operations),
    errors: get(Field.errors),
    byKind,
    memoriesStored: get(Field.memoriesStored),
    stateVersionsStored: get(Field.stateVersionsStored),
    bytesStored: get(Field.bytesStored),
    recalls,
    recallLatency:
      recalls > 0
        ? {
            meanMs: get(Field.recallMsSum) / recalls,
            p50Ms: quantile(histogram, 0.5),
            p99Ms: quantile(histogram, 0.99),
          }
        : null,
  };
}

/**
 * A quantile estimated from bucket counts, interpolating linearly inside the bucket it falls in
 * (as Prometheus' histogram_quantile does); the open last bucket reports its lower bound.
 */
export function quantile(histogram: number[], q: number): number {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const inBucket = histogram[i]!;
    if (inBucket > 0 && seen + inBucket >= rank) {
      const lower = i === 0 ? 0 : RECALL_BUCKETS_MS[i - 1]!;
      if (i >= RECALL_BUCKETS_MS.length) return lower;
      const upper = RECALL_BUCKETS_MS[i]!;
      return lower + ((upper - lower) * (rank - seen)) / inBucket;
    }
    seen += inBucket;
  }
  return RECALL_BUCKETS_MS.at(-1)!;
}
