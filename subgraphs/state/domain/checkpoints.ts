/**
 * Thread checkpoints: what a graph framework saves after each step to resume, replay or fork a
 * run (LangGraph's BaseCheckpointSaver: checkpoints, channel values, pending writes). A thread
 * belongs to an agent, so the agent's token scope, limits, encryption at rest and audit log apply
 * to its checkpoints as they do to its state.
 *
 * The rules are here, once, for both stores:
 * - identifiers are non-empty text without control characters (the namespace may be empty);
 * - a checkpoint saved again under its id replaces the previous one (LangGraph does so when it
 *   exits with durability "exit"), and the channel values it brings are stored only for versions
 *   not stored yet (a channel's value at a version never changes);
 * - a pending write is keyed by (taskId, idx): a regular write (idx >= 0) keeps the first one
 *   stored, a special write (idx < 0: error, interrupt...) replaces it;
 * - lists are newest first by checkpoint id (LangGraph ids are uuid6, ordered by time), then by
 *   thread and namespace; pending writes come in (taskPath, taskId, idx) order;
 * - a metadata filter matches checkpoints whose top-level members equal each given member, by
 *   canonical JSON (RFC 8785), compared through the store-keyed fingerprint so a stolen
 *   database cannot be searched for metadata values.
 */
import canonicalize from "canonicalize";
import DataLoader from "dataloader";
import type { AuditLog } from "../../../core/audit/audit-log.js";
import type { Principal } from "../../../core/auth/principal.js";
import { badUserInput, payloadTooLarge } from "../../../core/errors.js";
import { findJsonProblem, isWellFormedText } from "../../../core/validation/json.js";
import type {
  ChannelValueRecord,
  ChannelValueRef,
  CheckpointPage,
  CheckpointRecord,
  CheckpointRef,
  CheckpointStore,
  CheckpointWriteRecord,
  IndexedCheckpoint,
  SerializedValue,
  ThreadRef,
} from "./checkpoint-port.js";
import { MAX_STATE_DEPTH } from "./state-service.js";

export interface CheckpointLimits {
  /** Largest serialised checkpoint (with its channel values and metadata) or batch of writes (STATE_MAX_BYTES). */
  maxBytes: number;
}

/** Longest identifier of each kind, in characters. */
export const CHECKPOINT_ID_LIMITS = {
  threadId: 256,
  namespace: 512,
  checkpointId: 128,
  taskId: 256,
  taskPath: 1024,
  channel: 256,
  version: 128,
} as const;
/** Most pending writes in one putCheckpointWrites call. */
export const MAX_WRITES_PER_CALL = 1000;
/** Most metadata members a filter may name. */
export const MAX_FILTER_MEMBERS = 32;

const SERIALIZED_TYPE = /^[A-Za-z0-9_.-]{1,32}$/;
/** Control characters would break the list order (U+0001 separates the parts of a sort key) and logs. */
const CONTROL = /\p{Cc}/u;

export interface SerializedValueInput {
  type: string;
  value: unknown;
}

export interface CheckpointInput {
  threadId: string;
  namespace?: string | null;
  id: string;
  parentId?: string | null;
  checkpoint: SerializedValueInput;
  metadata: unknown;
  channelVersions: unknown;
  channelValues?: { channel: string; version: string; value: SerializedValueInput }[] | null;
}

export interface CheckpointWritesInput {
  threadId: string;
  namespace?: string | null;
  checkpointId: string;
  taskId: string;
  taskPath?: string | null;
  writes: { channel: string; idx: number; value: SerializedValueInput }[];
}

export interface CheckpointListRequest {
  threadId?: string | null;
  namespace?: string | null;
  before?: string | null;
  filter?: unknown;
  first: number;
  afterSortKey?: string;
}

export interface CheckpointLoaders {
  channelValues: DataLoader<ChannelValueRef, ChannelValueRecord | null, string>;
  writes: DataLoader<CheckpointRef, CheckpointWriteRecord[], string>;
}

export class CheckpointService {
  constructor(
    private readonly deps: {
      store: CheckpointStore;
      audit: AuditLog;
      limits: CheckpointLimits;
      /** Keyed fingerprint for metadata filter keys (runtime.encryption.fingerprint). */
      fingerprint: (text: string) => string;
    },
  ) {}

  /** Per-request loaders: channel values and pending writes of many checkpoints in one store call each. */
  createLoaders(): CheckpointLoaders {
    const { store } = this.deps;
    return {
      channelValues: new DataLoader((refs) => store.channelValues(refs), {
        cacheKeyFn: (ref) => JSON.stringify(ref),
      }),
      writes: new DataLoader(
        async (refs) => (await store.writes(refs)).map((writes) => [...writes].sort(compareWrites)),
        { cacheKeyFn: (ref) => JSON.stringify(ref) },
      ),
    };
  }

  async put(principal: Principal, agentId: string, input: CheckpointInput): Promise<CheckpointRecord> {
    const ref: CheckpointRef = {
      agentId,
      threadId: identifier(input.threadId, "input.threadId", CHECKPOINT_ID_LIMITS.threadId),
      namespace: namespaceOf(input.namespace, "input.namespace"),
      checkpointId: identifier(input.id, "input.id", CHECKPOINT_ID_LIMITS.checkpointId),
    };
    const parentId =
      input.parentId === null || input.parentId === undefined
        ? null
        : identifier(input.parentId, "input.parentId", CHECKPOINT_ID_LIMITS.checkpointId);
    const checkpoint = serializedValue(input.checkpoint, "input.checkpoint");
    const metadata = jsonObject(input.metadata, "input.metadata");
    const channelVersions = channelVersionsOf(input.channelVersions);
    const channelValues = this.checkedChannelValues(input.channelValues ?? [], channelVersions);
    this.checkSize({ checkpoint, metadata, channelVersions, channelValues }, "checkpoint");

    const record: IndexedCheckpoint = {
      ...ref,
      parentId,
      checkpoint,
      metadata,
      channelVersions,
      createdAt: new Date().toISOString(),
      author: principal.sub,
      sortKey: sortKeyOf(ref),
      metadataKeys: this.metadataKeys(metadata),
    };
    await this.deps.store.putCheckpoint(record, channelValues);
    await this.deps.audit.record(principal, {
      agentId,
      action: "checkpoint.put",
      target: `${ref.threadId}/${ref.checkpointId}`,
      details: { threadId: ref.threadId, namespace: ref.namespace, checkpointId: ref.checkpointId, parentId },
    });
    const { sortKey: _sortKey, metadataKeys: _metadataKeys, ...stored } = record;
    return stored;
  }

  /**
   * Returns how many writes were stored (a regular write already stored under its key is not).
   * Not audited: pending writes are a step's work in progress, the checkpoint after it is.
   */
  async putWrites(agentId: string, input: CheckpointWritesInput): Promise<number> {
    const ref: CheckpointRef = {
      agentId,
      threadId: identifier(input.threadId, "input.threadId", CHECKPOINT_ID_LIMITS.threadId),
      namespace: namespaceOf(input.namespace, "input.namespace"),
      checkpointId: identifier(input.checkpointId, "input.checkpointId", CHECKPOINT_ID_LIMITS.checkpointId),
    };
    const taskId = identifier(input.taskId, "input.taskId", CHECKPOINT_ID_LIMITS.taskId);
    const taskPath = optionalText(input.taskPath, "input.taskPath", CHECKPOINT_ID_LIMITS.taskPath);
    if (input.writes.length > MAX_WRITES_PER_CALL) {
      throw badUserInput(
        `input.writes has ${input.writes.length} writes; at most ${MAX_WRITES_PER_CALL} per call`,
        {
          argument: "input.writes",
        },
      );
    }
    // Within one call a later write with the same key wins, as it would if sent in two calls.
    const byIdx = new Map<number, CheckpointWriteRecord>();
    input.writes.forEach((write, i) => {
      const at = `input.writes[${i}]`;
      if (!Number.isInteger(write.idx))
        throw badUserInput(`${at}.idx must be an integer`, { argument: `${at}.idx` });
      byIdx.set(write.idx, {
        taskId,
        taskPath,
        idx: write.idx,
        channel: identifier(write.channel, `${at}.channel`, CHECKPOINT_ID_LIMITS.channel),
        value: serializedValue(write.value, `${at}.value`),
      });
    });
    const writes = [...byIdx.values()];
    this.checkSize(writes, "batch of writes");
    const stored = await this.deps.store.putWrites(ref, {
      keepFirst: writes.filter((write) => write.idx >= 0),
      replace: writes.filter((write) => write.idx < 0),
    });
    return stored;
  }

  async get(agentId: string, thread: { threadId: string; namespace?: string | null; id?: string | null }) {
    const ref: ThreadRef = {
      agentId,
      threadId: identifier(thread.threadId, "threadId", CHECKPOINT_ID_LIMITS.threadId),
      namespace: namespaceOf(thread.namespace, "namespace"),
    };
    const id =
      thread.id === null || thread.id === undefined
        ? null
        : identifier(thread.id, "id", CHECKPOINT_ID_LIMITS.checkpointId);
    return this.deps.store.getCheckpoint(ref, id);
  }

  async list(agentId: string, request: CheckpointListRequest): Promise<CheckpointPage> {
    const filter =
      request.filter === null || request.filter === undefined ? {} : jsonObject(request.filter, "filter");
    if (Object.keys(filter).length > MAX_FILTER_MEMBERS) {
      throw badUserInput(`filter may name at most ${MAX_FILTER_MEMBERS} metadata members`, {
        argument: "filter",
      });
    }
    return this.deps.store.listCheckpoints({
      agentId,
      threadId:
        request.threadId === null || request.threadId === undefined
          ? undefined
          : identifier(request.threadId, "threadId", CHECKPOINT_ID_LIMITS.threadId),
      namespace:
        request.namespace === null || request.namespace === undefined
          ? undefined
          : namespaceOf(request.namespace, "namespace"),
      beforeId:
        request.before === null || request.before === undefined
          ? undefined
          : identifier(request.before, "before", CHECKPOINT_ID_LIMITS.checkpointId),
      metadataKeys: this.metadataKeys(filter),
      first: request.first,
      afterSortKey: request.afterSortKey,
    });
  }

  async deleteThread(principal: Principal, agentId: string, threadId: string): Promise<number> {
    const thread = identifier(threadId, "threadId", CHECKPOINT_ID_LIMITS.threadId);
    const removed = await this.deps.store.deleteThread(agentId, thread);
    if (removed > 0) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "checkpoint.deleteThread",
        target: thread,
        details: { removed },
      });
    }
    return removed;
  }

  /** With deleteAgent: the agent's threads go with its state. */
  async deleteAgent(agentId: string): Promise<number> {
    return this.deps.store.deleteAgent(agentId);
  }

  /** The channel values of a checkpoint at its channel versions (those stored). */
  async channelValuesOf(record: CheckpointRecord, loaders: CheckpointLoaders): Promise<ChannelValueRecord[]> {
    const refs = Object.entries(record.channelVersions).map(([channel, version]) => ({
      agentId: record.agentId,
      threadId: record.threadId,
      namespace: record.namespace,
      channel,
      version: String(version),
    }));
    const values = await loaders.channelValues.loadMany(refs);
    return values.flatMap((value) => {
      if (value instanceof Error) throw value;
      return value ? [value] : [];
    });
  }

  private checkedChannelValues(
    inputs: NonNullable<CheckpointInput["channelValues"]>,
    channelVersions: Record<string, string | number>,
  ): ChannelValueRecord[] {
    const seen = new Set<string>();
    return inputs.map((input, i) => {
      const at = `input.channelValues[${i}]`;
      const channel = identifier(input.channel, `${at}.channel`, CHECKPOINT_ID_LIMITS.channel);
      const version = identifier(input.version, `${at}.version`, CHECKPOINT_ID_LIMITS.version);
      if (seen.has(channel))
        throw badUserInput(`${at}: channel "${channel}" is given twice`, { argument: at });
      seen.add(channel);
      if (!(channel in channelVersions) || String(channelVersions[channel]) !== version) {
        throw badUserInput(
          `${at}: channel "${channel}" is at version ${JSON.stringify(channelVersions[channel] ?? null)} in channelVersions, not "${version}"; a checkpoint brings values only for its own channel versions`,
          { argument: at },
        );
      }
      return { channel, version, value: serializedValue(input.value, `${at}.value`) };
    });
  }

  private metadataKeys(members: Record<string, unknown>): string[] {
    return Object.entries(members).map(([key, value]) =>
      this.deps.fingerprint(`${JSON.stringify(key)}=${canonicalize(value) ?? "null"}`),
    );
  }

  private checkSize(value: unknown, what: string): void {
    const problem = findJsonProblem(value, MAX_STATE_DEPTH);
    if (problem?.kind === "too-deep")
      throw badUserInput(`The ${what} is nested deeper than ${MAX_STATE_DEPTH} levels`);
    if (problem?.kind === "malformed-text") {
      throw badUserInput(`The ${what} has malformed Unicode (a lone surrogate) at ${problem.path}`);
    }
    const size = Buffer.byteLength(JSON.stringify(value));
    const limit = this.deps.limits.maxBytes;
    if (size > limit) {
      throw payloadTooLarge(
        `The ${what} is ${size} bytes serialised; the limit is ${limit} bytes (STATE_MAX_BYTES)`,
        { size, limit },
      );
    }
  }
}

/** Descending order of lists: checkpoint id, then thread, then namespace (U+0001, below every character ids may hold, separates them). */
export function sortKeyOf(ref: CheckpointRef): string {
  return `${ref.checkpointId}\u0001${ref.threadId}\u0001${ref.namespace}`;
}

/** LangGraph's writesSortKey order: task path, task id (code point order), then idx. */
export function compareWrites(a: CheckpointWriteRecord, b: CheckpointWriteRecord): number {
  return compareCodePoints(a.taskPath, b.taskPath) || compareCodePoints(a.taskId, b.taskId) || a.idx - b.idx;
}

/** Strings by Unicode code point (JS `<` compares UTF-16 units, which misorders astral characters). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const difference = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
}

function identifier(value: unknown, argument: string, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0) {
    throw badUserInput(`${argument} must be a non-empty string`, { argument });
  }
  return text(value, argument, maxLength);
}

function optionalText(value: string | null | undefined, argument: string, maxLength: number): string {
  return value === null || value === undefined ? "" : text(value, argument, maxLength);
}

function namespaceOf(value: string | null | undefined, argument: string): string {
  return optionalText(value, argument, CHECKPOINT_ID_LIMITS.namespace);
}

function text(value: string, argument: string, maxLength: number): string {
  if (value.length > maxLength) {
    throw badUserInput(`${argument} is longer than ${maxLength} characters`, { argument });
  }
  if (CONTROL.test(value) || !isWellFormedText(value)) {
    throw badUserInput(`${argument} must not contain control characters or lone surrogates`, { argument });
  }
  return value;
}

function serializedValue(input: SerializedValueInput, argument: string): SerializedValue {
  if (!SERIALIZED_TYPE.test(input.type)) {
    throw badUserInput(`${argument}.type must be 1-32 characters of letters, digits, ".", "_" or "-"`, {
      argument: `${argument}.type`,
    });
  }
  if (input.type !== "json" && typeof input.value !== "string") {
    throw badUserInput(
      `${argument}.value must be base64 text for type "${input.type}" (only "json" holds JSON)`,
      {
        argument: `${argument}.value`,
      },
    );
  }
  return { type: input.type, value: input.value };
}

function jsonObject(value: unknown, argument: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badUserInput(`${argument} must be a JSON object`, { argument });
  }
  return value as Record<string, unknown>;
}

function channelVersionsOf(value: unknown): Record<string, string | number> {
  const versions = jsonObject(value, "input.channelVersions");
  for (const [channel, version] of Object.entries(versions)) {
    const ok =
      (typeof version === "number" && Number.isFinite(version)) ||
      (typeof version === "string" && version.length > 0 && version.length <= CHECKPOINT_ID_LIMITS.version);
    if (!ok || channel.length === 0 || channel.length > CHECKPOINT_ID_LIMITS.channel) {
      throw badUserInput(
        `input.channelVersions must map channel names to versions (numbers, or strings of at most ${CHECKPOINT_ID_LIMITS.version} characters)`,
        { argument: "input.channelVersions" },
      );
    }
  }
  return versions as Record<string, string | number>;
}
