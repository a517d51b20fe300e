/**
 * Memories: the rules (inputs, limits, dedup, capacity), the analysis (embedding and entity
 * extraction in the worker pool), recall, and the after-commit work (cache, agent directory,
 * events). Resolvers authorise, then call this.
 */
import DataLoader from "dataloader";
import { LRUCache } from "lru-cache";
import type { AgentDirectory } from "../../../core/agents/directory.js";
import type { AuditLog } from "../../../core/audit/audit-log.js";
import type { Principal } from "../../../core/auth/principal.js";
import type { CacheLayer } from "../../../core/cache/index.js";
import type { CacheRef } from "../../../core/cache/keys.js";
import { badUserInput, notFound, unavailable } from "../../../core/errors.js";
import { type EventBus, topic } from "../../../core/events.js";
import type { Logger } from "../../../core/logger.js";
import { checkVector, type Embedder } from "../analysis/embedder.js";
import type { AnalysisPool } from "../analysis/pool.js";
import { AccessTracker } from "./access-tracker.js";
import { newMemoryId } from "./ids.js";
import {
  checkK,
  checkQuery,
  type FilterInput,
  LIMITS,
  type MemoryConfigInput,
  type MemoryInput,
  mergeConfig,
  mergeWeights,
  type PreparedInput,
  prepareFilter,
  prepareMemoryInput,
} from "./input.js";
import { effectiveWeights } from "./learning.js";
import {
  type AccessStats,
  type EntityRecord,
  type MemoryConfig,
  type MemoryFilter,
  type MemoryRecord,
  type RecallWeights,
  withConfigDefaults,
} from "./model.js";
import { type GatheredCandidates, gatherCandidates, type RecallRequest, recallMemories } from "./recall.js";
import type { ScoredCandidate } from "./scoring.js";
import { analyzeStatement, frameKeyText } from "./statements.js";
import {
  type MemoryLink,
  type MemoryStore,
  type NewMemory,
  type Page,
  UnknownMemoryError,
  type WriteOutcome,
  type WriteResult,
} from "./store-port.js";
import { contentHash, normalizeName } from "./text.js";
import { planWrite, type WriteRequest, writeQuery } from "./write-plan.js";

export const memoryAddedTopic = (agentId: string) => topic("memoryAdded", agentId);

/** Texts per extraction task in the worker pool. */
const EXTRACT_BATCH = 32;
/** Query vectors are a pure function of the text: recent ones are kept to skip the model. */
const QUERY_VECTOR_CACHE = 1000;

export interface MemoryLoaders {
  memory: DataLoader<CacheRef, MemoryRecord | null, string>;
  entity: DataLoader<CacheRef, EntityRecord | null, string>;
  access: DataLoader<string, AccessStats | null>;
  mentions: DataLoader<string, string[]>;
  links: DataLoader<string, MemoryLink[]>;
}

export interface RecallArgs {
  agentId: string;
  query: string;
  k: number;
  filter?: FilterInput | null;
  weights?: Partial<Record<string, number | null>> | null;
  queryEmbedding?: number[] | null;
}

export interface MemoryServiceDeps {
  store: MemoryStore;
  embedder: Embedder;
  pool: AnalysisPool;
  cache: CacheLayer;
  events: EventBus;
  agents: AgentDirectory;
  audit: AuditLog;
  /** Keyed fingerprint for exact-duplicate keys (runtime.encryption.fingerprint). */
  fingerprint: (text: string) => string;
  limits: { maxBytes: number };
  /** EMBEDDINGS_CONTEXT_WEIGHT: how much of its session's previous memory a vector carries. */
  contextWeight: number;
  logger: Logger;
}

/** How long a check that the store's vectors are still the embedder's model is trusted. */
const MODEL_CHECK_MS = 5_000;

export class MemoryService {
  readonly tracker: AccessTracker;
  private modelCheck: { at: number; usable: Promise<boolean> } = { at: 0, usable: Promise.resolve(true) };
  private readonly queryVectors = new LRUCache<string, Float32Array>({ max: QUERY_VECTOR_CACHE });

  constructor(private readonly deps: MemoryServiceDeps) {
    this.tracker = new AccessTracker((updates) => deps.store.recordAccess(updates), deps.logger);
    // The same loads serve requests, prefetch and warmAgent; a store in this process can also
    // confirm a near-cache copy by its revision (a memory's and an entity's own).
    const { memoryRevisions, entityRevisions } = deps.store;
    deps.cache.registerSource("MEMORY", {
      load: this.loadMemories,
      probe: memoryRevisions && ((refs: readonly CacheRef[]) => memoryRevisions(refs.map((ref) => ref.id))),
    });
    deps.cache.registerSource("ENTITY", {
      load: this.loadEntities,
      probe: entityRevisions && ((refs: readonly CacheRef[]) => entityRevisions(refs.map((ref) => ref.id))),
    });
  }

  private readonly loadMemories = (refs: readonly CacheRef[]) =>
    this.deps.store.getMemories(refs.map((ref) => ref.id));
  private readonly loadEntities = (refs: readonly CacheRef[]) =>
    this.deps.store.getEntities(refs.map((ref) => ref.id));

  static memoryRef(record: { id: string; agentId: string }): CacheRef {
    return { agentId: record.agentId, id: record.id };
  }

  createLoaders(): MemoryLoaders {
    const { cache, store } = this.deps;
    return {
      memory: cache.loader("MEMORY"),
      entity: cache.loader("ENTITY"),
      access: new DataLoader(async (ids) => {
        await this.tracker.settle();
        return store.accessStats(ids);
      }),
      mentions: new DataLoader((ids) => store.mentions(ids)),
      links: new DataLoader(async (ids) => {
        const links = await store.links(ids);
        return ids.map((id) => links.filter((link) => link.fromId === id || link.toId === id));
      }),
    };
  }

  async config(agentId: string): Promise<MemoryConfig> {
    return withConfigDefaults(await this.deps.store.getConfig(agentId));
  }

  async configure(principal: Principal, agentId: string, input: MemoryConfigInput): Promise<MemoryConfig> {
    // Merged inside the store's transaction: a vote's learning step in between is kept.
    const config = await this.deps.store.updateConfig(agentId, (current) =>
      mergeConfig(withConfigDefaults(current), input),
    );
    await this.deps.audit.record(principal, {
      agentId,
      action: "memory.configure",
      target: null,
      details: null,
    });
    return config;
  }

  listMemories(
    agentId: string,
    first: number,
    after: number | undefined,
    filter: FilterInput | null | undefined,
  ): Promise<Page<MemoryRecord>> {
    return this.deps.store.listMemories(
      agentId,
      first,
      after,
      prepareFilter(filter),
      new Date().toISOString(),
    );
  }

  listEntities(agentId: string, first: number, after: number | undefined): Promise<Page<EntityRecord>> {
    return this.deps.store.listEntities(agentId, first, after);
  }

  relations(entityId: string) {
    return this.deps.store.relations([entityId]);
  }

  async remember(
    principal: Principal,
    agentId: string,
    inputs: readonly MemoryInput[],
  ): Promise<WriteOutcome[]> {
    const { store, limits } = this.deps;
    if (inputs.length === 0) return [];
    if (inputs.length > LIMITS.batch) {
      throw badUserInput(
        `rememberMany takes at most ${LIMITS.batch} inputs per call (got ${inputs.length})`,
        {
          argument: "inputs",
        },
      );
    }
    const single = inputs.length === 1;
    const prepared = inputs.map((input, i) =>
      prepareMemoryInput(input, limits.maxBytes, single ? "input" : `inputs[${i}]`),
    );
    // Client vectors are checked before any work is spent on the others.
    const clientVectors = prepared.map((input, i) =>
      input.embedding
        ? checkVector(
            input.embedding,
            store.dimensions,
            single ? "input.embedding" : `inputs[${i}].embedding`,
          )
        : null,
    );
    if (!(await this.vectorsUsable())) {
      const model = await store.embeddingModel();
      throw unavailable(
        `The memory store's vectors were re-embedded with "${model?.id}"; this server embeds with ` +
          `"${this.deps.embedder.modelId}" and must be restarted with the store's model before it can write`,
      );
    }
    const config = await this.config(agentId);
    if (config.capacity !== null && prepared.length > config.capacity) {
      throw badUserInput(
        `This batch has ${prepared.length} memories but agent "${agentId}" keeps at most ${config.capacity} (capacity)`,
        { argument: "inputs" },
      );
    }

    const [vectors, extracted] = await Promise.all([
      this.embedMissing(prepared, clientVectors),
      this.extractEntities(prepared),
    ]);

    const now = new Date().toISOString();
    const { fingerprint } = this.deps;
    const items: NewMemory[] = prepared.map((input, i) => {
      const entities = mergeEntities(input.entities, extracted[i] ?? []);
      const statement = analyzeStatement(
        input.searchText,
        entities.map((entity) => entity.normalizedName),
      );
      const frame = frameKeyText(statement);
      return {
        record: {
          id: newMemoryId(agentId),
          agentId,
          content: input.content,
          kind: input.kind,
          tags: input.tags,
          importance: input.importance,
          createdAt: now,
          occurredAt: input.occurredAt ?? now,
          metadata: input.metadata,
          modality: input.modality,
          mediaUri: input.mediaUri,
          caption: input.caption,
          // A fact that replaces another holds from when it happened (the old one until then).
          validFrom: input.validFrom ?? (input.supersedes ? (input.occurredAt ?? now) : null),
          validUntil: input.validUntil,
          sessionId: input.sessionId,
          pinned: input.pinned,
          consolidation: null,
          variants: [],
        },
        contentHash: contentHash(input.searchText, fingerprint),
        // Keyed like the content hash, so stored keys do not reveal the text to a dictionary.
        statementKey: fingerprint(`statement\u0000${statement.canonical}`),
        frameKey: frame === null ? null : fingerprint(`frame\u0000${frame}`),
        searchText: input.searchText,
        embedding: vectors[i] ?? null,
        embeddingFromModel: clientVectors[i] === null,
        entities,
        relations: input.relations,
        derivedFrom: input.derivedFrom,
        supersedes: input.supersedes,
      };
    });

    const request: WriteRequest = {
      agentId,
      items,
      dedupThreshold: config.dedupThreshold,
      capacity: config.capacity,
      contradictionPolicy: config.contradictionPolicy,
      contextWeight: this.deps.contextWeight,
      now,
    };
    let result: WriteResult;
    try {
      result = await store.write(writeQuery(request), (snapshot) => planWrite(request, snapshot));
    } catch (error) {
      if (error instanceof UnknownMemoryError) {
        throw notFound(
          `${error.argument}: memory "${error.memoryId}" does not exist for agent "${agentId}"`,
          {
            argument: error.argument,
            memoryId: error.memoryId,
          },
        );
      }
      throw error;
    }
    await this.afterWrite(agentId, result);
    const { outcomes, deletions, invalidations } = result.plan;
    for (const { outcome, memory, contradicts } of outcomes) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "memory.remember",
        target: memory.id,
        details: contradicts.length > 0 ? { outcome, contradicts } : { outcome },
      });
    }
    for (const { id } of invalidations) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "memory.invalidate",
        target: id,
        details: { reason: "superseded" },
      });
    }
    for (const id of deletions) {
      await this.deps.audit.record(principal, {
        agentId,
        action: "memory.evict",
        target: id,
        details: { reason: "capacity" },
      });
    }
    return outcomes;
  }

  /** Cache, directory and events, in that order: a reader must never see the cache lag a returned write. */
  private async afterWrite(agentId: string, result: WriteResult): Promise<void> {
    const { cache, agents, events, logger } = this.deps;
    const { revision, plan } = result;
    const written = new Map<string, MemoryRecord>();
    for (const { memory } of plan.outcomes) written.set(memory.id, memory);
    for (const memory of result.invalidated) written.set(memory.id, memory);
    await Promise.all([
      ...[...written.values()].map((memory) =>
        cache.write("MEMORY", MemoryService.memoryRef(memory), revision, memory),
      ),
      ...plan.deletions.map((id) => cache.write("MEMORY", { agentId, id }, revision, null)),
    ]);
    if (result.firstMemories) await agents.mark(agentId, "memories", true);
    for (const memory of plan.creates.map((item) => written.get(item.record.id) ?? item.record)) {
      // Not awaited: delivery must not hold the mutation (or fail it) while Redis is slow or down.
      events.publish(memoryAddedTopic(agentId), memory).catch((error: unknown) => {
        logger.warn({ err: String(error), agentId }, "could not publish memoryAdded");
      });
    }
  }

  async forget(principal: Principal, agentId: string, id: string): Promise<boolean> {
    const { deleted, revision, remaining } = await this.deps.store.forget(agentId, id);
    if (!deleted) throw notFound(`Memory "${id}" does not exist`, { argument: "id" });
    await this.deps.audit.record(principal, { agentId, action: "memory.forget", target: id, details: null });
    await this.deps.cache.write("MEMORY", { agentId, id }, revision, null);
    if (remaining === 0) await this.deps.agents.mark(agentId, "memories", false);
    return true;
  }

  async recall(args: RecallArgs): Promise<ScoredCandidate[]> {
    const request = await this.recallRequest(args);
    const hits = await recallMemories(this.deps.store, request);
    this.tracker.record(
      hits.map((hit) => ({ id: hit.record.id, components: hit.components })),
      request.now,
    );
    return hits;
  }

  /**
   * Every candidate a recall would rank, with its evidence and the weights it would use, and no
   * side effects (no access is recorded): what the recall benchmark re-weights.
   */
  async recallCandidates(args: RecallArgs): Promise<GatheredCandidates & { weights: RecallWeights }> {
    const request = await this.recallRequest(args);
    return { ...(await gatherCandidates(this.deps.store, request)), weights: request.weights };
  }

  private async recallRequest(args: RecallArgs): Promise<RecallRequest> {
    const { store, embedder } = this.deps;
    const k = checkK(args.k);
    const query = checkQuery(args.query);
    const filter: MemoryFilter = prepareFilter(args.filter);
    const config = await this.config(args.agentId);
    const weights: RecallWeights = mergeWeights(effectiveWeights(config), args.weights, "weights");
    let vector: Float32Array | null = null;
    if (!(await this.vectorsUsable())) vector = null;
    else if (args.queryEmbedding)
      vector = checkVector(args.queryEmbedding, store.dimensions, "queryEmbedding");
    else if (embedder.available) vector = await this.embedQuery(query);
    return {
      agentId: args.agentId,
      query,
      vector,
      k,
      filter,
      weights,
      config,
      now: new Date().toISOString(),
      hasFeedback: config.learned !== null,
    };
  }

  /**
   * Whether the store's vectors are still this embedder's (a re-embedding run by another process
   * may have switched them: `npm run reembed`). If not, recall ranks without the semantic signal
   * and writes are refused, rather than mixing two models, until the server restarts with the
   * store's model. Checked at most every few seconds.
   */
  private vectorsUsable(): Promise<boolean> {
    const now = Date.now();
    if (now - this.modelCheck.at < MODEL_CHECK_MS) return this.modelCheck.usable;
    const { store, embedder, logger } = this.deps;
    const usable = store.embeddingModel().then(
      (model) => {
        const same =
          model === null || (model.id === embedder.modelId && model.dimensions === embedder.dimensions);
        if (!same) {
          logger.error(
            { stored: model, configured: embedder.modelId },
            "the memory store's vectors are now another model's (re-embedded): restart with that model; " +
              "until then recall ranks without meaning and writes are refused",
          );
        }
        return same;
      },
      () => true,
    );
    this.modelCheck = { at: now, usable };
    return usable;
  }

  /** The model that makes this service's vectors (see Embedder.modelId). */
  get embedderModelId(): string {
    return this.deps.embedder.modelId;
  }

  async embedQuery(query: string): Promise<Float32Array> {
    const cached = this.queryVectors.get(query);
    if (cached) return cached;
    const [vector] = await this.deps.embedder.embed([query], "query");
    this.queryVectors.set(query, vector!);
    return vector!;
  }

  async close(): Promise<void> {
    await this.tracker.flush();
  }

  private async embedMissing(
    prepared: readonly PreparedInput[],
    clientVectors: readonly (Float32Array | null)[],
  ): Promise<(Float32Array | null)[]> {
    const { embedder } = this.deps;
    const missing = prepared.flatMap((input, i) => (clientVectors[i] ? [] : [{ i, text: input.searchText }]));
    const vectors = [...clientVectors];
    if (missing.length === 0 || !embedder.available) return vectors;
    const embedded = await embedder.embed(missing.map((entry) => entry.text));
    missing.forEach((entry, position) => {
      vectors[entry.i] = embedded[position]!;
    });
    return vectors;
  }

  private async extractEntities(
    prepared: readonly PreparedInput[],
  ): Promise<{ name: string; type: string }[][]> {
    const wanted = prepared.flatMap((input, i) =>
      input.extractEntities ? [{ i, text: input.searchText }] : [],
    );
    const results: { name: string; type: string }[][] = prepared.map(() => []);
    const chunks: { i: number; text: string }[][] = [];
    for (let start = 0; start < wanted.length; start += EXTRACT_BATCH) {
      chunks.push(wanted.slice(start, start + EXTRACT_BATCH));
    }
    const outputs = await Promise.all(
      chunks.map((chunk) => this.deps.pool.run({ task: "extract", texts: chunk.map((entry) => entry.text) })),
    );
    chunks.forEach((chunk, c) => {
      chunk.forEach((entry, position) => {
        results[entry.i] = outputs[c]![position] ?? [];
      });
    });
    return results;
  }
}

/** Client-named entities win over extracted ones with the same normalised name. */
function mergeEntities(
  explicit: PreparedInput["entities"],
  extracted: readonly { name: string; type: string }[],
): PreparedInput["entities"] {
  const byName = new Map(explicit.map((entity) => [entity.normalizedName, entity]));
  for (const entity of extracted) {
    const normalizedName = normalizeName(entity.name);
    if (normalizedName && !byName.has(normalizedName) && byName.size < LIMITS.entities * 2) {
      byName.set(normalizedName, { name: entity.name, normalizedName, type: entity.type });
    }
  }
  return [...byName.values()];
}
