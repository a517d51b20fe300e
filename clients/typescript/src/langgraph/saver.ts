/**
 * MnemoSaver: a LangGraph.js checkpointer (BaseCheckpointSaver) that keeps every thread of a
 * graph in Mnemo, as thread checkpoints of one agent. What LangGraph writes goes through its
 * serializer (JsonPlusSerializer unless you pass another) and is stored as `{type, value}`:
 * the JSON document for type "json", base64 text for anything else.
 *
 * Like LangGraph's Postgres saver, a checkpoint stores only the channel values whose version is
 * new (`newVersions`); reading a checkpoint gathers each channel's value at its version, stored
 * by whichever checkpoint of the thread brought it. Pending writes are returned in LangGraph's
 * (taskPath, taskId, idx) order by the server.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  copyCheckpoint,
  getCheckpointId,
  maxChannelVersion,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
} from "@langchain/langgraph-checkpoint";
import type { StoredCheckpoint } from "../checkpoints.js";
import type { MnemoClient } from "../client.js";
import { Serialization, type SerializedValue } from "./serialization.js";

export interface MnemoSaverOptions {
  /** A client with a token that may write `agentId`. */
  client: MnemoClient;
  /** The agent every thread of this saver belongs to (its token scope applies). */
  agentId: string;
  /** LangGraph's serializer; default JsonPlusSerializer. */
  serde?: SerializerProtocol;
}

/** Page size when listing (the API's maximum). */
const LIST_PAGE = 100;

export class MnemoSaver extends BaseCheckpointSaver {
  readonly agentId: string;
  private readonly client: MnemoClient;
  private readonly values: Serialization;

  constructor(options: MnemoSaverOptions) {
    super(options.serde);
    this.client = options.client;
    this.agentId = options.agentId;
    this.values = new Serialization(this.serde);
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) return undefined;
    const namespace = (config.configurable?.checkpoint_ns as string | undefined) ?? "";
    const id = getCheckpointId(config) || undefined;
    const stored = await this.client.checkpoints.get(this.agentId, {
      threadId: String(threadId),
      namespace,
      id,
    });
    return stored ? this.toTuple(stored) : undefined;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { limit, filter } = options;
    const threadId = config.configurable?.thread_id as string | undefined;
    const namespace = config.configurable?.checkpoint_ns as string | undefined;
    const onlyId = config.configurable?.checkpoint_id as string | undefined;
    const before = options.before?.configurable?.checkpoint_id as string | undefined;
    if (limit !== undefined && limit <= 0) return;
    let remaining = limit ?? Number.POSITIVE_INFINITY;
    const checkpoints = this.client.checkpoints.all(this.agentId, {
      threadId: threadId === undefined ? undefined : String(threadId),
      namespace,
      before,
      filter: filter ? await this.values.metadataToJson(filter) : undefined,
      // With a checkpoint_id in the config only that one can match: no page size to save.
      first: onlyId ? LIST_PAGE : Math.min(LIST_PAGE, remaining),
    });
    for await (const stored of checkpoints) {
      if (onlyId && stored.id !== onlyId) continue;
      yield await this.toTuple(stored);
      if (--remaining <= 0) return;
    }
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) {
      throw new Error(
        'MnemoSaver.put: the config has no "thread_id" in "configurable"; pass one, e.g. graph.invoke(input, { configurable: { thread_id: "t1" } })',
      );
    }
    const namespace = (config.configurable?.checkpoint_ns as string | undefined) ?? "";
    const parentId = config.configurable?.checkpoint_id as string | undefined;
    const { channel_values: channelValues, ...rest } = copyCheckpoint(checkpoint);
    // Only the channels that changed bring a value; the others are stored at their version already.
    const changed = Object.keys(newVersions).filter(
      (channel) => channel in channelValues && channel in rest.channel_versions,
    );
    await this.client.checkpoints.put(this.agentId, {
      threadId: String(threadId),
      namespace,
      id: checkpoint.id,
      parentId,
      checkpoint: await this.values.serialize(rest),
      metadata: await this.values.metadataToJson(metadata),
      channelVersions: rest.channel_versions,
      channelValues: await Promise.all(
        changed.map(async (channel) => ({
          channel,
          version: String(rest.channel_versions[channel]),
          value: await this.values.serialize(channelValues[channel]),
        })),
      ),
    });
    return { configurable: { thread_id: threadId, checkpoint_ns: namespace, checkpoint_id: checkpoint.id } };
  }

  async putWrites(
    config: RunnableConfig,
    writes: PendingWrite[],
    taskId: string,
    taskPath?: string,
  ): Promise<void> {
    const threadId = config.configurable?.thread_id as string | undefined;
    const checkpointId = config.configurable?.checkpoint_id as string | undefined;
    if (threadId === undefined) {
      throw new Error('MnemoSaver.putWrites: the config has no "thread_id" in "configurable"');
    }
    if (checkpointId === undefined) {
      throw new Error('MnemoSaver.putWrites: the config has no "checkpoint_id" in "configurable"');
    }
    await this.client.checkpoints.putWrites(this.agentId, {
      threadId: String(threadId),
      namespace: (config.configurable?.checkpoint_ns as string | undefined) ?? "",
      checkpointId,
      taskId,
      taskPath: taskPath ?? "",
      writes: await Promise.all(
        writes.map(async ([channel, value], index) => ({
          channel,
          // Special channels (errors, interrupts...) have fixed negative positions: a later one replaces.
          idx: WRITES_IDX_MAP[channel] ?? index,
          value: await this.values.serialize(value),
        })),
      ),
    });
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.client.checkpoints.deleteThread(this.agentId, String(threadId));
  }

  private async toTuple(stored: StoredCheckpoint): Promise<CheckpointTuple> {
    const thread = { thread_id: stored.threadId, checkpoint_ns: stored.namespace };
    const checkpoint = (await this.values.deserialize(stored.checkpoint as SerializedValue)) as Checkpoint;
    checkpoint.channel_values = Object.fromEntries(
      await Promise.all(
        stored.channelValues.map(async (entry) => [
          entry.channel,
          await this.values.deserialize(entry.value as SerializedValue),
        ]),
      ),
    );
    if (checkpoint.v < 4 && stored.parentId) await this.migratePendingSends(checkpoint, stored);
    const tuple: CheckpointTuple = {
      config: { configurable: { ...thread, checkpoint_id: stored.id } },
      checkpoint,
      metadata: (await this.values.metadataFromJson(stored.metadata)) as CheckpointMetadata,
      pendingWrites: await Promise.all(
        stored.pendingWrites.map(
          async (write): Promise<CheckpointPendingWrite> => [
            write.taskId,
            write.channel,
            await this.values.deserialize(write.value as SerializedValue),
          ],
        ),
      ),
    };
    if (stored.parentId) tuple.parentConfig = { configurable: { ...thread, checkpoint_id: stored.parentId } };
    return tuple;
  }

  /**
   * Checkpoints before format 4 kept the sends of the next step as writes of their parent; newer
   * LangGraph reads them from the TASKS channel, so they are moved there on read.
   */
  private async migratePendingSends(checkpoint: Checkpoint, stored: StoredCheckpoint): Promise<void> {
    const parent = await this.client.checkpoints.get(this.agentId, {
      threadId: stored.threadId,
      namespace: stored.namespace,
      id: stored.parentId!,
    });
    const sends = await Promise.all(
      (parent?.pendingWrites ?? [])
        .filter((write) => write.channel === TASKS)
        .map((write) => this.values.deserialize(write.value as SerializedValue)),
    );
    checkpoint.channel_values ??= {};
    checkpoint.channel_values[TASKS] = sends;
    checkpoint.channel_versions ??= {};
    const versions = Object.values(checkpoint.channel_versions);
    checkpoint.channel_versions[TASKS] =
      versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
  }
}
