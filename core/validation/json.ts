/**
 * Checks on untrusted JSON documents, done iteratively so a hostile document cannot exhaust the
 * stack while being checked.
 */

/** Text that is not well-formed UTF-16 (a lone surrogate) cannot be stored, hashed or indexed faithfully. */
export function isWellFormedText(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

export type JsonProblem = { kind: "too-deep"; limit: number } | { kind: "malformed-text"; path: string };

/** The first problem found in `value`, or null: nesting deeper than `maxDepth`, or a key/string with a lone surrogate. */
export function findJsonProblem(value: unknown, maxDepth: number): JsonProblem | null {
  const stack: [unknown, number, string][] = [[value, 1, ""]];
  while (stack.length > 0) {
    const [node, depth, path] = stack.pop()!;
    if (typeof node === "string") {
      if (!isWellFormedText(node)) return { kind: "malformed-text", path: path || "/" };
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth > maxDepth) return { kind: "too-deep", limit: maxDepth };
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        stack.push([child, depth + 1, `${path}/${index}`]);
      });
    } else {
      for (const [key, child] of Object.entries(node)) {
        if (!isWellFormedText(key)) return { kind: "malformed-text", path: `${path}/(key)` };
        stack.push([child, depth + 1, `${path}/${key}`]);
      }
    }
  }
  return null;
}
