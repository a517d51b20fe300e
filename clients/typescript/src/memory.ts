/**
 * `client.memory`: an agent's long-term memories. `remember` stores (or merges a duplicate into
 * an existing memory), `recall` ranks memories by meaning, words, connections, recency and
 * importance, `forget` removes one.
 */
import {
  ConfigureMemoryDocument,
  ForgetDocument,
  ListMemoriesDocument,
  type MemoryConfigInput,
  type MemoryFieldsFragment,
  type MemoryFilter,
  type MemoryInput,
  RecallDocument,
  type RecallQuery,
  type RecallWeights,
  RememberDocument,
  RememberManyDocument,
  type RememberOutcome,
} from "./generated/operations.js";
import type { HttpTransport } from "./transport.js";

export type Memory = MemoryFieldsFragment;
export type RecallHit = RecallQuery["recall"][number];

export interface RememberResult {
  /** CREATED, or MERGED when it was a duplicate of `memory`, which already existed. */
  outcome: RememberOutcome;
  memory: Memory;
}

export interface RecallOptions {
  /** How many hits (default 10, at most 100). */
  k?: number;
  filter?: MemoryFilter;
  weights?: RecallWeights;
  /** Your own query vector, for a server without an embedder. */
  queryEmbedding?: number[];
}

export interface MemoryPage {
  /** Newest first. */
  memories: Memory[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

export class MemoryApi {
  constructor(private readonly transport: HttpTransport) {}

  /** Stores one memory; a plain string is the content of an EPISODIC text memory. */
  async remember(agentId: string, input: MemoryInput | string): Promise<RememberResult> {
    const result = await this.transport.execute(RememberDocument, {
      agentId,
      input: typeof input === "string" ? { content: input } : input,
    });
    return result.remember;
  }

  /** Up to 100 memories in one transaction, results in input order. */
  async rememberMany(agentId: string, inputs: readonly (MemoryInput | string)[]): Promise<RememberResult[]> {
    const result = await this.transport.execute(RememberManyDocument, {
      agentId,
      inputs: inputs.map((input) => (typeof input === "string" ? { content: input } : input)),
    });
    return result.rememberMany;
  }

  /** The memories that best answer `query`, best first, each with its score and its components. */
  async recall(agentId: string, query: string, options: RecallOptions = {}): Promise<RecallHit[]> {
    const result = await this.transport.execute(RecallDocument, { agentId, query, ...options });
    return result.recall;
  }

  /** Removes a memory by id; NotFoundError when it does not exist. */
  async forget(id: string): Promise<boolean> {
    const result = await this.transport.execute(ForgetDocument, { id });
    return result.forget;
  }

  /** One page of the agent's memories, newest first (`first` defaults to 20, at most 100). */
  async list(
    agentId: string,
    options: { first?: number; after?: string | null; filter?: MemoryFilter } = {},
  ): Promise<MemoryPage> {
    const result = await this.transport.execute(ListMemoriesDocument, {
      agentId,
      first: options.first,
      after: options.after ?? undefined,
      filter: options.filter,
    });
    const page = result.agent?.memories;
    if (!page) return { memories: [], totalCount: 0, hasNextPage: false, endCursor: null };
    return {
      memories: page.edges.map((edge) => edge.node),
      totalCount: page.totalCount,
      hasNextPage: page.pageInfo.hasNextPage,
      endCursor: page.pageInfo.endCursor,
    };
  }

  /** Changes the given settings of the agent's memory (weights, dedupThreshold, capacity, ...). */
  async configure(agentId: string, config: MemoryConfigInput): Promise<void> {
    await this.transport.execute(ConfigureMemoryDocument, { agentId, config });
  }
}
