/**
 * SCAN-based listing over every data node, with page sizes the caller chooses. Never KEYS: SCAN
 * walks the keyspace in small steps and never blocks Redis.
 *
 * A SCAN step returns a batch of keys whose size the caller does not control, so a page can end
 * inside a batch. The cursor then records the batch's start and end SCAN cursors, the COUNT
 * used and the last key returned; the next page repeats that step, sorts its keys and continues
 * after the last one. If the repeated step does not end at the same SCAN cursor (the keyspace
 * changed meanwhile) nothing is skipped: a key may then be listed twice, never missed, which is
 * SCAN's own guarantee. A page may hold fewer keys than asked (even none) while more follow.
 */
import type { Redis } from "ioredis";
import type { RedisClient } from "../redis.js";
import { InvalidCursorError, type KeyPage } from "./backend.js";
import { escapeGlob } from "./keys.js";
import { dataNodes, nodeName } from "./redis-topology.js";

interface ScanPosition {
  /** Node name (host:port); stable across pages even if the node list is reordered. */
  h: string;
  /** SCAN cursor the current step starts at. */
  c: string;
  /** COUNT of the current step, and the cursor it ended at when it was split (else absent). */
  n: number;
  e?: string;
  /** Last key returned from the split step. */
  k?: string;
}

const MIN_STEP = 10;
const MAX_STEP = 1000;
/**
 * SCAN steps one page may take. A selective prefix over a large keyspace would otherwise walk
 * everything in one call; instead the page comes back short, with a cursor to continue.
 */
const MAX_STEPS_PER_PAGE = 100;

export function encodeScanCursor(position: ScanPosition): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

function decodeScanCursor(cursor: string): ScanPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError("not a cursor returned by cacheKeys");
  }
  const p = parsed as Partial<ScanPosition> | null;
  if (
    !p ||
    typeof p.h !== "string" ||
    typeof p.c !== "string" ||
    !/^\d+$/.test(p.c) ||
    typeof p.n !== "number" ||
    !Number.isInteger(p.n) ||
    p.n < 1 ||
    p.n > MAX_STEP ||
    (p.e !== undefined && (typeof p.e !== "string" || !/^\d+$/.test(p.e))) ||
    (p.k !== undefined && typeof p.k !== "string")
  ) {
    throw new InvalidCursorError("not a cursor returned by cacheKeys");
  }
  return p as ScanPosition;
}

export async function scanPage(
  client: RedisClient,
  prefix: string,
  cursor: string | null,
  count: number,
): Promise<KeyPage> {
  const nodes = dataNodes(client);
  const names = nodes.map(nodeName);
  let position: ScanPosition = cursor
    ? decodeScanCursor(cursor)
    : { h: names[0]!, c: "0", n: Math.min(MAX_STEP, Math.max(MIN_STEP, count)) };
  let nodeIndex = names.indexOf(position.h);
  if (nodeIndex < 0) {
    throw new InvalidCursorError(
      "the Redis nodes changed since this cursor was issued; start the listing again",
    );
  }
  if (count === 0) return { keys: [], cursors: [], cursor: cursor ?? encodeScanCursor(position) };
  const match = `${escapeGlob(prefix)}*`;
  const keys: string[] = [];
  const cursors: string[] = [];
  for (let steps = 0; keys.length < count && steps < MAX_STEPS_PER_PAGE; steps++) {
    const node = nodes[nodeIndex]!;
    const [next, batch] = await node.scan(position.c, "MATCH", match, "COUNT", position.n);
    let candidates = [...new Set(batch)].sort();
    if (position.k !== undefined && next === position.e) {
      const last = position.k;
      candidates = candidates.filter((key) => key > last);
    }
    const room = count - keys.length;
    const taken = candidates.slice(0, room);
    for (const key of taken) {
      keys.push(key);
      // Resuming after this key = repeating this step and continuing past it.
      cursors.push(encodeScanCursor({ h: position.h, c: position.c, n: position.n, e: next, k: key }));
    }
    if (candidates.length > room) return { keys, cursors, cursor: cursors.at(-1)! };
    // Sparse matches: take bigger steps so a selective prefix needs fewer round trips.
    const step = candidates.length === 0 ? Math.min(MAX_STEP, position.n * 2) : position.n;
    if (next === "0") {
      if (nodeIndex + 1 >= nodes.length) return { keys, cursors, cursor: null };
      nodeIndex++;
      position = { h: names[nodeIndex]!, c: "0", n: step };
    } else {
      position = { h: position.h, c: next, n: step };
    }
  }
  return { keys, cursors, cursor: encodeScanCursor(position) };
}

/** Every key matching `pattern` on one node, in SCAN steps, handed to `visit` step by step. */
export async function scanNode(
  node: Redis,
  pattern: string | null,
  visit: (keys: string[]) => Promise<boolean | undefined> | boolean | undefined,
): Promise<void> {
  let cursor = "0";
  do {
    const [next, batch] =
      pattern === null
        ? await node.scan(cursor, "COUNT", MAX_STEP)
        : await node.scan(cursor, "MATCH", pattern, "COUNT", MAX_STEP);
    cursor = next;
    // `visit` returns false to stop early (a budget was reached).
    if (batch.length > 0 && (await visit(batch)) === false) return;
  } while (cursor !== "0");
}
