/**
 * The agent directory read through the cache (type AGENT_DIRECTORY): each listing (`agents`:
 * page size, cursor, and the principal's visible agents) is cached as one entry carrying the
 * directory's revision. Every change of the set of listed agents bumps that revision in the
 * store (`mark`) and, before the write that caused it returns, purges every cached listing and
 * raises the revision floor (CacheLayer.purgeAgent), so a listing loaded before the bump can
 * never be written back after it, and a read that starts after the write loads afresh. On an
 * embedded directory (SQLite) listings are read through the near cache, checked against the
 * directory's revision.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { CacheLayer } from "../cache/index.js";
import type { CacheRef } from "../cache/keys.js";
import type { AgentDirectory, AgentListOptions, AgentPage } from "./directory.js";

/** The cache "agent" all listings belong to: not a valid agent id, so never a real agent's keys. */
export const DIRECTORY_SCOPE = "*";

/** Listing ids seen recently, with what they list: the loader gets only ids. */
const RECENT_LISTINGS = 10_000;

export function cachedAgentDirectory(directory: AgentDirectory, cache: CacheLayer): AgentDirectory {
  const listings = new LRUCache<string, AgentListOptions>({ max: RECENT_LISTINGS });
  const probe = directory.revision;
  cache.registerSource<AgentPage>("AGENT_DIRECTORY", {
    load: (refs: readonly CacheRef[]) =>
      Promise.all(
        refs.map(async (ref) => {
          const options = listings.get(ref.id);
          if (!options) throw new Error(`unknown agent listing ${ref.id}`);
          const page = await directory.list(options);
          return { revision: page.revision, value: page };
        }),
      ),
    probe: probe && ((refs: readonly CacheRef[]) => probe(refs.map((ref) => ref.id))),
  });

  return {
    async mark(agentId, facet, present) {
      const revision = await directory.mark(agentId, facet, present);
      await cache.purgeAgent(DIRECTORY_SCOPE, ["AGENT_DIRECTORY"], revision);
      return revision;
    },
    async list(options) {
      const id = createHash("sha256")
        .update(JSON.stringify([options.first, options.after ?? null, options.only]))
        .digest("base64url");
      listings.set(id, options);
      const page = await cache.loader<AgentPage>("AGENT_DIRECTORY").load({ agentId: DIRECTORY_SCOPE, id });
      // The loader always returns a page (an empty directory lists nothing, it is not absent).
      return page!;
    },
    revision: directory.revision,
    close: () => directory.close(),
  };
}
