/**
 * The globalSetup that makes `npm test` fail when a harness leaves temporary files behind.
 */
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import setupTempDirCheck from "../support/temp-dir-check.js";

describe("temporary directory check", () => {
  const outerTmp = process.env.TMPDIR;
  const outerExitCode = process.exitCode;
  afterEach(() => {
    process.env.TMPDIR = outerTmp;
    process.exitCode = outerExitCode;
  });

  it("fails the run, naming what was left, and removes it", () => {
    const teardown = setupTempDirCheck();
    const runDir = os.tmpdir();
    expect(runDir).not.toBe(outerTmp);
    mkdtempSync(path.join(os.tmpdir(), "mnemo-forgotten-"));
    expect(() => teardown()).toThrow(/left temporary files behind[^\n]*mnemo-forgotten-/);
    expect(process.exitCode).toBe(1);
    expect(existsSync(runDir)).toBe(false);
    expect(process.env.TMPDIR).toBe(outerTmp);
  });

  it("passes when only tool caches remain, and removes them too", () => {
    const teardown = setupTempDirCheck();
    const runDir = os.tmpdir();
    mkdirSync(path.join(runDir, "tsx-0"));
    expect(() => teardown()).not.toThrow();
    expect(existsSync(runDir)).toBe(false);
  });
});
