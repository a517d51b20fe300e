/**
 * The "no reader ever sees a version older than one acknowledged before its read began" race
 * that the cache suites run against two replicas: writers on random replicas record what was
 * acknowledged, readers on random replicas compare what they read with it, and a churn loop
 * (policy flips, invalidations) runs until the writers are done. The caller says how to write,
 * read and churn; the race says what it saw.
 */
import { type Replica, WRITER } from "./cache-fixture.js";

export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export interface ReadRaceOptions {
  replicas: readonly Replica[];
  agents: readonly string[];
  /** The version a replica's read returns for the agent (null: none). */
  read: (replica: Replica, agentId: string) => Promise<{ version: number } | null>;
  /** One round of admin churn; `round` counts from 0. */
  churn: (round: number) => Promise<void>;
  /** Up to this many milliseconds between one writer's writes. */
  writeJitterMs: number;
  /**
   * Yield to the event loop after each read: a read answered from the near cache completes
   * without I/O, and a loop of those would starve the writers.
   */
  yieldAfterRead?: boolean;
}

export async function raceReadsAgainstWrites(
  options: ReadRaceOptions,
): Promise<{ violations: string[]; reads: number }> {
  const { replicas, agents } = options;
  const acknowledged = new Map(agents.map((id) => [id, 0]));
  const violations: string[] = [];
  let running = true;
  let reads = 0;

  const writer = async () => {
    for (let i = 0; i < 60; i++) {
      const agentId = pick(agents);
      const record = await pick(replicas).state.putState(WRITER, { agentId, data: { i } });
      acknowledged.set(agentId, Math.max(acknowledged.get(agentId)!, record.version));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * options.writeJitterMs));
    }
  };
  const reader = async () => {
    while (running) {
      const agentId = pick(agents);
      const floor = acknowledged.get(agentId)!;
      const state = await options.read(pick(replicas), agentId);
      reads++;
      if ((state?.version ?? 0) < floor) violations.push(`${agentId}: read ${state?.version} after ${floor}`);
      if (options.yieldAfterRead) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const churn = async () => {
    for (let round = 0; running; round++) {
      await options.churn(round);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const background = [...Array.from({ length: 8 }, reader), churn()];
  await Promise.all([writer(), writer(), writer()]);
  running = false;
  await Promise.all(background);
  return { violations, reads };
}
