/**
 * GraphQL resolvers of the memory subgraph: argument checks and authorisation, then the domain.
 * Every entry point (fields with an agent argument, ids that name an agent's memory, entity
 * references) goes through `authorizeAgent`.
 */
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { JSONResolver } from "graphql-scalars";
import { assertAgentId } from "../../core/agents/agent-id.js";
import { authorizeAgent } from "../../core/auth/authorize.js";
import { notFound } from "../../core/errors.js";
import type { EventBus } from "../../core/events.js";
import { decodeCursor, encodeCursor, pageSize } from "../../core/graphql/pagination.js";
import type { SubgraphContext } from "../../core/service/subgraph.js";
import { entityOwner, memoryOwner } from "./domain/ids.js";
import type { FilterInput, MemoryConfigInput, MemoryInput } from "./domain/input.js";
import type { MemoryMaintenance } from "./domain/maintenance.js";
import {
  type MemoryLoaders,
  MemoryService,
  memoryAddedTopic,
  type RecallArgs,
} from "./domain/memory-service.js";
import type { EntityRecord, MemoryConfig, MemoryLinkType, MemoryRecord } from "./domain/model.js";
import type { ScoredCandidate } from "./domain/scoring.js";
import type { Page, WriteOutcome } from "./domain/store-port.js";
import { DateTimeInput } from "./scalars.js";

export interface MemoryContext extends SubgraphContext {
  loaders: MemoryLoaders;
}

interface AgentRef {
  id: string;
}

export function createMemoryResolvers(
  service: MemoryService,
  events: EventBus,
  maintenance: MemoryMaintenance,
): GraphQLResolverMap<MemoryContext> {
  const agentFor = (id: unknown, context: MemoryContext, access: "read" | "write", argument = "agentId") => {
    const agentId = assertAgentId(id, argument);
    authorizeAgent(context.principal, agentId, access);
    return agentId;
  };

  /** Loads a memory by id after checking the caller may read its agent; null if it does not exist. */
  const readMemory = async (id: string, context: MemoryContext): Promise<MemoryRecord | null> => {
    const agentId = memoryOwner(id);
    if (!agentId) return null;
    authorizeAgent(context.principal, agentId, "read");
    return context.loaders.memory.load({ agentId, id });
  };

  /** The agent of a memory id, after checking the caller may write it; NOT_FOUND for a malformed id. */
  const writableMemory = (id: string, context: MemoryContext) => {
    const agentId = memoryOwner(id);
    if (!agentId) throw notFound(`Memory "${String(id).slice(0, 200)}" does not exist`, { argument: "id" });
    return { agentId, principal: authorizeAgent(context.principal, agentId, "write") };
  };

  const readEntity = async (id: string, context: MemoryContext): Promise<EntityRecord | null> => {
    const agentId = entityOwner(id);
    if (!agentId) return null;
    authorizeAgent(context.principal, agentId, "read");
    return context.loaders.entity.load({ agentId, id });
  };

  return {
    JSON: JSONResolver,
    DateTime: DateTimeInput,
    Query: {
      memory: (_: unknown, args: { id: string }, context: MemoryContext) => readMemory(args.id, context),
      recall: async (_: unknown, args: RecallArgs, context: MemoryContext) => {
        const agentId = agentFor(args.agentId, context, "read");
        const hits = await service.recall({ ...args, agentId });
        return hits.map((hit: ScoredCandidate) => ({
          memory: hit.record,
          score: hit.score,
          components: hit.components,
        }));
      },
    },
    Mutation: {
      remember: async (_: unknown, args: { agentId: string; input: MemoryInput }, context: MemoryContext) => {
        const agentId = agentFor(args.agentId, context, "write");
        const [result] = await service.remember(context.principal, agentId, [args.input]);
        return toRememberResult(result!, context);
      },
      rememberMany: async (
        _: unknown,
        args: { agentId: string; inputs: MemoryInput[] },
        context: MemoryContext,
      ) => {
        const agentId = agentFor(args.agentId, context, "write");
        const results = await service.remember(context.principal, agentId, args.inputs);
        return results.map((result) => toRememberResult(result, context));
      },
      forget: (_: unknown, args: { id: string }, context: MemoryContext) => {
        const agentId = memoryOwner(args.id);
        if (!agentId) throw notFound(`Memory "${args.id.slice(0, 200)}" does not exist`, { argument: "id" });
        authorizeAgent(context.principal, agentId, "write");
        return service.forget(context.principal, agentId, args.id);
      },
      configureMemory: (
        _: unknown,
        args: { agentId: string; config: MemoryConfigInput },
        context: MemoryContext,
      ) => service.configure(context.principal, agentFor(args.agentId, context, "write"), args.config),
      reinforceMemory: (_: unknown, args: { id: string; useful: boolean }, context: MemoryContext) => {
        const { agentId, principal } = writableMemory(args.id, context);
        return maintenance.reinforce(principal, agentId, args.id, args.useful);
      },
      resetLearning: (_: unknown, args: { agentId: string }, context: MemoryContext) => {
        const agentId = agentFor(args.agentId, context, "write");
        return maintenance.resetLearning(context.principal!, agentId);
      },
      runForgetting: (_: unknown, args: { agentId: string }, context: MemoryContext) => {
        const agentId = agentFor(args.agentId, context, "write");
        return maintenance.runForgetting(context.principal!, agentId);
      },
      consolidateMemories: (
        _: unknown,
        args: { agentId: string; threshold?: number | null },
        context: MemoryContext,
      ) => {
        const agentId = agentFor(args.agentId, context, "write");
        return maintenance.consolidate(context.principal!, agentId, args.threshold);
      },
      invalidateMemory: (_: unknown, args: { id: string; at?: unknown }, context: MemoryContext) => {
        const { agentId, principal } = writableMemory(args.id, context);
        return maintenance.invalidate(principal, agentId, args.id, args.at);
      },
    },
    Subscription: {
      memoryAdded: {
        subscribe: (_: unknown, args: { agentId: string }, context: MemoryContext) =>
          events.subscribe<MemoryRecord>(memoryAddedTopic(agentFor(args.agentId, context, "read"))),
        // A WebSocket connection keeps one context for its whole life: fresh loaders per event keep
        // DataLoader caches from growing with every event and from serving earlier reads.
        resolve: (payload: MemoryRecord, _: unknown, context: MemoryContext) => {
          context.loaders = service.createLoaders();
          return payload;
        },
      },
    },
    Agent: {
      __resolveReference: (reference: AgentRef, context: MemoryContext): AgentRef => ({
        id: agentFor(reference.id, context, "read", "id"),
      }),
      memories: async (agent: AgentRef, args: { first?: number; after?: string; filter?: FilterInput }) =>
        toConnection(
          await service.listMemories(
            agent.id,
            pageSize(args.first),
            decodeCursor(args.after, "number"),
            args.filter,
          ),
        ),
      entities: async (agent: AgentRef, args: { first?: number; after?: string }) =>
        toConnection(
          await service.listEntities(agent.id, pageSize(args.first), decodeCursor(args.after, "number")),
        ),
      memoryConfig: (agent: AgentRef) => service.config(agent.id),
    },
    MemoryConfig: {
      learnedWeights: (config: MemoryConfig) => config.learned?.weights ?? null,
      feedbackCount: (config: MemoryConfig) => config.learned?.updates ?? 0,
    },
    Memory: {
      __resolveReference: (reference: { id: string }, context: MemoryContext) =>
        readMemory(reference.id, context),
      agent: (memory: MemoryRecord): AgentRef => ({ id: memory.agentId }),
      lastAccessedAt: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await context.loaders.access.load(memory.id))?.lastAccessedAt ?? null,
      accessCount: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await context.loaders.access.load(memory.id))?.accessCount ?? 0,
      usefulCount: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await context.loaders.access.load(memory.id))?.usefulCount ?? 0,
      notUsefulCount: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await context.loaders.access.load(memory.id))?.notUsefulCount ?? 0,
      entities: async (memory: MemoryRecord, _: unknown, context: MemoryContext) => {
        const ids = await context.loaders.mentions.load(memory.id);
        const entities = await context.loaders.entity.loadMany(
          ids.map((id) => ({ agentId: memory.agentId, id })),
        );
        return entities.filter(
          (entity): entity is EntityRecord => entity !== null && !(entity instanceof Error),
        );
      },
      follows: async (memory: MemoryRecord, _: unknown, context: MemoryContext) => {
        const links = await context.loaders.links.load(memory.id);
        const previous = links.find((link) => link.type === "FOLLOWS" && link.fromId === memory.id);
        return previous
          ? context.loaders.memory.load(MemoryService.memoryRef({ ...memory, id: previous.toId }))
          : null;
      },
      derivedFrom: (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        linked(memory, context, "DERIVED_FROM", "outgoing"),
      contradicts: (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        linked(memory, context, "CONTRADICTS", "both"),
      supersedes: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await linked(memory, context, "SUPERSEDES", "outgoing"))[0] ?? null,
      supersededBy: async (memory: MemoryRecord, _: unknown, context: MemoryContext) =>
        (await linked(memory, context, "SUPERSEDES", "incoming"))[0] ?? null,
    },
    Entity: {
      related: async (entity: EntityRecord, _: unknown, context: MemoryContext) => {
        const relations = await service.relations(entity.id);
        const related = await Promise.all(
          relations.map(async (relation) => {
            const outgoing = relation.fromId === entity.id;
            const other = await readEntity(outgoing ? relation.toId : relation.fromId, context);
            return other
              ? { type: relation.type, entity: other, direction: outgoing ? "OUTGOING" : "INCOMING" }
              : null;
          }),
        );
        return related.filter((relation) => relation !== null);
      },
    },
  };
}

/** A write's outcome as the API shows it: the memories it contradicts and replaced are loaded on demand. */
function toRememberResult(result: WriteOutcome, context: MemoryContext) {
  const load = (id: string) => context.loaders.memory.load({ agentId: result.memory.agentId, id });
  return {
    outcome: result.outcome,
    memory: result.memory,
    contradicts: async () =>
      (await Promise.all(result.contradicts.map(load))).filter((m): m is MemoryRecord => m !== null),
    superseded: async () =>
      result.outcome === "SUPERSEDED"
        ? ((await linked(result.memory, context, "SUPERSEDES", "outgoing"))[0] ?? null)
        : null,
  };
}

/** The memories at the other end of a memory's links of one type, in the given direction. */
async function linked(
  memory: MemoryRecord,
  context: MemoryContext,
  type: MemoryLinkType,
  direction: "outgoing" | "incoming" | "both",
): Promise<MemoryRecord[]> {
  const links = await context.loaders.links.load(memory.id);
  const others = links.flatMap((link) => {
    if (link.type !== type) return [];
    if (link.fromId === memory.id && direction !== "incoming") return [link.toId];
    if (link.toId === memory.id && direction !== "outgoing") return [link.fromId];
    return [];
  });
  const records = await context.loaders.memory.loadMany(
    [...new Set(others)].map((id) => ({ agentId: memory.agentId, id })),
  );
  return records.filter((record): record is MemoryRecord => record !== null && !(record instanceof Error));
}

/** Store pages carry their own cursors (row positions), which need not be node fields. */
function toConnection<T>(page: Page<T>) {
  const edges = page.items.map((item) => ({ cursor: encodeCursor(item.cursor), node: item.node }));
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: page.totalCount,
  };
}
