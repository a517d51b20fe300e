/**
 * What a memory's text states, reduced to forms that can be compared without an LLM:
 *
 *  - the canonical statement: the words in order, with only what cannot change the meaning
 *    taken away (case, punctuation, articles, filler words, contractions, number words, time
 *    and date spellings) and a few time adverbs ("yesterday", "also") allowed to move. Two texts
 *    with the same canonical statement say the same thing and may be merged; anything else (a
 *    value, a name, a negation, an antonym, the order of the entities) keeps them apart.
 *  - the frame: the canonical statement with its values (numbers, times, dates, months,
 *    weekdays, codes, names) as slots and its negation taken out. Two texts with the same frame
 *    and subject but other values, or the other polarity, contradict each other ("The release
 *    is due in May" / "... in June"; "Ada likes coffee" / "Ada doesn't like coffee").
 *
 * Hand-written on purpose: the rules must be exact and explainable (a merge that loses a fact
 * is data loss), and no dependency offers these equivalences. docs/retrieval.md lists the
 * rules and their limits; test/memory/statements.test.ts and the pair corpus hold them.
 */

import { stemmer } from "stemmer";

export type TokenKind =
  | "word"
  | "negation"
  | "number"
  | "time"
  | "date"
  | "month"
  | "weekday"
  | "code"
  | "name";

export interface Token {
  /** Canonical spelling (lower case, numbers as digits, times as HH:MM, full month and day names). */
  text: string;
  kind: TokenKind;
  /** Free to move within the sentence without changing what it says ("yesterday", "also"). */
  movable: boolean;
}

export interface Statement {
  tokens: Token[];
  /** Equal for two texts that say the same thing. */
  canonical: string;
  /** Equal for two texts about the same subject and relation (values as slots, polarity aside). */
  frame: string;
  /** The values in the frame's slots, in order. */
  slots: Token[];
  /** Whether the first slot is the sentence's subject (the frame starts with it). */
  subjectSlot: boolean;
  negated: boolean;
}

const ARTICLES = new Set(["a", "an", "the"]);
const FILLERS = new Set(["um", "uh", "er", "erm", "actually", "basically", "literally", "honestly"]);
const NEGATIONS = new Set(["not", "no", "never", "nor", "none", "nobody", "nothing", "without", "neither"]);
/** Time adverbs whose place in the sentence does not matter; some are values for contradictions. */
const MOVABLE = new Set(["also", "too", "still", "again", "now", "currently", "recently", "lately"]);
const RELATIVE_DAYS = new Set(["yesterday", "today", "tomorrow", "tonight"]);
/** Auxiliaries that only carry tense or emphasis once negation is taken out ("does not like" ~ "likes"). */
const FRAME_AUXILIARIES = new Set(["do", "does", "did"]);

const NUMBER_WORDS: Record<string, string> = {
  zero: "0",
  one: "1",
  two: "2",
  three: "3",
  four: "4",
  five: "5",
  six: "6",
  seven: "7",
  eight: "8",
  nine: "9",
  ten: "10",
  eleven: "11",
  twelve: "12",
  thirteen: "13",
  fourteen: "14",
  fifteen: "15",
  sixteen: "16",
  seventeen: "17",
  eighteen: "18",
  nineteen: "19",
  twenty: "20",
  thirty: "30",
  forty: "40",
  fifty: "50",
  sixty: "60",
  seventy: "70",
  eighty: "80",
  ninety: "90",
  hundred: "100",
  thousand: "1000",
};

/** Month names in calendar order (the index is the month, from 0). */
export const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
/** Abbreviations that are no other English word. */
const MONTH_ABBREVIATIONS: Record<string, string> = {
  jan: "january",
  feb: "february",
  apr: "april",
  jun: "june",
  jul: "july",
  aug: "august",
  sep: "september",
  sept: "september",
  oct: "october",
  nov: "november",
  dec: "december",
};
/** Month names that are also common words: months only when capitalised mid-sentence or next to a day number. */
const AMBIGUOUS_MONTHS = new Set(["may", "march"]);

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const WEEKDAY_ABBREVIATIONS: Record<string, string> = {
  mon: "monday",
  tue: "tuesday",
  tues: "tuesday",
  wed: "wednesday",
  thu: "thursday",
  thur: "thursday",
  thurs: "thursday",
  fri: "friday",
};
/** "sat" and "sun" are words too: weekdays only when capitalised. */
const AMBIGUOUS_WEEKDAYS: Record<string, string> = { sat: "saturday", sun: "sunday" };

/** Contractions with one reading; "'s" is left alone ("it's" and "Ada's" differ). */
function expandContractions(text: string): string {
  return text
    .replace(/\bwon['’]t\b/gi, "will not")
    .replace(/\bcan['’]t\b/gi, "can not")
    .replace(/\bshan['’]t\b/gi, "shall not")
    .replace(/\bcannot\b/gi, "can not")
    .replace(/(\p{L})n['’]t\b/giu, "$1 not")
    .replace(/['’]m\b/gi, " am")
    .replace(/['’]re\b/gi, " are")
    .replace(/['’]ve\b/gi, " have")
    .replace(/['’]ll\b/gi, " will")
    .replace(/['’]d\b/gi, " would")
    .replace(/\b(it|that|there|here|what|who|where|he|she)['’]s\b/gi, "$1 is");
}

/** "3pm", "3:30 p.m.", "15:00", "noon" -> "15:00"-style tokens, written as one word. */
function canonicalTimes(text: string): string {
  const hhmm = (hours: number, minutes: number) =>
    ` t${String(hours).padStart(2, "0")}${String(minutes).padStart(2, "0")} `;
  return text
    .replace(
      /\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?/gi,
      (_, h: string, m: string | undefined, ap: string) => {
        const hours = (Number(h) % 12) + (ap.toLowerCase() === "p" ? 12 : 0);
        return hhmm(hours, Number(m ?? 0));
      },
    )
    .replace(/\b([01]?\d|2[0-3]):([0-5]\d)\b/g, (_, h: string, m: string) => hhmm(Number(h), Number(m)))
    .replace(/\bnoon\b/gi, hhmm(12, 0))
    .replace(/\bmidnight\b/gi, hhmm(0, 0));
}

interface RawWord {
  text: string;
  capitalised: boolean;
  sentenceStart: boolean;
}

function rawWords(text: string): RawWord[] {
  const prepared = canonicalTimes(
    expandContractions(
      text
        .normalize("NFKD")
        .replace(/\p{M}+/gu, "")
        .normalize("NFKC"),
    ),
  )
    // "XK-4471", "COVID-19": one code; "1,000" and "2.5": one number.
    .replace(/\b(\p{L}+)-(\d+)\b/gu, "$1$2")
    .replace(/(\d),(\d{3})\b/g, "$1$2")
    .replace(/%/g, " percent ");
  const words: RawWord[] = [];
  let sentenceStart = true;
  // A number with a letter right after it ("3rd", "xk4471" reversed) is one word, not two.
  for (const match of prepared.matchAll(/\d+(?:\.\d+)?(?![\p{L}\d])|[\p{L}\p{N}]+|[.!?]/gu)) {
    const piece = match[0];
    if (/^[.!?]$/.test(piece)) {
      sentenceStart = true;
      continue;
    }
    words.push({ text: piece, capitalised: /^\p{Lu}/u.test(piece), sentenceStart });
    sentenceStart = false;
  }
  return words;
}

/**
 * Tokens of a text. `names` are normalised entity names the text mentions (extracted or given):
 * their words are names wherever they stand, and so is a capitalised word mid-sentence.
 */
export function tokenize(text: string, names: readonly string[] = []): Token[] {
  const nameWords = new Set(names.flatMap((name) => name.toLowerCase().split(/\s+/)).filter(Boolean));
  const words = rawWords(text);
  const tokens: Token[] = [];
  for (const [i, word] of words.entries()) {
    const token = classify(word, words[i - 1], words[i + 1], nameWords);
    if (token) tokens.push(token);
  }
  return tokens;
}

/** One word as a token, or null for a word that carries no meaning here (an article, a filler). */
function classify(
  word: RawWord,
  previous: RawWord | undefined,
  next: RawWord | undefined,
  nameWords: ReadonlySet<string>,
): Token | null {
  const lower = word.text.toLowerCase();
  const neighbourIsNumber = [previous, next].some((w) => w && /^\d{1,2}$/.test(w.text));
  const token = (text: string, kind: TokenKind, movable = false): Token => ({ text, kind, movable });

  if (ARTICLES.has(lower) || FILLERS.has(lower)) return null;
  if (NEGATIONS.has(lower)) return token(lower, "negation");
  if (/^t\d{4}$/.test(lower)) return token(`${lower.slice(1, 3)}:${lower.slice(3)}`, "time");
  if (/^\d+(?:st|nd|rd|th)$/.test(lower)) return token(String(Number.parseInt(lower, 10)), "number");
  if (/^\d+(?:\.\d+)?$/.test(lower)) return token(String(Number(lower)), "number");
  if (NUMBER_WORDS[lower]) return token(NUMBER_WORDS[lower]!, "number");
  if (RELATIVE_DAYS.has(lower)) return token(lower, "date", true);
  if (lower === "too") return token("also", "word", true);
  if (MOVABLE.has(lower)) return token(lower, "word", true);
  const midSentenceCapital = word.capitalised && !word.sentenceStart;
  if (MONTHS.includes(lower) && (!AMBIGUOUS_MONTHS.has(lower) || midSentenceCapital || neighbourIsNumber)) {
    return token(lower, "month");
  }
  if (MONTH_ABBREVIATIONS[lower]) return token(MONTH_ABBREVIATIONS[lower]!, "month");
  if (WEEKDAYS.includes(lower)) return token(lower, "weekday");
  if (WEEKDAY_ABBREVIATIONS[lower]) return token(WEEKDAY_ABBREVIATIONS[lower]!, "weekday");
  if (AMBIGUOUS_WEEKDAYS[lower] && word.capitalised) return token(AMBIGUOUS_WEEKDAYS[lower]!, "weekday");
  if (/\p{L}/u.test(lower) && /\p{N}/u.test(lower)) return token(lower, "code");
  if (nameWords.has(lower) || (midSentenceCapital && lower !== "i")) return token(lower, "name");
  return token(lower, "word");
}

const isValue = (token: Token) => token.kind !== "word" && token.kind !== "negation";

/**
 * Frames compare relations across tense and person ("likes", "liked", "does not like" -> "like"),
 * so their words are Porter stems; the canonical statement never stems ("liked" is not "likes").
 */
const frameStem = (word: string) => stemmer(word);

export function analyzeStatement(text: string, names: readonly string[] = []): Statement {
  const tokens = tokenize(text, names);
  const fixed = tokens.filter((t) => !t.movable).map((t) => t.text);
  const movable = tokens
    .filter((t) => t.movable)
    .map((t) => t.text)
    .sort();
  const frameTokens = tokens.filter(
    (t) => t.kind !== "negation" && !(t.kind === "word" && FRAME_AUXILIARIES.has(t.text)),
  );
  const ordered = [...frameTokens.filter((t) => !t.movable), ...frameTokens.filter((t) => t.movable)];
  const slots = ordered.filter(isValue);
  return {
    tokens,
    canonical: `${fixed.join(" ")}|${movable.join(" ")}`,
    frame: ordered.map((t) => (isValue(t) ? "#" : frameStem(t.text))).join(" "),
    slots,
    subjectSlot: ordered.length > 0 && isValue(ordered[0]!),
    negated: tokens.filter((t) => t.kind === "negation").length % 2 === 1,
  };
}

/**
 * The key under which contradicting statements meet: the frame, plus the subject's value when
 * the sentence starts with one ("Ada lives in Paris" and "Bob lives in London" do not meet).
 * Null when there is nothing a contradiction could be about (no words at all).
 */
export function frameKeyText(statement: Statement): string | null {
  if (statement.frame.length === 0) return null;
  return statement.subjectSlot ? `${statement.frame}|${statement.slots[0]!.text}` : statement.frame;
}

/**
 * Whether `incoming` contradicts `existing` (both with the same frame key): the other
 * polarity, or another value in a slot that is not the subject. A differing person's name is
 * not a contradiction ("Ada met Bob" / "Ada met Carl"); `people` are the names `incoming`'s
 * entities call PERSON.
 */
export function contradicts(
  existing: Statement,
  incoming: Statement,
  people: ReadonlySet<string> = new Set(),
): boolean {
  if (existing.frame !== incoming.frame || existing.slots.length !== incoming.slots.length) return false;
  if (existing.negated !== incoming.negated) {
    return existing.slots.every((slot, i) => slot.text === incoming.slots[i]!.text);
  }
  const first = incoming.subjectSlot ? 1 : 0;
  for (let i = first; i < incoming.slots.length; i++) {
    const mine = incoming.slots[i]!;
    if (mine.text === existing.slots[i]!.text) continue;
    if (mine.kind === "name" && people.has(mine.text)) continue;
    return true;
  }
  return false;
}
