/**
 * Work the cache starts and does not wait for: write-backs, fill-lock releases, prefetch,
 * answers to warm requests, policy reloads. Each is tracked, so tests and shutdown can wait for
 * what is still running, and a failure is logged instead of surfacing as an unhandled rejection
 * (a failed write-back only costs a later miss).
 */
import type { Logger } from "../logger.js";

export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly logger?: Logger) {}

  track(work: Promise<unknown> | null | undefined): void {
    if (!work) return;
    const tracked = work.catch((error: unknown) => {
      this.logger?.debug({ err: String(error) }, "cache background task failed");
    });
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }

  /** Resolves when the work started so far (and any it started in turn) is done. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
