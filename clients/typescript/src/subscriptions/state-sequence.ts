/**
 * Keeps a stateChanged stream gap-free across reconnects. State versions of an agent are numbered
 * 1, 2, 3...: an event whose version jumps past the last one delivered means versions were
 * written while the socket was down (or being re-subscribed), and they are read back from history
 * and delivered first, in order. After a reconnect the current version is read too, so versions
 * written during an outage arrive even when no later write follows.
 *
 * Best effort by nature: versions pruned meanwhile (STATE_HISTORY_LIMIT) cannot be delivered, and
 * a failed read leaves the gap for the next event to try again.
 */
import type { StateVersion } from "../state.js";

export interface VersionSource<T> {
  /** One version, or null when it does not exist (never written, or pruned). */
  version(number: number): Promise<StateVersion<T> | null>;
  current(): Promise<StateVersion<T> | null>;
}

/** Versions read back per round trip (the reads of one round run in parallel). */
const READ_BATCH = 20;
/** Hashes remembered to drop a version delivered twice (by a catch-up and by the live stream). */
const DELIVERED_MEMORY = 256;

export class StateSequence<T> {
  /** Highest version delivered, or undefined before the first. */
  private last: number | undefined;
  private readonly delivered = new Set<string>();
  /** Every delivery runs after the previous one: catch-ups and live events never interleave. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: VersionSource<T>,
    private readonly emit: (version: StateVersion<T>) => void,
    afterVersion?: number,
  ) {
    this.last = afterVersion;
  }

  /** A live event. */
  receive(version: StateVersion<T>): void {
    this.chain = this.chain.then(async () => {
      await this.fillUpTo(version.version - 1);
      this.deliver(version);
    });
  }

  /** The socket came back: deliver what was written while it was down. */
  catchUp(): void {
    this.chain = this.chain.then(async () => {
      if (this.last === undefined) return;
      const current = await this.source.current().catch(() => null);
      if (!current || current.version <= this.last) return;
      await this.fillUpTo(current.version - 1);
      this.deliver(current);
    });
  }

  private async fillUpTo(upTo: number): Promise<void> {
    if (this.last === undefined) return;
    for (let from = this.last + 1; from <= upTo; from += READ_BATCH) {
      const numbers = Array.from({ length: Math.min(READ_BATCH, upTo - from + 1) }, (_, i) => from + i);
      let versions: (StateVersion<T> | null)[];
      try {
        versions = await Promise.all(numbers.map((n) => this.source.version(n)));
      } catch {
        return;
      }
      for (const version of versions) if (version) this.deliver(version);
    }
  }

  private deliver(version: StateVersion<T>): void {
    if (this.delivered.has(version.hash)) return;
    // A lower version than the last is a restart after deleteAgent: numbering began again.
    this.last = version.version;
    this.delivered.add(version.hash);
    if (this.delivered.size > DELIVERED_MEMORY) {
      this.delivered.delete(this.delivered.values().next().value as string);
    }
    this.emit(version);
  }
}
