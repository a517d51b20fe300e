import { randomUUID } from "node:crypto";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { DateTimeResolver } from "graphql-scalars";
import { assertAgentId } from "../../core/agents/agent-id.js";
import type { AgentDirectory } from "../../core/agents/directory.js";
import { authorizeAgent } from "../../core/auth/authorize.js";
import { badUserInput } from "../../core/errors.js";
import { connection, decodeCursor, pageSize } from "../../core/graphql/pagination.js";
import type { SubgraphContext } from "../../core/service/subgraph.js";
import type { MemoryRecord, MemoryStore } from "./store/port.js";

export type MemoryContext = SubgraphContext;

export function createMemoryResolvers(
  store: MemoryStore,
  agents: AgentDirectory,
  limits: { maxBytes: number },
): GraphQLResolverMap<MemoryContext> {
  const agentFor = (id: unknown, context: MemoryContext, access: "read" | "write", argument = "agentId") => {
    const agentId = assertAgentId(id, argument);
    authorizeAgent(context.principal, agentId, access);
    return agentId;
  };
  return {
    DateTime: DateTimeResolver,
    Query: {
      memory: async (_: unknown, args: { id: string }, context: MemoryContext) => {
        const [record] = await store.getMany([args.id]);
        if (!record) return null;
        authorizeAgent(context.principal, record.agentId, "read");
        return record;
      },
    },
    Mutation: {
      remember: async (
        _: unknown,
        args: { agentId: string; input: { content: string } },
        context: MemoryContext,
      ) => {
        const agentId = agentFor(args.agentId, context, "write");
        const content = args.input.content;
        if (content.trim().length === 0) throw badUserInput("input.content must not be empty");
        if (Buffer.byteLength(content) > limits.maxBytes) {
          throw badUserInput(`input.content is larger than ${limits.maxBytes} bytes (MEMORY_MAX_BYTES)`);
        }
        const record: MemoryRecord = {
          id: randomUUID(),
          agentId,
          content,
          createdAt: new Date().toISOString(),
        };
        await store.insert(record);
        await agents.mark(agentId, "memories", true);
        return { memory: record, outcome: "CREATED" };
      },
    },
    Agent: {
      __resolveReference: (reference: { id: string }, context: MemoryContext) => ({
        id: agentFor(reference.id, context, "read", "id"),
      }),
      memories: async (agent: { id: string }, args: { first?: number; after?: string }) => {
        const first = pageSize(args.first);
        const after = decodeCursor(args.after, "string");
        const page = await store.list(agent.id, first, after);
        return connection(page.records, (record) => record.id, page.hasNextPage, page.totalCount);
      },
    },
    Memory: {
      agent: (record: MemoryRecord) => ({ id: record.agentId }),
    },
  };
}
