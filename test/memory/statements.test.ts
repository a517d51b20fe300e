/**
 * The statement rules (domain/statements.ts) on their own: what counts as the same statement,
 * and what counts as a contradiction. The pair corpus (statement-pairs.test.ts) covers them at
 * scale through the stores.
 */
import { describe, expect, it } from "vitest";
import {
  analyzeStatement,
  contradicts,
  frameKeyText,
  tokenize,
} from "../../subgraphs/memory/domain/statements.js";

const same = (a: string, b: string) => analyzeStatement(a).canonical === analyzeStatement(b).canonical;
const conflict = (a: string, b: string, names: string[] = [], people: string[] = []) => {
  const [x, y] = [analyzeStatement(a, names), analyzeStatement(b, names)];
  return frameKeyText(x) === frameKeyText(y) && contradicts(x, y, new Set(people));
};

describe("the canonical statement", () => {
  it("ignores what cannot change the meaning", () => {
    expect(same("Ada prefers green tea", "ADA prefers the green tea!")).toBe(true);
    expect(same("Ada doesn't like coffee", "Ada does not like coffee")).toBe(true);
    expect(same("Meeting at 3pm", "meeting at 15:00")).toBe(true);
    expect(same("I have two cats", "I have 2 cats")).toBe(true);
    expect(same("Due in Sept", "due in September")).toBe(true);
    expect(same("Yesterday Ada went hiking", "Ada went hiking yesterday")).toBe(true);
    expect(same("Bob also plays", "Bob plays too")).toBe(true);
  });

  it("keeps every value, name, negation, antonym and order", () => {
    expect(same("Due in May", "Due in June")).toBe(false);
    expect(same("Meeting at 3pm", "Meeting at 4pm")).toBe(false);
    expect(same("The token is XK-4471", "The token is XK-4472")).toBe(false);
    expect(same("Ada likes coffee", "Ada doesn't like coffee")).toBe(false);
    expect(same("Prices went up", "Prices went down")).toBe(false);
    expect(same("Alice paid Bob", "Bob paid Alice")).toBe(false);
    expect(same("I ran 5 km", "I ran 5 miles")).toBe(false);
    expect(same("Ada liked tea", "Ada likes tea")).toBe(false);
  });

  it("reads ambiguous words by context: 'May' the month, 'may' the verb", () => {
    expect(tokenize("The release is due in May").at(-1)).toMatchObject({ text: "may", kind: "month" });
    expect(tokenize("We may go").find((t) => t.text === "may")).toMatchObject({ kind: "word" });
    expect(tokenize("on 5 may").at(-1)).toMatchObject({ kind: "month" });
    expect(tokenize("I sat down").find((t) => t.text === "sat")).toMatchObject({ kind: "word" });
    expect(tokenize("Yoga on Sat").at(-1)).toMatchObject({ text: "saturday", kind: "weekday" });
  });
});

describe("contradictions", () => {
  it("are another value for the same subject and relation", () => {
    expect(conflict("The release is due in May", "The release is due in June")).toBe(true);
    expect(conflict("Ada lives in Paris", "Ada lives in London", ["ada", "paris", "london"])).toBe(true);
    expect(conflict("The deploy token is XK-4471", "The deploy token is XK-4472")).toBe(true);
    expect(conflict("Standup moved to 3pm", "Standup moved to 4pm")).toBe(true);
  });

  it("are the other polarity of the same statement, across tense", () => {
    expect(conflict("Ada likes coffee", "Ada doesn't like coffee")).toBe(true);
    expect(conflict("Ada liked coffee", "Ada does not like coffee")).toBe(true);
  });

  it("are not another subject, another person met, or a repeat", () => {
    expect(conflict("Ada lives in Paris", "Bob lives in Paris", ["ada", "bob", "paris"])).toBe(false);
    expect(conflict("Ada met Bob", "Ada met Carl", ["ada", "bob", "carl"], ["bob", "carl"])).toBe(false);
    expect(conflict("The release is due in May", "the release is due in may")).toBe(false);
    expect(conflict("The release is due in May", "The launch party is in June")).toBe(false);
  });
});
