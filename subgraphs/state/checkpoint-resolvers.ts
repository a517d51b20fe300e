/**
 * GraphQL resolvers of thread checkpoints (the `Checkpoint` part of schema/state.graphql):
 * argument checks and authorisation by agent, then the domain (domain/checkpoints.ts).
 */
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { assertAgentId } from "../../core/agents/agent-id.js";
import { authorizeAgent } from "../../core/auth/authorize.js";
import { connection, decodeCursor, pageSize } from "../../core/graphql/pagination.js";
import type { SubgraphContext } from "../../core/service/subgraph.js";
import type { CheckpointRecord } from "./domain/checkpoint-port.js";
import type {
  CheckpointInput,
  CheckpointLoaders,
  CheckpointService,
  CheckpointWritesInput,
} from "./domain/checkpoints.js";

export interface CheckpointContext extends SubgraphContext {
  checkpointLoaders: CheckpointLoaders;
}

interface AgentRef {
  id: string;
}

interface CheckpointListArgs {
  threadId?: string | null;
  namespace?: string | null;
  before?: string | null;
  filter?: unknown;
  first?: number;
  after?: string;
}

export function createCheckpointResolvers(service: CheckpointService): GraphQLResolverMap<CheckpointContext> {
  /** A thread belongs to an agent: the token must be allowed to read or write that agent. */
  const agentFor = (id: unknown, context: CheckpointContext, access: "read" | "write"): string => {
    const agentId = assertAgentId(id, "agentId");
    authorizeAgent(context.principal, agentId, access);
    return agentId;
  };

  return {
    Agent: {
      // `Query.agent` and entity references already checked read access to the agent.
      checkpoint: (
        agent: AgentRef,
        args: { threadId: string; namespace?: string | null; id?: string | null },
      ) => service.get(agent.id, args),
      checkpoints: async (agent: AgentRef, args: CheckpointListArgs) => {
        const page = await service.list(agent.id, {
          ...args,
          first: pageSize(args.first),
          afterSortKey: decodeCursor(args.after, "string"),
        });
        return connection(page.records, (record) => record.sortKey, page.hasNextPage, page.totalCount);
      },
    },
    Mutation: {
      putCheckpoint: (
        _: unknown,
        args: { agentId: string; input: CheckpointInput },
        context: CheckpointContext,
      ) => service.put(context.principal, agentFor(args.agentId, context, "write"), args.input),
      putCheckpointWrites: (
        _: unknown,
        args: { agentId: string; input: CheckpointWritesInput },
        context: CheckpointContext,
      ) => service.putWrites(agentFor(args.agentId, context, "write"), args.input),
      deleteThread: (_: unknown, args: { agentId: string; threadId: string }, context: CheckpointContext) =>
        service.deleteThread(context.principal, agentFor(args.agentId, context, "write"), args.threadId),
    },
    Checkpoint: {
      id: (record: CheckpointRecord) => record.checkpointId,
      agent: (record: CheckpointRecord): AgentRef => ({ id: record.agentId }),
      channelValues: (record: CheckpointRecord, _: unknown, context: CheckpointContext) =>
        service.channelValuesOf(record, context.checkpointLoaders),
      pendingWrites: (record: CheckpointRecord, _: unknown, context: CheckpointContext) =>
        context.checkpointLoaders.writes.load({
          agentId: record.agentId,
          threadId: record.threadId,
          namespace: record.namespace,
          checkpointId: record.checkpointId,
        }),
    },
  };
}

/** Resolver maps of one subgraph from several files, merged type by type; a field defined twice is a bug. */
export function mergeResolverMaps<TContext>(
  ...maps: GraphQLResolverMap<TContext>[]
): GraphQLResolverMap<TContext> {
  const merged: Record<string, unknown> = {};
  for (const map of maps) {
    for (const [type, resolvers] of Object.entries(map)) {
      const existing = merged[type];
      if (existing === undefined) {
        merged[type] = resolvers;
        continue;
      }
      if (!isPlainObject(existing) || !isPlainObject(resolvers)) {
        throw new Error(`resolvers for ${type} are defined twice`);
      }
      const twice = Object.keys(resolvers).filter((field) => field in existing);
      if (twice.length > 0) throw new Error(`resolvers for ${type}.${twice.join(", ")} are defined twice`);
      merged[type] = { ...existing, ...resolvers };
    }
  }
  return merged as GraphQLResolverMap<TContext>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
