/**
 * The eight tools, each one GraphQL operation on the public API as the caller.
 *
 * Descriptions are written for a model deciding which tool to call and how: what the tool is
 * for, what comes back, and how to recover from the errors it will meet. Input schemas give
 * types, enums and which arguments are required; value rules (id format, sizes, ranges) are
 * left to the API so that breaking one comes back as a tool error with the API's code
 * (BAD_USER_INPUT, PAYLOAD_TOO_LARGE) and message, the same as for any other client.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import {
  FORGET,
  GET_STATE,
  GET_STATE_AT,
  PATCH_STATE,
  PUT_STATE,
  RECALL,
  REMEMBER,
  ROLLBACK_STATE,
  STATE_HISTORY,
  type StateVersion,
} from "./operations.js";
import type { RequestCaller } from "./session.js";
import { toolError, toolSuccess } from "./tool-results.js";

const agentId = z
  .string()
  .describe("The agent's id: 1 to 128 characters of A-Z a-z 0-9 . _ : - (your token must allow this agent)");
const reason = z
  .string()
  .optional()
  .describe("Why this change was made, kept in the version history (optional, short)");
const expectedVersion = z
  .number()
  .int()
  .optional()
  .describe(
    "Write only if this is still the current version (0 = the agent has no state yet); otherwise the " +
      "call fails with VERSION_CONFLICT and the current version. Pass the version you read to avoid " +
      "overwriting a change you have not seen.",
  );
/** Any JSON value; `undefined` is refused so the argument counts as required in the schema. */
const jsonValue = (description: string) =>
  z.custom<unknown>((value) => value !== undefined, { message: "Required" }).describe(description);
const memoryKind = z
  .enum(["EPISODIC", "SEMANTIC", "PROCEDURAL"])
  .describe("EPISODIC: something that happened; SEMANTIC: a fact; PROCEDURAL: how to do something");

const READ = { readOnlyHint: true, openWorldHint: false } as const;
const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

export function registerTools(server: McpServer, caller: RequestCaller): void {
  /** Runs the handler, turning any failure into a tool error with the API's code. */
  const run =
    <A>(handler: (args: A, token: string) => Promise<Record<string, unknown>>) =>
    async (args: A, extra: Parameters<RequestCaller["token"]>[0]): Promise<CallToolResult> => {
      try {
        return toolSuccess(await handler(args, caller.token(extra)));
      } catch (error) {
        return toolError(error);
      }
    };
  const { graphql } = caller;

  server.registerTool(
    "get_state",
    {
      title: "Read an agent's state",
      description:
        "Reads an agent's working state: a JSON document with a version number that grows by one on " +
        "every write. Returns {agentId, state: {version, data, createdAt, author, reason, hash}}, or " +
        "state null when the agent has no state yet (or when `version` names one that does not exist). " +
        "Read before you write and pass the version you got as `expectedVersion` to put_state or " +
        "patch_state.",
      inputSchema: {
        agentId,
        version: z
          .number()
          .int()
          .optional()
          .describe("A past version to read instead of the current one (see state_history)"),
      },
      annotations: READ,
    },
    run(async (args: { agentId: string; version?: number }, token) => {
      if (args.version === undefined) {
        const data = await graphql<{ agent: { state: StateVersion | null } }>(token, GET_STATE, args);
        return { agentId: args.agentId, state: data.agent.state };
      }
      const data = await graphql<{ agent: { stateAt: StateVersion | null } }>(token, GET_STATE_AT, {
        agentId: args.agentId,
        version: args.version,
      });
      return { agentId: args.agentId, state: data.agent.stateAt };
    }),
  );

  server.registerTool(
    "put_state",
    {
      title: "Replace an agent's state",
      description:
        "Writes a whole new state document for an agent, as a new version (the previous versions stay " +
        "in the history). Returns {agentId, version, createdAt, hash}. To change a few fields, prefer " +
        "patch_state. With expectedVersion the write happens only if nobody wrote since you read; on " +
        "VERSION_CONFLICT, read the state again (get_state), reapply your change and retry.",
      inputSchema: {
        agentId,
        data: jsonValue("The complete new state: any JSON value, usually an object"),
        expectedVersion,
        reason,
      },
      annotations: WRITE,
    },
    run(
      async (args: { agentId: string; data: unknown; expectedVersion?: number; reason?: string }, token) => {
        const data = await graphql<{ putState: StateVersion }>(token, PUT_STATE, args);
        return { agentId: args.agentId, ...data.putState };
      },
    ),
  );

  server.registerTool(
    "patch_state",
    {
      title: "Change part of an agent's state",
      description:
        "Applies a patch to an agent's current state and writes the result as a new version. " +
        'MERGE_PATCH (default, RFC 7396): an object whose members replace the state\'s, null deletes a member, e.g. {"step": 2, "draft": null}. ' +
        'JSON_PATCH (RFC 6902): a list of operations, e.g. [{"op": "add", "path": "/todo/-", "value": "test"}]. ' +
        "Returns {agentId, version, data, createdAt, hash} with the patched document. Fails with " +
        "VERSION_CONFLICT when expectedVersion is not current, and with BAD_USER_INPUT when the patch " +
        "does not apply (a JSON Patch path that does not exist, a failed test operation).",
      inputSchema: {
        agentId,
        patch: jsonValue("The patch: an object for MERGE_PATCH, an array of operations for JSON_PATCH"),
        format: z
          .enum(["MERGE_PATCH", "JSON_PATCH"])
          .optional()
          .describe("The patch format (default MERGE_PATCH)"),
        expectedVersion,
        reason,
      },
      annotations: WRITE,
    },
    run(
      async (
        args: { agentId: string; patch: unknown; format?: string; expectedVersion?: number; reason?: string },
        token,
      ) => {
        const data = await graphql<{ patchState: StateVersion }>(token, PATCH_STATE, args);
        return { agentId: args.agentId, ...data.patchState };
      },
    ),
  );

  server.registerTool(
    "state_history",
    {
      title: "List an agent's state versions",
      description:
        "Lists an agent's state versions, newest first, each with {version, createdAt, author, reason, " +
        "diff} where diff is the RFC 6902 change from the previous version. Returns {agentId, " +
        "totalCount, versions, nextCursor}; pass nextCursor as `after` for the next page (null: no more). " +
        "Use it to find the version to give rollback_state.",
      inputSchema: {
        agentId,
        first: z.number().int().optional().describe("How many versions (default 20, at most 100)"),
        after: z.string().optional().describe("The nextCursor of the previous page"),
        includeData: z
          .boolean()
          .optional()
          .describe("Also return each version's whole document (default false: diffs only, fewer tokens)"),
      },
      annotations: READ,
    },
    run(async (args: { agentId: string; first?: number; after?: string; includeData?: boolean }, token) => {
      interface Page {
        agent: {
          history: {
            totalCount: number;
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
            edges: { node: Record<string, unknown> }[];
          };
        };
      }
      const data = await graphql<Page>(token, STATE_HISTORY, {
        agentId: args.agentId,
        first: args.first,
        after: args.after,
        includeData: args.includeData ?? false,
      });
      const { history } = data.agent;
      return {
        agentId: args.agentId,
        totalCount: history.totalCount,
        versions: history.edges.map((edge) => edge.node),
        nextCursor: history.pageInfo.hasNextPage ? history.pageInfo.endCursor : null,
      };
    }),
  );

  server.registerTool(
    "rollback_state",
    {
      title: "Restore an earlier state version",
      description:
        "Makes an earlier version's document current again by writing it as a new version (history " +
        "stays linear: nothing is deleted). Returns {agentId, version, data, createdAt, hash}. Fails " +
        "with NOT_FOUND when that version does not exist or was pruned.",
      inputSchema: {
        agentId,
        toVersion: z.number().int().describe("The version whose document to restore (see state_history)"),
        reason,
      },
      annotations: { ...WRITE, idempotentHint: false },
    },
    run(async (args: { agentId: string; toVersion: number; reason?: string }, token) => {
      const data = await graphql<{ rollbackState: StateVersion }>(token, ROLLBACK_STATE, args);
      return { agentId: args.agentId, ...data.rollbackState };
    }),
  );

  server.registerTool(
    "remember",
    {
      title: "Store a long-term memory",
      description:
        "Stores something worth recalling later as one of an agent's long-term memories: a fact, an " +
        'event, a preference, a how-to. Write one self-contained statement per memory ("Ada prefers ' +
        'green tea", not "she likes it"). People, places and topics are extracted from the text. ' +
        "Returns {outcome, memory, contradicts, superseded}. outcome CREATED: stored; MERGED: the " +
        "same statement already existed and is returned instead of a copy; SUPERSEDED: stored, and " +
        "the memory named by `supersedes` (returned as superseded) stops being recalled as true. " +
        "contradicts lists valid memories that say otherwise about the same thing: if the new fact " +
        "replaces one of them, call remember with `supersedes` set to its id, or forget it.",
      inputSchema: {
        agentId,
        content: z.string().describe("The memory, as one self-contained statement"),
        kind: memoryKind.optional(),
        tags: z.array(z.string()).optional().describe("Labels to filter recall by"),
        importance: z.number().optional().describe("0 to 1 (default 0.5); important memories rank higher"),
        occurredAt: z
          .string()
          .optional()
          .describe("When it happened, ISO 8601 (default now), e.g. 2026-05-01T09:00:00Z"),
        sessionId: z.string().optional().describe("Memories of one session are linked in order"),
        pinned: z.boolean().optional().describe("Never forgotten nor merged away (default false)"),
        supersedes: z
          .string()
          .optional()
          .describe("Id of an older memory this one replaces; the old one stops being recalled"),
        metadata: z.record(z.unknown()).optional().describe("Any JSON object to keep with the memory"),
      },
      annotations: WRITE,
    },
    run(async (args: { agentId: string } & Record<string, unknown>, token) => {
      const { agentId: id, ...input } = args;
      const data = await graphql<{ remember: Record<string, unknown> }>(token, REMEMBER, {
        agentId: id,
        input,
      });
      return data.remember;
    }),
  );

  server.registerTool(
    "recall",
    {
      title: "Recall memories",
      description:
        "Finds an agent's memories that best answer a question or match a topic, ranked by meaning, " +
        "words, connections between people and things, time, recency and importance. Ask in natural " +
        'language ("What does Ada drink?", "deadlines in May"). Returns {hits: [{score, memory}]}, best ' +
        "first; score is 0 to 1. Memories whose fact was superseded are left out unless " +
        "filter.includeInvalid.",
      inputSchema: {
        agentId,
        query: z.string().describe("What you want to know, in natural language"),
        k: z.number().int().optional().describe("How many memories to return (default 10)"),
        filter: z
          .object({
            kinds: z.array(memoryKind).optional(),
            tags: z.array(z.string()).optional().describe("Memories with at least one of these tags"),
            occurredAfter: z.string().optional().describe("ISO 8601; occurredAt at or after it"),
            occurredBefore: z.string().optional().describe("ISO 8601; occurredAt before it"),
            sessionId: z.string().optional(),
            asOf: z
              .string()
              .optional()
              .describe("ISO 8601: answer as of this moment (facts valid then, memories created by then)"),
            includeInvalid: z.boolean().optional().describe("Also return facts no longer valid"),
          })
          .optional()
          .describe("Narrows the candidates before ranking"),
      },
      annotations: READ,
    },
    run(async (args: { agentId: string; query: string; k?: number; filter?: object }, token) => {
      const data = await graphql<{ recall: unknown[] }>(token, RECALL, args);
      return { hits: data.recall };
    }),
  );

  server.registerTool(
    "forget",
    {
      title: "Delete a memory",
      description:
        "Deletes one memory for good, by id (ids look like <agentId>/<uuid>, as remember and recall " +
        "return them). Returns {id, forgotten: true}; NOT_FOUND if no such memory exists. To record " +
        "that a fact changed, prefer remember with `supersedes`, which keeps the old fact in time.",
      inputSchema: {
        id: z.string().describe("The memory's id, e.g. planner/0b5e…"),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    run(async (args: { id: string }, token) => {
      const data = await graphql<{ forget: boolean }>(token, FORGET, args);
      return { id: args.id, forgotten: data.forget };
    }),
  );
}
