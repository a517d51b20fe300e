/**
 * The CheckpointStore port: what thread checkpoints (LangGraph's persistence) need from a store
 * of record. Two adapters implement it (store/sqlite-checkpoints.ts, store/neo4j-checkpoints.ts)
 * and one contract suite (test/contract/state-store.contract.ts) tests both.
 *
 * The rules live in checkpoints.ts: ids, limits, the order of lists (`sortKey`), which pending
 * writes replace and which keep the first, how metadata filters match (`metadataKeys`). An
 * adapter stores what it is given and answers queries on those fields; it never decides.
 */

/** A value as the client's serializer wrote it: JSON for type "json", base64 text otherwise. */
export interface SerializedValue {
  type: string;
  value: unknown;
}

export interface ThreadRef {
  agentId: string;
  threadId: string;
  /** "" for the root graph. */
  namespace: string;
}

export interface CheckpointRef extends ThreadRef {
  checkpointId: string;
}

export interface CheckpointRecord extends CheckpointRef {
  parentId: string | null;
  /** The checkpoint without its channel values. */
  checkpoint: SerializedValue;
  metadata: Record<string, unknown>;
  /** Channel name -> version (a number or a string, as the client numbers them). */
  channelVersions: Record<string, string | number>;
  /** ISO 8601 */
  createdAt: string;
  author: string | null;
}

/** What the domain adds to a checkpoint for the store to index: the list order and the filter keys. */
export interface IndexedCheckpoint extends CheckpointRecord {
  /** Lists are ordered by this, descending; the domain makes it unique per agent. */
  sortKey: string;
  /** One opaque key per top-level metadata member; a filter matches checkpoints holding all of its keys. */
  metadataKeys: string[];
}

export interface ChannelValueRecord {
  channel: string;
  /** The channel version as text (String of the number or string in channelVersions). */
  version: string;
  value: SerializedValue;
}

export interface ChannelValueRef extends ThreadRef {
  channel: string;
  version: string;
}

export interface CheckpointWriteRecord {
  taskId: string;
  /** "" when the client gave none. */
  taskPath: string;
  /** Position in the task's writes; negative for special writes (errors, interrupts). */
  idx: number;
  channel: string;
  value: SerializedValue;
}

export interface CheckpointQuery {
  agentId: string;
  threadId?: string;
  namespace?: string;
  /** Only checkpoints whose id sorts before this one. */
  beforeId?: string;
  /** Only checkpoints holding every one of these metadata keys. */
  metadataKeys: readonly string[];
  first: number;
  /** Continue after the checkpoint with this sort key (exclusive). */
  afterSortKey?: string;
}

export interface CheckpointPage {
  /** By sortKey, descending. */
  records: (CheckpointRecord & { sortKey: string })[];
  hasNextPage: boolean;
  /** Checkpoints matching the query, all pages. */
  totalCount: number;
}

export interface CheckpointStore {
  /**
   * Stores a checkpoint, replacing one with the same ref (a client may save a checkpoint again
   * under its id), and the channel values it brings; a channel value already stored at that
   * version is kept. One transaction.
   */
  putCheckpoint(checkpoint: IndexedCheckpoint, channelValues: readonly ChannelValueRecord[]): Promise<void>;
  /**
   * Stores pending writes of a checkpoint, keyed by (taskId, idx): those in `keepFirst` are not
   * written over if the key exists, those in `replace` are. One transaction.
   */
  putWrites(
    ref: CheckpointRef,
    writes: { keepFirst: readonly CheckpointWriteRecord[]; replace: readonly CheckpointWriteRecord[] },
  ): Promise<number>;
  /** The checkpoint with this id, or the highest id of the thread and namespace when `checkpointId` is null. */
  getCheckpoint(thread: ThreadRef, checkpointId: string | null): Promise<CheckpointRecord | null>;
  listCheckpoints(query: CheckpointQuery): Promise<CheckpointPage>;
  /** Batched: each ref's value, or null when that channel version was never stored. */
  channelValues(refs: readonly ChannelValueRef[]): Promise<(ChannelValueRecord | null)[]>;
  /** Batched: each checkpoint's pending writes, in no particular order. */
  writes(refs: readonly CheckpointRef[]): Promise<CheckpointWriteRecord[][]>;
  /** Removes a thread's checkpoints, channel values and writes (every namespace); returns the checkpoints removed. */
  deleteThread(agentId: string, threadId: string): Promise<number>;
  /** Removes every thread of the agent; returns the checkpoints removed. */
  deleteAgent(agentId: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The associated data an encrypted checkpoint field is bound to (see core/crypto/encryption.ts):
 * a ciphertext copied to another checkpoint, channel or write no longer decrypts.
 */
export const checkpointDataContext = (ref: CheckpointRef, field: "checkpoint" | "metadata") =>
  `checkpoint:${JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.checkpointId, field])}`;
export const channelValueContext = (ref: ChannelValueRef) =>
  `checkpoint-channel:${JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.channel, ref.version])}`;
export const checkpointWriteContext = (
  ref: CheckpointRef,
  write: Pick<CheckpointWriteRecord, "taskId" | "idx">,
) =>
  `checkpoint-write:${JSON.stringify([ref.agentId, ref.threadId, ref.namespace, ref.checkpointId, write.taskId, write.idx])}`;
