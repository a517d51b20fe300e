/**
 * GraphiQL at /graphiql works offline: loaded by a real headless Chromium (Debian's `chromium`
 * package; .ci/run installs it) from the gateway alone, a query typed into its editor, run with
 * its button, the answer read from its result pane. Any request to another host is blocked and
 * recorded, and fails the test.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** A browser that talks to nothing but the page's own server. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe("GraphiQL at /graphiql, in headless Chromium", () => {
  let mnemo: TestStack;
  let browser: BrowserContext;
  let profileDir: string;
  let origin: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is needed at ${CHROMIUM}: apt-get install chromium (.ci/run installs it)`);
    }
    mnemo = await startTestStack();
    origin = new URL(mnemo.url("gateway")).origin;
    const put = await mnemo.query(
      `mutation { putState(agentId: "graphiql-agent", data: { goal: "explore offline" }) { version } }`,
    );
    expect(put.errors).toBeUndefined();
    profileDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-chromium-"));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await mnemo?.close();
  });

  /** Opens /graphiql with every request to another origin blocked and recorded. */
  const open = async (): Promise<{ page: Page; elsewhere: string[]; errors: string[] }> => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const errors: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("data:") || new URL(url).origin === origin) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin}/graphiql`);
    await page.locator(QUERY_EDITOR).waitFor();
    return { page, elsewhere, errors };
  };

  const QUERY_EDITOR = "section.graphiql-query-editor .CodeMirror";
  /** The tool pane shows one editor at a time (variables or headers); the other is hidden. */
  const HEADERS_EDITOR = "section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror";

  /** Replaces an editor's text by typing it, as a person would. */
  const typeInto = async (page: Page, editor: string, text: string) => {
    await page.locator(editor).click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.type(text);
    // Close any completion list the typing opened, so it cannot eat the next click.
    await page.keyboard.press("Escape");
  };

  /** The result pane's text, read from its CodeMirror instance (the DOM shows only what is in view). */
  const resultText = (page: Page) =>
    page
      .locator("section.result-window .CodeMirror")
      .evaluate((pane) => (pane as { CodeMirror?: { getValue(): string } }).CodeMirror?.getValue() ?? "");
  /** GraphiQL names the tab after the operation in the editor once it has parsed what was typed. */
  const waitForOperation = (page: Page, name: string) =>
    page.locator("ul.graphiql-tabs").getByText(name, { exact: true }).waitFor();

  it("loads from the gateway alone and runs a query typed into its editor", async () => {
    const { page, elsewhere, errors } = await open();
    const token = await mnemo.token(agentPrincipal("graphiql-agent"));

    await page.getByRole("button", { name: "Headers", exact: true }).click();
    await typeInto(page, HEADERS_EDITOR, `{"authorization": "Bearer ${token}"`);
    await typeInto(
      page,
      QUERY_EDITOR,
      'query Explore { agent(id: "graphiql-agent") { id state { version data } ',
    );
    await waitForOperation(page, "Explore");
    await page.locator("button.graphiql-execute-button").click();

    await expect.poll(() => resultText(page), { timeout: 15_000 }).toContain('"explore offline"');
    const result = JSON.parse(await resultText(page));
    expect(result).toEqual({
      data: { agent: { id: "graphiql-agent", state: { version: 1, data: { goal: "explore offline" } } } },
    });
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the API's error code when the token may not read the agent", async () => {
    const { page } = await open();
    const token = await mnemo.token(agentPrincipal("someone-else"));
    await page.getByRole("button", { name: "Headers", exact: true }).click();
    await typeInto(page, HEADERS_EDITOR, `{"authorization": "Bearer ${token}"`);
    await typeInto(page, QUERY_EDITOR, 'query Denied { agent(id: "graphiql-agent") { id ');
    await waitForOperation(page, "Denied");
    await page.locator("button.graphiql-execute-button").click();
    await expect.poll(() => resultText(page), { timeout: 15_000 }).toContain("FORBIDDEN");
    const result = JSON.parse(await resultText(page));
    expect(result.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual([
      "FORBIDDEN",
    ]);
    await page.close();
  });

  it("is served with a policy that lets the browser load nothing from other origins", async () => {
    const response = await fetch(`${origin}/graphiql`);
    expect(response.status).toBe(200);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self'");
    const page = await response.text();
    expect(page).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect((await fetch(`${origin}/graphiql/assets/../../package.json`)).status).toBe(404);
    expect((await fetch(`${origin}/graphiql/assets/graphiql.min.js`)).headers.get("content-type")).toMatch(
      /javascript/,
    );
  });
});

describe("GraphiQL when introspection is off", () => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ env: { INTROSPECTION: "false" } });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("is not served, as Sandbox is not: the explorer would need the schema", async () => {
    const origin = new URL(mnemo.url("gateway")).origin;
    expect((await fetch(`${origin}/graphiql`)).status).toBe(404);
    expect((await fetch(`${origin}/graphiql/assets/graphiql.min.js`)).status).toBe(404);
  });
});
