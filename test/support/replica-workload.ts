/**
 * The client side of the multi-replica run: writers that each own an agent, write its state and
 * memories through one way in and read them back through another, checking that every read
 * returns at least what the writer was last told was written; subscribers that watch those
 * agents on a given gateway; and the final check that every acknowledged write is stored.
 */
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { type GraphQLResponse, postGraphQL } from "./graphql-client.js";
import { wsUrl } from "./subscriptions.js";

export interface WriterLog {
  agentId: string;
  /** Writes the gateway acknowledged: the version it returned and the `seq` written in it. */
  acked: { version: number; seq: number; at: number }[];
  memories: { id: string; content: string }[];
}

export interface WorkloadStats {
  writes: { attempted: number; acknowledged: number; failed: number };
  reads: { attempted: number; ok: number; failed: number };
  /** Reads that returned an older version than the writer's last acknowledged one (must stay empty). */
  staleReads: string[];
  /** Acknowledged operations (writes and reads) per second of the run. */
  perSecond: number[];
  latenciesMs: number[];
  /** Failure messages by kind, for the report. */
  failures: Record<string, number>;
}

export interface WorkloadOptions {
  writers: number;
  durationMs: number;
  agentPrefix: string;
  token: string;
  /** Where writer `i` sends writes and where it reads them back. */
  writeUrl: (writer: number) => string;
  readUrl: (writer: number) => string;
  /** Every this many writes, a writer also remembers something and reads it back. */
  memoryEvery: number;
}

const PUT = `mutation Put($agentId: ID!, $data: JSON!) { putState(agentId: $agentId, data: $data) { version } }`;
const READ = `query Read($id: ID!) { agent(id: $id) { state { version data } } }`;
const REMEMBER = `mutation Remember($agentId: ID!, $content: String!) {
  remember(agentId: $agentId, input: { content: $content }) { memory { id } }
}`;
const READ_MEMORY = `query ReadMemory($id: ID!) { memory(id: $id) { content } }`;

export async function runWorkload(
  options: WorkloadOptions,
): Promise<{ logs: WriterLog[]; stats: WorkloadStats }> {
  const headers = { authorization: `Bearer ${options.token}` };
  const stats: WorkloadStats = {
    writes: { attempted: 0, acknowledged: 0, failed: 0 },
    reads: { attempted: 0, ok: 0, failed: 0 },
    staleReads: [],
    perSecond: [],
    latenciesMs: [],
    failures: {},
  };
  const started = performance.now();
  const deadline = started + options.durationMs;
  const tick = () => {
    const second = Math.floor((performance.now() - started) / 1000);
    stats.perSecond[second] = (stats.perSecond[second] ?? 0) + 1;
  };
  const fail = (what: string, reason: string) => {
    const key = `${what}: ${reason.slice(0, 80)}`;
    stats.failures[key] = (stats.failures[key] ?? 0) + 1;
  };
  /** One GraphQL call; null when it failed (network error or GraphQL error). */
  const call = async <T>(what: string, url: string, query: string, variables: Record<string, unknown>) => {
    const t0 = performance.now();
    try {
      const response = await postGraphQL<T>(url, query, variables, headers);
      if (response.errors?.length) {
        fail(what, String(response.errors[0]!.extensions?.code ?? response.errors[0]!.message));
        return null;
      }
      stats.latenciesMs.push(performance.now() - t0);
      tick();
      return response.data!;
    } catch (error) {
      fail(
        what,
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error),
      );
      return null;
    }
  };

  const logs = Array.from({ length: options.writers }, (_, i) => ({
    agentId: `${options.agentPrefix}-${i}`,
    acked: [],
    memories: [],
  })) as WriterLog[];

  await Promise.all(
    logs.map(async (log, writer) => {
      let seq = 0;
      while (performance.now() < deadline) {
        seq++;
        stats.writes.attempted++;
        const put = await call<{ putState: { version: number } }>("putState", options.writeUrl(writer), PUT, {
          agentId: log.agentId,
          data: { writer: log.agentId, seq },
        });
        if (!put) {
          stats.writes.failed++;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        stats.writes.acknowledged++;
        const acked = { version: put.putState.version, seq, at: Date.now() };
        log.acked.push(acked);

        stats.reads.attempted++;
        const read = await call<{
          agent: { state: { version: number; data: { seq: number } } | null } | null;
        }>("read state", options.readUrl(writer), READ, { id: log.agentId });
        if (!read) stats.reads.failed++;
        else {
          stats.reads.ok++;
          const state = read.agent?.state;
          if (
            !state ||
            state.version < acked.version ||
            (state.version === acked.version && state.data.seq !== seq)
          ) {
            stats.staleReads.push(
              `${log.agentId}: wrote version ${acked.version} (seq ${seq}), then read ${state ? `version ${state.version} (seq ${state.data.seq})` : "nothing"}`,
            );
          }
        }

        if (seq % options.memoryEvery !== 0) continue;
        const content = `${log.agentId} remembers note ${seq}`;
        stats.writes.attempted++;
        const remembered = await call<{ remember: { memory: { id: string } } }>(
          "remember",
          options.writeUrl(writer),
          REMEMBER,
          { agentId: log.agentId, content },
        );
        if (!remembered) {
          stats.writes.failed++;
          continue;
        }
        stats.writes.acknowledged++;
        const id = remembered.remember.memory.id;
        log.memories.push({ id, content });
        stats.reads.attempted++;
        const memory = await call<{ memory: { content: string } | null }>(
          "read memory",
          options.readUrl(writer),
          READ_MEMORY,
          {
            id,
          },
        );
        if (!memory) stats.reads.failed++;
        else {
          stats.reads.ok++;
          if (memory.memory?.content !== content) {
            stats.staleReads.push(
              `${log.agentId}: remembered ${id}, then read ${JSON.stringify(memory.memory)}`,
            );
          }
        }
      }
    }),
  );
  return { logs, stats };
}

const HISTORY = `query History($id: ID!, $after: String) {
  agent(id: $id) { history(first: 100, after: $after) {
    edges { node { version data } } pageInfo { hasNextPage endCursor }
  } }
}`;

interface HistoryPage {
  edges: { node: { version: number; data: { writer: string; seq: number } } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Every acknowledged write that the store does not hold exactly as acknowledged. */
export async function missingAcknowledgedWrites(
  url: string,
  token: string,
  logs: WriterLog[],
): Promise<string[]> {
  const headers = { authorization: `Bearer ${token}` };
  const missing: string[] = [];
  for (const log of logs) {
    const stored = new Map<number, { writer: string; seq: number }>();
    let after: string | null = null;
    for (;;) {
      const response: GraphQLResponse<{ agent: { history: HistoryPage } }> = await postGraphQL(
        url,
        HISTORY,
        { id: log.agentId, after },
        headers,
      );
      if (response.errors) throw new Error(`history of ${log.agentId}: ${JSON.stringify(response.errors)}`);
      const page: HistoryPage = response.data!.agent.history;
      for (const { node } of page.edges) stored.set(node.version, node.data);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    for (const acked of log.acked) {
      const data = stored.get(acked.version);
      if (!data || data.seq !== acked.seq || data.writer !== log.agentId) {
        missing.push(
          `${log.agentId} version ${acked.version} (seq ${acked.seq}): stored ${JSON.stringify(data ?? null)}`,
        );
      }
    }
    for (const memory of log.memories) {
      const response = await postGraphQL<{ memory: { content: string } | null }>(
        url,
        READ_MEMORY,
        { id: memory.id },
        headers,
      );
      if (response.data?.memory?.content !== memory.content)
        missing.push(`${log.agentId} memory ${memory.id}`);
    }
  }
  return missing;
}

export interface WatchedEvent {
  agentId: string;
  version: number;
  at: number;
}

/** graphql-ws subscriptions to agentStateChanged of each agent, on one gateway. */
export class AgentWatcher {
  readonly events: WatchedEvent[] = [];
  /** Set when the gateway closed the connection (it was killed). */
  closedAt: number | null = null;
  private readonly client;

  constructor(gatewayUrl: string, token: string, agentIds: string[]) {
    this.client = createClient({
      url: wsUrl(gatewayUrl),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      // A killed gateway closes the socket: expected, recorded in closedAt.
      onNonLazyError: () => {},
      on: { closed: () => (this.closedAt ??= Date.now()) },
    });
    for (const agentId of agentIds) {
      this.client.subscribe<{ agentStateChanged: { version: number } }>(
        {
          query: `subscription($id: ID!) { agentStateChanged(agentId: $id) { version } }`,
          variables: { id: agentId },
        },
        {
          next: (event) => {
            const version = event.data?.agentStateChanged.version;
            if (version !== undefined) this.events.push({ agentId, version, at: Date.now() });
          },
          error: () => {},
          complete: () => {},
        },
      );
    }
  }

  /** The highest version seen per agent. */
  latest(): Map<string, number> {
    const latest = new Map<string, number>();
    for (const event of this.events)
      latest.set(event.agentId, Math.max(latest.get(event.agentId) ?? 0, event.version));
    return latest;
  }

  /** Events of one agent that arrived with a lower version than one before them. */
  outOfOrder(): WatchedEvent[] {
    const last = new Map<string, number>();
    const wrong: WatchedEvent[] = [];
    for (const event of this.events) {
      if (event.version <= (last.get(event.agentId) ?? 0)) wrong.push(event);
      last.set(event.agentId, event.version);
    }
    return wrong;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}
