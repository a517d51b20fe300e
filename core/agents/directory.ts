/**
 * The agent directory: which agents exist, i.e. have state or memories. `Agent` is the entity
 * every subgraph shares, so its registry is shared infrastructure; each subgraph only reports
 * its own part (`state` or `memories`) and never looks at another subgraph's data.
 */
export type AgentFacet = "state" | "memories";

export interface AgentPage {
  ids: string[];
  hasNextPage: boolean;
  totalCount: number;
}

export interface AgentListOptions {
  first: number;
  /** Return agents whose id sorts after this one. */
  after?: string;
  /** Restrict to these ids (a principal's `agents` claim); null for all. */
  only: string[] | null;
}

export interface AgentDirectory {
  /** Records that the agent has (or no longer has) data of this facet. Idempotent. */
  mark(agentId: string, facet: AgentFacet, present: boolean): Promise<void>;
  list(options: AgentListOptions): Promise<AgentPage>;
  close(): Promise<void>;
}
