/**
 * The MemoryStore port: what the memory subgraph needs from its store of record.
 */
export interface MemoryRecord {
  id: string;
  agentId: string;
  content: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface MemoryPage {
  records: MemoryRecord[];
  hasNextPage: boolean;
  totalCount: number;
}

export interface MemoryStore {
  insert(record: MemoryRecord): Promise<void>;
  getMany(ids: readonly string[]): Promise<(MemoryRecord | null)[]>;
  /** Newest first; `after` is the id of the last memory of the previous page. */
  list(agentId: string, first: number, after?: string): Promise<MemoryPage>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
