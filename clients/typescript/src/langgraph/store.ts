/**
 * MnemoStore: LangGraph's long-term store (BaseStore) on an agent's Mnemo memories, so that
 * `store.search(namespace, { query })` is answered by Mnemo's hybrid recall (meaning, words,
 * connections, recency, importance).
 *
 * An item is one memory of the store's agent:
 * - content: the text to search by (the item's `index` fields, or its whole value as JSON);
 * - metadata: the namespace, key, value and timestamps, returned as they were put;
 * - tags: one naming the item, one per namespace prefix (so a search of ["users"] finds
 *   ["users", "ada"]) and one marking it as a store item; tags are hashes, as tag length is capped;
 * - pinned, so forgetting policies, capacity eviction and consolidation leave it alone;
 * - a caption naming the item and this write, so two items (or two writes of one item) are never
 *   exact duplicates; the store also sets the agent's dedupThreshold to 1 (exact duplicates
 *   only) on its first write, so near-duplicate merging never folds one item into another.
 *
 * Mnemo has no "replace by key" write, so a put remembers the new value and then forgets every
 * older copy of the item: a reader never misses the item, and two concurrent puts of one key
 * converge on the newer one (last writer wins). Reads pick the newest copy.
 *
 * Give a MnemoStore an agent of its own: it owns that agent's memory configuration and pins its
 * memories. Sizes: an item (its text and its value) must fit in MEMORY_MAX_BYTES (64 KiB by
 * default); a query search looks at the best 100 recall hits; listing namespaces and searches
 * without a query read the items page by page.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  BaseStore,
  type GetOperation,
  getTextAtPath,
  type Item,
  type ListNamespacesOperation,
  type MatchCondition,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from "@langchain/langgraph-checkpoint";
import type { MnemoClient } from "../client.js";
import { NotFoundError } from "../errors.js";
import type { Memory } from "../memory.js";

export interface MnemoStoreOptions {
  client: MnemoClient;
  /** The agent whose memories hold the items (give the store an agent of its own). */
  agentId: string;
  /** Default paths of an item's value to search by (LangGraph syntax, e.g. "text", "notes[*].body"); "$" (the default) is the whole value. */
  index?: { fields?: string[] };
}

/** What an item memory's metadata holds under METADATA_KEY. */
interface StoredItem {
  namespace: string[];
  key: string;
  value: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** False when the item was put with `index: false`: it is left out of query searches. */
  indexed: boolean;
}

export const METADATA_KEY = "langgraphItem";
const ITEM_TAG = "lg-store";
/** Memory tags available for namespace prefixes: 32 per memory, two taken by ITEM_TAG and the item tag. */
export const MAX_NAMESPACE_DEPTH = 30;
const PAGE = 100;
const MAX_RECALL = 100;

const hash = (text: string) => createHash("sha256").update(text).digest("base64url").slice(0, 22);
const itemTag = (namespace: string[], key: string) => `lg-item:${hash(JSON.stringify([namespace, key]))}`;
const namespaceTag = (prefix: string[]) => `lg-ns:${hash(JSON.stringify(prefix))}`;

export class MnemoStore extends BaseStore {
  readonly agentId: string;
  private readonly client: MnemoClient;
  private readonly fields: string[];
  private configured: Promise<void> | null = null;

  constructor(options: MnemoStoreOptions) {
    super();
    this.client = options.client;
    this.agentId = options.agentId;
    this.fields = options.index?.fields ?? ["$"];
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = [];
    // In order: a get after a put in the same batch sees the put.
    for (const operation of operations) results.push(await this.run(operation));
    return results as OperationResults<Op>;
  }

  private run(operation: Operation): Promise<unknown> {
    if ("value" in operation) return this.putItem(operation);
    if ("namespacePrefix" in operation) return this.searchItems(operation);
    if ("key" in operation) return this.getItem(operation);
    return this.listNamespacesOf(operation);
  }

  private async getItem({ namespace, key }: GetOperation): Promise<Item | null> {
    const [newest] = await this.copies(namespace, key);
    return newest ? toItem(newest.item) : null;
  }

  private async putItem({ namespace, key, value, index }: PutOperation): Promise<void> {
    if (value === null) {
      await this.forgetAll(await this.copies(namespace, key));
      return;
    }
    if (namespace.length > MAX_NAMESPACE_DEPTH) {
      throw new RangeError(
        `MnemoStore namespaces are at most ${MAX_NAMESPACE_DEPTH} labels deep (got ${namespace.length})`,
      );
    }
    await this.configure();
    const previous = await this.copies(namespace, key);
    const now = new Date().toISOString();
    const stored: StoredItem = {
      namespace,
      key,
      value,
      createdAt: previous[0]?.item.createdAt ?? now,
      updatedAt: now,
      indexed: index !== false,
    };
    const label = [...namespace, key].join("/");
    await this.client.memory.remember(this.agentId, {
      content: this.searchText(stored, index) || label,
      // Unique per write: no two item memories are exact duplicates (see the file header).
      caption: `${label} (write ${randomUUID()})`,
      kind: "SEMANTIC",
      pinned: true,
      tags: [
        ITEM_TAG,
        itemTag(namespace, key),
        ...namespace.map((_, i) => namespaceTag(namespace.slice(0, i + 1))),
      ],
      metadata: { [METADATA_KEY]: stored },
    });
    // Keep only the newest copy; a concurrent put that wrote later keeps its own.
    const copies = await this.copies(namespace, key);
    await this.forgetAll(copies.slice(1));
  }

  private async searchItems(operation: SearchOperation): Promise<SearchItem[]> {
    const { namespacePrefix, filter, query } = operation;
    const limit = operation.limit ?? 10;
    const offset = operation.offset ?? 0;
    const tag = namespacePrefix.length > 0 ? namespaceTag(namespacePrefix) : ITEM_TAG;
    const matches = (item: StoredItem) =>
      !filter || Object.entries(filter).every(([field, wanted]) => matchesFilter(item.value[field], wanted));
    const found: SearchItem[] = [];
    const seen = new Set<string>();
    const take = (memory: Memory, score?: number): boolean => {
      const item = storedItemOf(memory);
      const id = item && JSON.stringify([item.namespace, item.key]);
      if (!item || seen.has(id!) || !matches(item) || (score !== undefined && !item.indexed)) return true;
      seen.add(id!);
      found.push({ ...toItem(item), score });
      return found.length < offset + limit;
    };
    if (query) {
      const k = Math.min(MAX_RECALL, filter ? MAX_RECALL : offset + limit + 10);
      const hits = await this.client.memory.recall(this.agentId, query, { k, filter: { tags: [tag] } });
      for (const hit of hits) if (!take(hit.memory, hit.score)) break;
    } else {
      for await (const memory of this.memories(tag)) if (!take(memory)) break;
    }
    return found.slice(offset, offset + limit);
  }

  private async listNamespacesOf(operation: ListNamespacesOperation): Promise<string[][]> {
    const namespaces = new Map<string, string[]>();
    for await (const memory of this.memories(ITEM_TAG)) {
      const item = storedItemOf(memory);
      if (!item) continue;
      if (
        !(operation.matchConditions ?? []).every((condition) => matchesNamespace(condition, item.namespace))
      ) {
        continue;
      }
      const namespace =
        operation.maxDepth === undefined ? item.namespace : item.namespace.slice(0, operation.maxDepth);
      namespaces.set(JSON.stringify(namespace), namespace);
    }
    const sorted = [...namespaces.values()].sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1));
    const offset = operation.offset ?? 0;
    return sorted.slice(offset, offset + (operation.limit ?? sorted.length));
  }

  /** Every memory carrying `tag`, newest first. */
  private async *memories(tag: string): AsyncGenerator<Memory> {
    let after: string | null = null;
    for (;;) {
      const page = await this.client.memory.list(this.agentId, {
        first: PAGE,
        after,
        filter: { tags: [tag] },
      });
      yield* page.memories;
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }

  /** The memories holding this item, newest write first. */
  private async copies(namespace: string[], key: string): Promise<{ memory: Memory; item: StoredItem }[]> {
    const copies: { memory: Memory; item: StoredItem }[] = [];
    for await (const memory of this.memories(itemTag(namespace, key))) {
      const item = storedItemOf(memory);
      // The tag is a hash: check the item really is this one.
      if (item && item.key === key && JSON.stringify(item.namespace) === JSON.stringify(namespace)) {
        copies.push({ memory, item });
      }
    }
    return copies.sort(
      (a, b) =>
        compare(b.item.updatedAt, a.item.updatedAt) ||
        compare(b.memory.createdAt, a.memory.createdAt) ||
        compare(b.memory.id, a.memory.id),
    );
  }

  private async forgetAll(copies: { memory: Memory }[]): Promise<void> {
    for (const { memory } of copies) {
      // Another writer may have forgotten it first: gone is what we wanted.
      await this.client.memory.forget(memory.id).catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error;
      });
    }
  }

  private configure(): Promise<void> {
    this.configured ??= this.client.memory
      .configure(this.agentId, { dedupThreshold: 1 })
      .catch((error: unknown) => {
        this.configured = null;
        throw error;
      });
    return this.configured;
  }

  private searchText(item: StoredItem, index: PutOperation["index"]): string {
    if (index === false) return "";
    const fields = index ?? this.fields;
    return fields
      .flatMap((field) => getTextAtPath(item.value, field))
      .filter((text) => text.trim().length > 0)
      .join("\n");
  }
}

function storedItemOf(memory: Memory): StoredItem | null {
  const metadata = memory.metadata as Record<string, unknown> | null;
  const item = metadata?.[METADATA_KEY] as StoredItem | undefined;
  return item && Array.isArray(item.namespace) && typeof item.key === "string" ? item : null;
}

function toItem(item: StoredItem): Item {
  return {
    namespace: item.namespace,
    key: item.key,
    value: item.value,
    createdAt: new Date(item.createdAt),
    updatedAt: new Date(item.updatedAt),
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** LangGraph's filter semantics: equality, or operators $eq $ne $gt $gte $lt $lte $in $nin. */
function matchesFilter(actual: unknown, wanted: unknown): boolean {
  if (typeof wanted === "object" && wanted !== null && !Array.isArray(wanted)) {
    const operators = Object.entries(wanted).filter(([op]) => op.startsWith("$"));
    if (operators.length > 0) {
      return operators.every(([op, value]) => {
        switch (op) {
          case "$eq":
            return actual === value;
          case "$ne":
            return actual !== value;
          case "$gt":
            return Number(actual) > Number(value);
          case "$gte":
            return Number(actual) >= Number(value);
          case "$lt":
            return Number(actual) < Number(value);
          case "$lte":
            return Number(actual) <= Number(value);
          case "$in":
            return Array.isArray(value) && value.includes(actual);
          case "$nin":
            return !Array.isArray(value) || !value.includes(actual);
          default:
            return false;
        }
      });
    }
    // Nested objects compare by value (the stored value went through JSON).
    return JSON.stringify(actual) === JSON.stringify(wanted);
  }
  if (Array.isArray(wanted)) return JSON.stringify(actual) === JSON.stringify(wanted);
  return actual === wanted;
}

function matchesNamespace({ matchType, path }: MatchCondition, namespace: string[]): boolean {
  if (path.length > namespace.length) return false;
  const start = matchType === "prefix" ? 0 : namespace.length - path.length;
  return path.every((label, i) => label === "*" || namespace[start + i] === label);
}
