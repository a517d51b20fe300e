/**
 * `client.checkpoints`: an agent's thread checkpoints, the storage under the LangGraph
 * checkpointer (src/langgraph/saver.ts) and usable without LangGraph by any graph runner.
 */
import {
  type CheckpointFieldsFragment,
  type CheckpointInput,
  type CheckpointWritesInput,
  DeleteThreadDocument,
  GetCheckpointDocument,
  ListCheckpointsDocument,
  PutCheckpointDocument,
  PutCheckpointWritesDocument,
} from "./generated/operations.js";
import type { HttpTransport } from "./transport.js";

export type StoredCheckpoint = CheckpointFieldsFragment;

export interface CheckpointListOptions {
  threadId?: string;
  namespace?: string;
  /** Only checkpoints whose id sorts before this one. */
  before?: string;
  /** Only checkpoints whose metadata has each of these top-level members (equal by value). */
  filter?: Record<string, unknown>;
  /** Page size (default 20, at most 100). */
  first?: number;
  after?: string | null;
}

export interface CheckpointPage {
  /** Newest first. */
  checkpoints: StoredCheckpoint[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

export class CheckpointApi {
  constructor(private readonly transport: HttpTransport) {}

  /** The checkpoint with `id`, or the newest of the thread and namespace; null when there is none. */
  async get(
    agentId: string,
    thread: { threadId: string; namespace?: string; id?: string },
  ): Promise<StoredCheckpoint | null> {
    const result = await this.transport.execute(GetCheckpointDocument, { agentId, ...thread });
    return result.agent?.checkpoint ?? null;
  }

  /** One page of the agent's checkpoints, newest first. */
  async list(agentId: string, options: CheckpointListOptions = {}): Promise<CheckpointPage> {
    const result = await this.transport.execute(ListCheckpointsDocument, {
      agentId,
      ...options,
      after: options.after ?? undefined,
    });
    const page = result.agent?.checkpoints;
    if (!page) return { checkpoints: [], totalCount: 0, hasNextPage: false, endCursor: null };
    return {
      checkpoints: page.edges.map((edge) => edge.node),
      totalCount: page.totalCount,
      hasNextPage: page.pageInfo.hasNextPage,
      endCursor: page.pageInfo.endCursor,
    };
  }

  /** Every checkpoint matching `options`, newest first, read page by page as you iterate. */
  async *all(
    agentId: string,
    options: Omit<CheckpointListOptions, "after"> = {},
  ): AsyncGenerator<StoredCheckpoint> {
    let after: string | null = null;
    for (;;) {
      const page = await this.list(agentId, { first: 100, ...options, after });
      yield* page.checkpoints;
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }

  /** Saves a checkpoint (replacing one saved before under the same id) with the channel values it brings. */
  async put(agentId: string, input: CheckpointInput): Promise<void> {
    await this.transport.execute(PutCheckpointDocument, { agentId, input });
  }

  /** Saves pending writes of a checkpoint; returns how many were stored. */
  async putWrites(agentId: string, input: CheckpointWritesInput): Promise<number> {
    return (await this.transport.execute(PutCheckpointWritesDocument, { agentId, input }))
      .putCheckpointWrites;
  }

  /** Removes a thread (every namespace); returns how many checkpoints it had. */
  async deleteThread(agentId: string, threadId: string): Promise<number> {
    return (await this.transport.execute(DeleteThreadDocument, { agentId, threadId })).deleteThread;
  }
}
