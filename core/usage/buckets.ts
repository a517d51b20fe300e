/**
 * Time buckets of usage analytics. Every event is counted twice: in its minute (kept three
 * hours, for the short windows) and in its hour (kept 32 days). A window is read from the
 * coarsest buckets that still resolve it, so no query reads more than 720 buckets.
 */
export type Granularity = "minute" | "hour";

export const GRANULARITIES: Record<Granularity, { ms: number; retentionMs: number; tag: string }> = {
  minute: { ms: 60_000, retentionMs: 3 * 3_600_000, tag: "m" },
  hour: { ms: 3_600_000, retentionMs: 32 * 24 * 3_600_000, tag: "h" },
};

export const USAGE_WINDOWS = {
  LAST_15_MINUTES: { granularity: "minute", buckets: 15 },
  LAST_HOUR: { granularity: "minute", buckets: 60 },
  LAST_DAY: { granularity: "hour", buckets: 24 },
  LAST_WEEK: { granularity: "hour", buckets: 24 * 7 },
  LAST_30_DAYS: { granularity: "hour", buckets: 24 * 30 },
} as const satisfies Record<string, { granularity: Granularity; buckets: number }>;
export type UsageWindow = keyof typeof USAGE_WINDOWS;

export function isUsageWindow(value: unknown): value is UsageWindow {
  return typeof value === "string" && Object.hasOwn(USAGE_WINDOWS, value);
}

export interface Bucket {
  granularity: Granularity;
  /** Epoch ms of the bucket's start. */
  start: number;
}

export function bucketOf(granularity: Granularity, at: number): Bucket {
  const { ms } = GRANULARITIES[granularity];
  return { granularity, start: Math.floor(at / ms) * ms };
}

/** The window's buckets, oldest first, the current (partial) one last. */
export function windowBuckets(window: UsageWindow, now: number): Bucket[] {
  const { granularity, buckets } = USAGE_WINDOWS[window];
  const { ms } = GRANULARITIES[granularity];
  const last = bucketOf(granularity, now).start;
  return Array.from({ length: buckets }, (_, i) => ({ granularity, start: last - (buckets - 1 - i) * ms }));
}

export function bucketId(bucket: Bucket): string {
  return `${GRANULARITIES[bucket.granularity].tag}:${bucket.start}`;
}

export function expiresAt(bucket: Bucket): number {
  const { ms, retentionMs } = GRANULARITIES[bucket.granularity];
  return bucket.start + ms + retentionMs;
}
