/**
 * GraphQL resolvers of the state subgraph: argument checks and authorisation, then the domain.
 */
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { DateTimeResolver, JSONResolver } from "graphql-scalars";
import { assertAgentId } from "../../core/agents/agent-id.js";
import type { AgentDirectory } from "../../core/agents/directory.js";
import { type AuditLog, SYSTEM_AUDIT_SCOPE } from "../../core/audit/audit-log.js";
import { authorizeAdmin, authorizeAgent, visibleAgentIds } from "../../core/auth/authorize.js";
import type { EventBus } from "../../core/events.js";
import { connection, decodeCursor, pageSize } from "../../core/graphql/pagination.js";
import type { SubgraphContext } from "../../core/service/subgraph.js";
import type { JsonValue } from "./domain/json.js";
import { diffStates, type PatchFormat } from "./domain/patch.js";
import { agentStateTopic, assertPositive, type StateLoaders, StateService } from "./domain/state-service.js";
import type { StateVersionRecord } from "./domain/store-port.js";

export interface StateContext extends SubgraphContext {
  loaders: StateLoaders;
}

interface AgentRef {
  id: string;
}

export function createStateResolvers(
  service: StateService,
  events: EventBus,
  agents: AgentDirectory,
  audit: AuditLog,
): GraphQLResolverMap<StateContext> {
  /** Validates the id and checks the caller may access it; the one entry for every agent argument. */
  const agentFor = (
    id: unknown,
    context: StateContext,
    access: "read" | "write",
    argument = "agentId",
  ): string => {
    const agentId = assertAgentId(id, argument);
    authorizeAgent(context.principal, agentId, access);
    return agentId;
  };

  return {
    JSON: JSONResolver,
    DateTime: DateTimeResolver,
    Query: {
      agent: (_: unknown, args: { id: string }, context: StateContext): AgentRef => ({
        id: agentFor(args.id, context, "read", "id"),
      }),
      agents: async (_: unknown, args: { first?: number; after?: string }, context: StateContext) => {
        const first = pageSize(args.first);
        const after = decodeCursor(args.after, "string");
        const page = await agents.list({ first, after, only: visibleAgentIds(context.principal) });
        return connection(
          page.ids.map((id) => ({ id })),
          (agent) => agent.id,
          page.hasNextPage,
          page.totalCount,
        );
      },
      verifyHistory: async (_: unknown, args: { agentId: string }, context: StateContext) =>
        service.verifyHistory(agentFor(args.agentId, context, "read")),
      auditLog: async (
        _: unknown,
        args: { agentId: string; first?: number; after?: string },
        context: StateContext,
      ) => {
        authorizeAdmin(context.principal);
        const agentId =
          args.agentId === SYSTEM_AUDIT_SCOPE ? SYSTEM_AUDIT_SCOPE : assertAgentId(args.agentId);
        const page = await audit.list(agentId, pageSize(args.first), decodeCursor(args.after, "number"));
        return connection(page.entries, (entry) => entry.seq, page.hasNextPage, page.totalCount);
      },
    },
    Mutation: {
      putState: (
        _: unknown,
        args: { agentId: string; data: JsonValue; expectedVersion?: number; reason?: string },
        context: StateContext,
      ) =>
        service.putState(context.principal, { ...args, agentId: agentFor(args.agentId, context, "write") }),
      patchState: (
        _: unknown,
        args: {
          agentId: string;
          patch: JsonValue;
          format: PatchFormat;
          expectedVersion?: number;
          reason?: string;
        },
        context: StateContext,
      ) =>
        service.patchState(context.principal, { ...args, agentId: agentFor(args.agentId, context, "write") }),
      rollbackState: (
        _: unknown,
        args: { agentId: string; toVersion: number; reason?: string },
        context: StateContext,
      ) =>
        service.rollbackState(context.principal, {
          ...args,
          agentId: agentFor(args.agentId, context, "write"),
        }),
      deleteAgent: (_: unknown, args: { id: string }, context: StateContext) =>
        service.deleteAgent(context.principal, agentFor(args.id, context, "write", "id")),
      pruneHistory: (_: unknown, args: { agentId: string; keepLast: number }, context: StateContext) =>
        service.pruneHistory(context.principal, agentFor(args.agentId, context, "write"), args.keepLast),
    },
    Subscription: {
      agentStateChanged: {
        subscribe: (_: unknown, args: { agentId: string }, context: StateContext) =>
          events.subscribe<StateVersionRecord>(agentStateTopic(agentFor(args.agentId, context, "read"))),
        resolve: (payload: StateVersionRecord) => payload,
      },
    },
    Agent: {
      __resolveReference: (reference: AgentRef, context: StateContext): AgentRef => ({
        id: agentFor(reference.id, context, "read", "id"),
      }),
      state: (agent: AgentRef, _: unknown, context: StateContext) =>
        context.loaders.current.load(StateService.currentRef(agent.id)),
      stateAt: (agent: AgentRef, args: { version: number }, context: StateContext) => {
        assertPositive(args.version, "version");
        return context.loaders.version.load(StateService.versionRef(agent.id, args.version));
      },
      history: async (agent: AgentRef, args: { first?: number; after?: string }) => {
        const first = pageSize(args.first);
        const before = decodeCursor(args.after, "number");
        const page = await service.history(agent.id, first, before);
        return connection(page.records, (record) => record.version, page.hasNextPage, page.totalCount);
      },
    },
    AgentState: {
      agent: (record: StateVersionRecord): AgentRef => ({ id: record.agentId }),
      diff: async (record: StateVersionRecord, _: unknown, context: StateContext) => {
        if (record.version === 1) return diffStates(undefined, record.data);
        const previous = await context.loaders.version.load(
          StateService.versionRef(record.agentId, record.version - 1),
        );
        return previous ? diffStates(previous.data, record.data) : null;
      },
    },
  };
}
