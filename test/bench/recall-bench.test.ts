/**
 * `npm run bench:recall` on a tiny generated LoCoMo-format file: the real CLI, end to end
 * (ingest through the memory service, three systems, recall@k), producing the documented JSON.
 * The full LoCoMo run is a benchmark, not a test.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
/** Made when the suite runs, not when it is collected: a filtered-out suite never removes it. */
let dir: string;
const root = path.resolve(import.meta.dirname, "../..");

function conversation(id: string, a: string, b: string) {
  return {
    sample_id: id,
    conversation: {
      speaker_a: a,
      speaker_b: b,
      session_1_date_time: "1:56 pm on 8 May, 2023",
      session_1: [
        { speaker: a, dia_id: "D1:1", text: "I adopted a grey kitten called Pixel last week." },
        { speaker: b, dia_id: "D1:2", text: "Lovely! I started learning the cello." },
        {
          speaker: a,
          dia_id: "D1:3",
          text: "Look at my new bike.",
          img_url: ["https://example.org/bike.jpg"],
          blip_caption: "a photo of a red bicycle",
        },
      ],
      session_2_date_time: "10:00 am on 2 June, 2023",
      session_2: [
        { speaker: b, dia_id: "D2:1", text: "We went hiking in the Alps in May." },
        { speaker: a, dia_id: "D2:2", text: "Pixel learned to open the fridge!" },
      ],
    },
    qa: [
      { question: `What pet did ${a} adopt?`, answer: "a kitten", evidence: ["D1:1"], category: 4 },
      { question: `When did ${b} go hiking?`, answer: "May 2023", evidence: ["D2:1"], category: 2 },
      {
        question: `What does ${a}'s kitten do?`,
        answer: "opens the fridge",
        evidence: ["D1:1; D2:2"],
        category: 1,
      },
      {
        question: `What instrument might ${b} play?`,
        answer: "cello",
        evidence: ["D1:2", "D9:99"],
        category: 3,
      },
      { question: "Adversarial", answer: null, evidence: ["D1:1"], category: 5 },
      { question: "No evidence", answer: "x", evidence: ["D7:1"], category: 4 },
    ],
  };
}

describe("bench:recall", () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-recall-test-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs on a LoCoMo-format file and writes the JSON shape of the issue", async () => {
    const data = path.join(dir, "tiny.json");
    writeFileSync(data, JSON.stringify([conversation("t-1", "Ada", "Bo"), conversation("t-2", "Cy", "Di")]));
    const out = path.join(dir, "out.json");
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "bench/recall.ts",
        "--data",
        data,
        "--out",
        out,
        "--k",
        "1,3",
        "--results-dir",
        dir,
        "--stores",
        "sqlite,neo4j",
        // One embedder keeps this quick; the offline one is always installed.
        "--embedders",
        "local",
      ],
      { cwd: root, timeout: 180_000 },
    );
    expect(stdout).toContain("recall@3");
    expect(stdout).toContain("Same answers on every store");
    const result = JSON.parse(readFileSync(out, "utf8")) as {
      questions: number;
      systems: Record<
        string,
        { overall: Record<string, number>; byCategory: Record<string, Record<string, number>> }
      >;
    };
    // 4 scored questions per conversation: category 5 and evidence naming no turn are left out.
    expect(result.questions).toBe(8);
    expect(Object.keys(result.systems).sort()).toEqual(["bm25", "hybrid", "vector"]);
    for (const system of Object.values(result.systems)) {
      expect(Object.keys(system.overall)).toEqual(["recall@1", "recall@3"]);
      expect(Object.keys(system.byCategory).sort()).toEqual(["1", "2", "3", "4"]);
      for (const table of [system.overall, ...Object.values(system.byCategory)]) {
        for (const value of Object.values(table)) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
      }
      expect(system.overall["recall@3"]).toBeGreaterThanOrEqual(system.overall["recall@1"]!);
    }
    const saved = JSON.parse(readFileSync(path.join(dir, "recall.json"), "utf8")) as {
      results: {
        questions: number;
        stores: string[];
        storeAgreement: { embedder: string; maxDifference: Record<string, number> }[];
      };
    };
    expect(saved.results.questions).toBe(8);
    // The same ingest and questions on SQLite and on a real Neo4j: the nearest neighbours agree.
    expect(saved.results.stores).toEqual(["sqlite", "neo4j"]);
    expect(saved.results.storeAgreement.length).toBeGreaterThan(0);
    for (const row of saved.results.storeAgreement) expect(row.maxDifference.vector).toBe(0);
  }, 240_000);

  it("says where it looked when the dataset is missing", async () => {
    const failed = (await run(
      process.execPath,
      ["--import", "tsx", "bench/recall.ts", "--data", path.join(dir, "nowhere.json"), "--results-dir", dir],
      { cwd: root },
    ).catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/LoCoMo data not found at .*nowhere\.json/);
  });
});
