/**
 * The agent directory: which agents exist, i.e. have state or memories. `Agent` is the entity
 * every subgraph shares, so its registry is shared infrastructure; each subgraph only reports
 * its own part (`state` or `memories`) and never looks at another subgraph's data.
 *
 * The directory has one revision, which grows with every change of the set of listed agents
 * (an agent's first state or memory, or its last one gone) and is never reused: listings are
 * cached by it (cached-directory.ts).
 */
import type { RevisionProbe } from "../store/revisioned.js";

export type AgentFacet = "state" | "memories";

export interface AgentPage {
  ids: string[];
  hasNextPage: boolean;
  totalCount: number;
  /** The directory's revision, read in the same snapshot as the page. */
  revision: number;
}

export interface AgentListOptions {
  first: number;
  /** Return agents whose id sorts after this one. */
  after?: string;
  /** Restrict to these ids (a principal's `agents` claim); null for all. */
  only: string[] | null;
}

export interface AgentDirectory {
  /**
   * Records that the agent has (or no longer has) data of this facet, and bumps the directory's
   * revision (returned). Subgraphs call it only where the set of listed agents may change (an
   * agent's first data of a facet, or its last gone), so every call is treated as a change: on
   * Neo4j the state store itself flags an agent's state in the same node, so the change may
   * already be committed when this is called.
   */
  mark(agentId: string, facet: AgentFacet, present: boolean): Promise<number>;
  list(options: AgentListOptions): Promise<AgentPage>;
  /**
   * The directory's current revision, answered synchronously by a directory in this process
   * (SQLite); the ids passed are ignored. Listings are then checked against it (near cache).
   */
  readonly revision?: RevisionProbe;
  close(): Promise<void>;
}
