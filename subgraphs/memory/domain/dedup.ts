/**
 * When two stored memories are the same memory, for consolidation (writes decide in
 * write-plan.ts with the same rule): they state the same thing (the same canonical statement,
 * domain/statements.ts), and nothing a merge would lose sets them apart: kind, modality, media
 * and validity. Near duplicates that differ in a number, a name, a negation or the order of
 * their entities ("Meeting moved to 3pm" / "... 4pm" score 0.99 by cosine) are different facts.
 */
import type { MemoryRecord } from "./model.js";
import { analyzeStatement } from "./statements.js";

/**
 * The text a memory is compared, embedded and indexed by: its content, and its caption when it
 * has one that says something else (a photo's description adds what the message around it does not).
 */
export function searchTextOf(record: Pick<MemoryRecord, "content" | "caption">): string {
  const { content, caption } = record;
  return caption && caption !== content ? `${content}\n${caption}` : content;
}

/** Whether `a` and `b` may be merged into one memory without losing what either says. */
export function sameStatement(a: MemoryRecord, b: MemoryRecord): boolean {
  return (
    a.kind === b.kind &&
    a.modality === b.modality &&
    a.mediaUri === b.mediaUri &&
    a.validFrom === b.validFrom &&
    a.validUntil === b.validUntil &&
    analyzeStatement(searchTextOf(a)).canonical === analyzeStatement(searchTextOf(b)).canonical
  );
}
