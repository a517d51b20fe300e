/**
 * The LoCoMo conversational-memory dataset (Maharana et al., ACL 2024) as the recall benchmark
 * reads it: conversations become turns (one memory each), questions carry the turns that answer
 * them (evidence), and recall@k is the share of a question's evidence found in the top k.
 *
 * Format (see ../shared/data/locomo/README.md): an array of samples, each with `sample_id`,
 * `conversation` (`speaker_a`, `speaker_b`, `session_N_date_time`, `session_N`: turns
 * `{speaker, dia_id: "D<session>:<turn>", text, img_url?, blip_caption?}`) and `qa`
 * (`{question, answer, evidence: [dia_id...], category}`). The dataset is read in place and
 * never copied into the repository.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { MONTHS } from "../../subgraphs/memory/domain/statements.js";

/** 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop. Category 5 (adversarial) has no answer. */
export const RECALL_CATEGORIES = [1, 2, 3, 4] as const;
export type Category = (typeof RECALL_CATEGORIES)[number];
export const CATEGORY_NAMES: Record<Category, string> = {
  1: "multi-hop",
  2: "temporal",
  3: "open-domain",
  4: "single-hop",
};

export interface Turn {
  /** "D<session>:<turn>" */
  diaId: string;
  speaker: string;
  text: string;
  /** The session's date (ISO 8601). */
  occurredAt: string;
  /** "session_<n>" */
  session: string;
  imageUrl: string | null;
  caption: string | null;
}

export interface Question {
  question: string;
  category: Category;
  /** Evidence turn ids that exist in the conversation (malformed or unknown ids dropped). */
  evidence: string[];
}

export interface Conversation {
  sampleId: string;
  turns: Turn[];
  questions: Question[];
}

interface RawTurn {
  speaker: string;
  dia_id: string;
  text: string;
  img_url?: string[] | string;
  blip_caption?: string;
}

interface RawSample {
  sample_id: string;
  conversation: Record<string, unknown>;
  qa: { question: string; evidence?: unknown; category: number }[];
}

export class DatasetError extends Error {
  override name = "DatasetError";
}

/**
 * Resolves the dataset path against the current directory (so `../shared/...` works from the
 * repository root, as documented) and reads it, with a message that says what to do when it is
 * missing or malformed.
 */
export function loadLocomo(file: string): Conversation[] {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    throw new DatasetError(
      `LoCoMo data not found at ${resolved}. Pass --data with the path to locomo-dev.json ` +
        "(the dataset lives in the shared folder next to the repository, e.g. ../shared/data/locomo/locomo-dev.json, " +
        "resolved against the current directory); it is never copied into the repository.",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(resolved, "utf8"));
  } catch (error) {
    throw new DatasetError(`${resolved} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new DatasetError(`${resolved}: expected a JSON array of samples`);
  return (raw as RawSample[]).map((sample, i) => parseSample(sample, `${resolved}[${i}]`));
}

function parseSample(sample: RawSample, where: string): Conversation {
  if (!sample || typeof sample.sample_id !== "string" || typeof sample.conversation !== "object") {
    throw new DatasetError(`${where}: a sample needs sample_id and conversation`);
  }
  const sessions = Object.keys(sample.conversation)
    .map((key) => /^session_(\d+)$/.exec(key))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
  const turns: Turn[] = [];
  for (const n of sessions) {
    const list = sample.conversation[`session_${n}`];
    if (!Array.isArray(list)) continue;
    const date = sample.conversation[`session_${n}_date_time`];
    const occurredAt = parseSessionDate(String(date ?? ""), `${where}.session_${n}_date_time`);
    for (const turn of list as RawTurn[]) {
      const url = Array.isArray(turn.img_url) ? turn.img_url[0] : turn.img_url;
      turns.push({
        diaId: turn.dia_id,
        speaker: turn.speaker,
        text: turn.text,
        occurredAt,
        session: `session_${n}`,
        imageUrl: url ?? null,
        caption: turn.blip_caption?.trim() || null,
      });
    }
  }
  const known = new Set(turns.map((turn) => turn.diaId));
  const questions: Question[] = [];
  for (const qa of sample.qa ?? []) {
    if (!RECALL_CATEGORIES.includes(qa.category as Category)) continue;
    const evidence = [
      ...new Set(
        (Array.isArray(qa.evidence) ? qa.evidence : [])
          .flatMap((id) => String(id).split(";"))
          .map((id) => id.trim())
          .filter((id) => known.has(id)),
      ),
    ];
    // A question whose evidence names no turn cannot be scored: it is left out, not counted as 0.
    if (evidence.length === 0) continue;
    questions.push({ question: qa.question, category: qa.category as Category, evidence });
  }
  return { sampleId: sample.sample_id, turns, questions };
}

/** "1:56 pm on 8 May, 2023" → 2023-05-08T13:56:00.000Z (the dataset gives no time zone; UTC is assumed). */
export function parseSessionDate(text: string, where: string): string {
  const match = /^\s*(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})\s*$/i.exec(text);
  const month = match ? MONTHS.indexOf(match[5]!.toLowerCase()) : -1;
  if (!match || month < 0) {
    throw new DatasetError(`${where}: "${text}" is not a session date like "1:56 pm on 8 May, 2023"`);
  }
  const hour = (Number(match[1]) % 12) + (match[3]!.toLowerCase() === "pm" ? 12 : 0);
  return new Date(Date.UTC(Number(match[6]), month, Number(match[4]), hour, Number(match[2]))).toISOString();
}

/** Share of `evidence` among the first `k` of `ranked` (ids of turns). */
export function recallAt(ranked: readonly string[], evidence: readonly string[], k: number): number {
  const top = new Set(ranked.slice(0, k));
  return evidence.filter((id) => top.has(id)).length / evidence.length;
}

export type RecallTable = Record<`recall@${number}`, number>;

export interface SystemResult {
  overall: RecallTable;
  byCategory: Record<string, RecallTable>;
}

/** Accumulates recall@k per category for one system; `result()` gives means (4 decimals). */
export class RecallAccumulator {
  private readonly sums = new Map<string, { n: number; sums: number[] }>();

  constructor(private readonly ks: readonly number[]) {}

  add(category: Category, ranked: readonly string[], evidence: readonly string[]): void {
    for (const key of [String(category), "overall"]) {
      let entry = this.sums.get(key);
      if (!entry) {
        entry = { n: 0, sums: this.ks.map(() => 0) };
        this.sums.set(key, entry);
      }
      entry.n++;
      this.ks.forEach((k, i) => {
        entry.sums[i]! += recallAt(ranked, evidence, k);
      });
    }
  }

  count(category?: Category): number {
    return this.sums.get(category === undefined ? "overall" : String(category))?.n ?? 0;
  }

  result(): SystemResult {
    const table = (key: string): RecallTable => {
      const entry = this.sums.get(key);
      return Object.fromEntries(
        this.ks.map((k, i) => [
          `recall@${k}`,
          entry ? Math.round((entry.sums[i]! / entry.n) * 10_000) / 10_000 : 0,
        ]),
      ) as RecallTable;
    };
    const byCategory: Record<string, RecallTable> = {};
    for (const category of RECALL_CATEGORIES) {
      if (this.sums.has(String(category))) byCategory[String(category)] = table(String(category));
    }
    return { overall: table("overall"), byCategory };
  }
}
