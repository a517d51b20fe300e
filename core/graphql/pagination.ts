/**
 * Relay-style connection helpers shared by every list field: `first` defaults to 20 and is
 * capped at 100; cursors are opaque base64url strings.
 */
import { badUserInput } from "../errors.js";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`"first" must be an integer from 0 to ${MAX_PAGE_SIZE} (got ${first})`, {
      argument: "first",
    });
  }
  return first;
}

export function encodeCursor(value: string | number): string {
  return Buffer.from(`${typeof value === "number" ? "n" : "s"}:${value}`).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined, kind: "number"): number | undefined;
export function decodeCursor(cursor: string | null | undefined, kind: "string"): string | undefined;
export function decodeCursor(
  cursor: string | null | undefined,
  kind: "number" | "string",
): number | string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const decoded = Buffer.from(cursor, "base64url").toString("utf8");
  const prefix = kind === "number" ? "n:" : "s:";
  if (decoded.startsWith(prefix)) {
    const raw = decoded.slice(2);
    if (kind === "string" && raw.length > 0) return raw;
    const value = Number(raw);
    if (kind === "number" && Number.isInteger(value)) return value;
  }
  throw badUserInput(
    `Invalid cursor "${cursor.slice(0, 64)}": pass an endCursor or cursor returned by this field`,
    {
      argument: "after",
    },
  );
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

export function connection<T>(
  nodes: readonly T[],
  cursorOf: (node: T) => string | number,
  hasNextPage: boolean,
  totalCount: number,
): Connection<T> {
  const edges = nodes.map((node) => ({ cursor: encodeCursor(cursorOf(node)), node }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}
