/**
 * The README's example session and memory examples, pasted into bash as a reader would (only
 * TOKEN and URL filled in), against a running stack on each store: every command succeeds, and
 * the answers are the ones the README describes.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORES } from "../support/neo4j.js";
import { ADMIN, startTestStack, type TestStack } from "../support/stack.js";

const run = promisify(execFile);
const README = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");

/** The ```sh blocks of a README section, in order. */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const end = README.indexOf("\n## ", start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe.each(STORES)("the README's examples, pasted into a shell (%s)", (store) => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ store });
  });
  afterAll(() => mnemo?.close());

  it("run in order, every command succeeds, and the answers are as described", async () => {
    const script = [...shellBlocks("An example session"), ...shellBlocks("Memory: remember and recall")]
      .join("\n")
      .replace(/^TOKEN=.*$/m, `TOKEN=${await mnemo.token(ADMIN)}`)
      .replace(/^URL=.*$/m, `URL=${mnemo.url("gateway")}`);
    expect(script).toContain("supersedes");
    const { stdout } = await run("bash", ["-c", script], { timeout: 60_000 });
    const responses = stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { data?: unknown; errors?: unknown });
    expect(responses.length).toBeGreaterThanOrEqual(10);
    for (const response of responses) expect(response.errors, JSON.stringify(response)).toBeUndefined();

    const text = JSON.stringify(responses);
    expect(text).toContain('"outcome":"SUPERSEDED"');
    expect(text).toContain('"supersededBy":{"content":"The release is due in June"}');
    // Now: June. When May was written: May (with the end the later fact gave it).
    const recalls = responses.filter((r) => JSON.stringify(r).startsWith('{"data":{"recall"'));
    const firstHit = (r: unknown) =>
      (r as { data: { recall: { memory: { content: string } }[] } }).data.recall[0]?.memory;
    expect(firstHit(recalls.at(-2))?.content).toBe("The release is due in June");
    expect(firstHit(recalls.at(-1))).toMatchObject({ content: "The release is due in May" });
    expect((firstHit(recalls.at(-1)) as unknown as { validUntil: string | null }).validUntil).not.toBeNull();
  }, 120_000);
});
