/**
 * How this process loads each type from its store. A subgraph registers a source per type it
 * owns (the state subgraph: AGENT_STATE and STATE_VERSION; memory: MEMORY and ENTITY); the
 * cache uses it for per-request reads, for prefetch and for warmAgent, so none of them depends
 * on a request.
 */
import type { Revisioned } from "../store/revisioned.js";
import type { CacheRef } from "./keys.js";
import type { CacheDataType } from "./policy.js";

export type BatchLoad<T> = (refs: readonly CacheRef[]) => Promise<Revisioned<T>[]>;

export interface CacheSource<T = unknown> {
  /** Loads entries from the store, batched: one query for all refs. */
  load: BatchLoad<T>;
  /** Entries worth warming for an agent besides those cached for it recently (e.g. its current state). */
  warmRefs?: (agentId: string) => Promise<CacheRef[]>;
  /**
   * The store's current revision of each entry (what `load` would return with it now), answered
   * synchronously: only a store in this process has it. With a probe, reads of the type are
   * served from this process's near cache after the probe instead of from Redis (near-cache.ts).
   */
  probe?: (refs: readonly CacheRef[]) => number[];
}

export class CacheSources {
  private readonly sources = new Map<CacheDataType, CacheSource>();

  /** Registers (or replaces) how this process loads `type`. */
  register<T>(type: CacheDataType, source: BatchLoad<T> | CacheSource<T>): void {
    this.sources.set(type, (typeof source === "function" ? { load: source } : source) as CacheSource);
  }

  get(type: CacheDataType): CacheSource | undefined {
    return this.sources.get(type);
  }

  /** The source of a type read in a request; reading a type nobody registered is a programming error. */
  require(type: CacheDataType): CacheSource {
    const source = this.sources.get(type);
    if (!source) throw new Error(`no cache source registered for ${type}: call registerSource first`);
    return source;
  }

  has(type: CacheDataType): boolean {
    return this.sources.has(type);
  }

  get size(): number {
    return this.sources.size;
  }

  types(): CacheDataType[] {
    return [...this.sources.keys()];
  }

  entries(): [CacheDataType, CacheSource][] {
    return [...this.sources];
  }
}
