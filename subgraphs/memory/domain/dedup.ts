/**
 * When two memories are the same memory. Exact duplicates (equal normalised text) always are.
 * Near duplicates (cosine above the agent's threshold) usually are, but sentence embeddings
 * barely see numbers and negations: "Meeting moved to 3pm" and "... 4pm" score 0.99 with the
 * offline model. Merging those would lose the update, so a near duplicate must also carry the
 * same numbers and the same negations.
 */
import type { MemoryRecord } from "./model.js";
import { normalizeText } from "./text.js";

const NEGATIONS = new Set([
  "not",
  "no",
  "never",
  "nor",
  "cannot",
  "without",
  "nt",
  "none",
  "nobody",
  "nothing",
]);

/**
 * The text a memory is compared, embedded and indexed by: its content, and its caption when it
 * has one that says something else (a photo's description adds what the message around it does not).
 */
export function searchTextOf(record: Pick<MemoryRecord, "content" | "caption">): string {
  const { content, caption } = record;
  return caption && caption !== content ? `${content}\n${caption}` : content;
}

function salient(text: string): string {
  const words = normalizeText(text.replace(/n['’]t\b/gi, " nt")).split(" ");
  const numbers = words.filter((word) => /\p{N}/u.test(word)).sort();
  const negations = words.filter((word) => NEGATIONS.has(word)).sort();
  return `${numbers.join(",")}|${negations.join(",")}`;
}

/** Whether a near duplicate by cosine may be merged into `existing`. */
export function mayMergeNearDuplicate(existing: MemoryRecord, incoming: MemoryRecord): boolean {
  return salient(searchTextOf(existing)) === salient(searchTextOf(incoming));
}
