/**
 * vitest globalSetup: `npm test` leaves no temporary directories behind.
 *
 * The run gets a temporary directory of its own and points TMPDIR at it before any test worker
 * starts, so everything the suites and the processes they spawn create with `os.tmpdir()`
 * (SQLite data directories, redis-server working directories, TLS fixtures, browser profiles)
 * lands in it. At the end, whatever is still there was left by a harness that does not clean
 * up: the run fails and names it. A directory of its own keeps this exact while other test runs
 * share the machine's /tmp.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Files kept on purpose by tools, not by our harnesses: tsx's compile cache, and the two files
 * onnxruntime's native library writes into TMPDIR when a process first loads it (an empty
 * `mat-debug-<pid>.log` and a `.ses` session marker), which it does not remove.
 */
const TOOL_CACHES = [/^tsx-\d+$/, /^mat-debug-\d+\.log$/, /^\.ses$/];

export default function setup(): () => void {
  const runDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-run-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = runDir;
  return () => {
    const leftovers = readdirSync(runDir).filter((name) => !TOOL_CACHES.some((cache) => cache.test(name)));
    rmSync(runDir, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (leftovers.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code as well.
      process.exitCode = 1;
      throw new Error(
        `The tests left temporary files behind (a harness does not remove what it created): ${leftovers.join(", ")}`,
      );
    }
  };
}
