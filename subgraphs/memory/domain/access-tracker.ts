/**
 * Records which memories recalls returned (`accessCount`, `lastAccessedAt`) without making the
 * recall wait for a write: hits are summed in memory and written in one batch shortly after.
 * Reads of the statistics call `settle()` first, so a client sees the accesses of its own
 * earlier recalls.
 */
import type { Logger } from "../../../core/logger.js";
import type { ScoreComponents } from "./model.js";

/** Long enough to coalesce a burst of recalls into one transaction, short enough to look immediate. */
export const ACCESS_FLUSH_DELAY_MS = 50;

export interface AccessUpdate {
  id: string;
  count: number;
  at: string;
  /** The components of the latest recall that returned the memory (feedback learns from them). */
  components?: ScoreComponents;
}

export type AccessWriter = (updates: AccessUpdate[]) => Promise<void>;

export class AccessTracker {
  private pending = new Map<string, { count: number; at: string; components?: ScoreComponents }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: AccessWriter,
    private readonly logger?: Logger,
  ) {}

  record(hits: readonly (string | { id: string; components?: ScoreComponents })[], at: string): void {
    for (const hit of hits) {
      const { id, components } = typeof hit === "string" ? { id: hit, components: undefined } : hit;
      const entry = this.pending.get(id);
      if (entry) {
        entry.count++;
        if (entry.at <= at) {
          entry.at = at;
          if (components) entry.components = components;
        }
      } else this.pending.set(id, { count: 1, at, ...(components ? { components } : {}) });
    }
    if (!this.timer && this.pending.size > 0) {
      this.timer = setTimeout(() => void this.flush(), ACCESS_FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Writes everything recorded so far; resolves when it is stored. Never rejects. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = new Map();
    // Chained, so flushes are written in order and `settle()` waits for all of them.
    this.flushing = this.flushing.then(async () => {
      if (batch.size === 0) return;
      try {
        await this.write([...batch].map(([id, entry]) => ({ id, ...entry })));
      } catch (error) {
        // Access statistics are a ranking hint, not data of record: losing one batch is logged, not fatal.
        this.logger?.warn({ err: String(error), memories: batch.size }, "could not record memory accesses");
      }
    });
    return this.flushing;
  }

  settle(): Promise<void> {
    return this.pending.size > 0 ? this.flush() : this.flushing;
  }
}
