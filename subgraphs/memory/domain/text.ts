/**
 * Text normalisation shared by dedup, entity merging and query parsing. Both stores see the
 * same normalised forms, so "The  Release" and "the release" are one memory and one entity
 * whichever store holds them.
 */
import { createHash } from "node:crypto";

/** NFKC, accents folded, lower case, punctuation dropped, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The exact-duplicate key of a memory's text. With encryption at rest the service passes the
 * encryptor's keyed fingerprint, so the stored key does not reveal the text to a dictionary.
 */
export function contentHash(text: string, fingerprint: (text: string) => string = sha256): string {
  return fingerprint(normalizeText(text));
}

/** Entity names merge when they normalise alike ("Ada Lovelace", "ada  lovelace"). */
export const normalizeName = normalizeText;

/**
 * Words that carry no meaning for full-text search. BM25 already discounts frequent words, but
 * dropping these keeps OR-queries short and stops "what did I say about X" matching everything.
 */
const STOPWORDS = new Set(
  (
    "a an and are as at be been but by can could did do does for from had has have he her him his how i if in " +
    "into is it its me my no not of on or our she so than that the their them then there these they this to " +
    "up us was we were what when where which who whom why will with would you your about after before did " +
    "done get got just more most much very also any all some tell said say says know"
  ).split(" "),
);

/** The distinct search terms of a query: normalised words minus stopwords, at most `max`. */
export function searchTerms(query: string, max = 32): string[] {
  const terms: string[] = [];
  for (const word of normalizeText(query).split(" ")) {
    // A lone letter is what is left of "Ada's" or "I'm": it matches nearly everything.
    if (word.length === 0 || STOPWORDS.has(word) || terms.includes(word)) continue;
    if (word.length === 1 && !/\p{N}/u.test(word)) continue;
    terms.push(word);
    if (terms.length === max) break;
  }
  return terms;
}

/**
 * Every run of 1..`maxWords` consecutive normalised words of the text: the names an entity
 * mentioned in a query could have ("ada", "ada lovelace", ...). Looked up by exact match.
 */
export function nameCandidates(text: string, maxWords = 4, max = 200): string[] {
  const words = normalizeText(text).split(" ").filter(Boolean);
  const names = new Set<string>();
  for (let start = 0; start < words.length; start++) {
    for (let length = 1; length <= maxWords && start + length <= words.length; length++) {
      const name = words.slice(start, start + length).join(" ");
      if (length === 1 && STOPWORDS.has(name)) continue;
      names.add(name);
      if (names.size === max) return [...names];
    }
  }
  return [...names];
}
