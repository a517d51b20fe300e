/**
 * Builds and starts the embedded Neo4j server (EmbeddedNeo4j.java): one JVM running Neo4j 5.26
 * Community with Bolt on loopback, from Maven Central artifacts only. Used by `npm run neo4j`
 * (scripts/neo4j.ts) and the test harness (test/support/neo4j-server.ts), so a person and the
 * tests run exactly the same server.
 *
 * The build is `mvn package` in this folder: the launcher class plus every runtime jar copied to
 * target/lib. It runs again only when pom.xml or the Java source changed (a stamp holds their
 * hash), so the first start on a fresh machine downloads the jars (~125 MB into ~/.m2) and later
 * starts begin at once.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const NEO4J_VERSION_LINE = "5.26";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = path.join(HERE, "target");
const STAMP = path.join(TARGET, "mnemo-build.stamp");
const BUILD_LOCK = path.join(HERE, ".build-lock");
const MAIN_CLASS = "dev.mnemo.neo4j.EmbeddedNeo4j";

export interface EmbeddedNeo4jOptions {
  /** Where databases, transaction logs and logs/debug.log live; created when missing. */
  home: string;
  /** Bolt listen address; loopback unless you mean to expose it. */
  host?: string;
  /** Bolt port; 0 (the default) binds a free one, reported in `uri`. */
  port?: number;
  /** Password of user `neo4j` (at least 8 characters); set at every start. */
  password: string;
  /** JVM heap (-Xmx), e.g. "1g". */
  heap?: string;
  /** Neo4j page cache, e.g. "256m". */
  pageCache?: string;
  /** Lines of the server's own output (stderr), for logs. */
  onOutput?: (line: string) => void;
  /** How long to wait for Bolt, ms. */
  startTimeoutMs?: number;
}

export interface RunningNeo4j {
  readonly uri: string;
  readonly user: "neo4j";
  readonly password: string;
  /** Start-up time measured inside the JVM, ms (JVM start to Bolt accepting connections). */
  readonly readyMs: number;
  /** Start-up time seen by the caller, ms (spawn to ready). */
  readonly startMs: number;
  readonly pid: number;
  /** Clean shutdown (SIGTERM: checkpoint, then exit); SIGKILL if it takes longer than `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would: no checkpoint, recovery from the transaction log at the next start. */
  kill(): Promise<void>;
  /** Resolves when the process exits, for whatever reason. */
  readonly exited: Promise<number | null>;
}

/** Thrown when Java or Maven is missing or the build fails: the message says what to install or read. */
export class Neo4jLauncherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Neo4jLauncherError";
  }
}

function sourceHash(): string {
  const hash = createHash("sha256");
  const files = [path.join(HERE, "pom.xml"), ...listFiles(path.join(HERE, "src"))].sort();
  for (const file of files) {
    hash.update(path.relative(HERE, file));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

function isBuilt(hash: string): boolean {
  return existsSync(STAMP) && readFileSync(STAMP, "utf8") === hash && existsSync(path.join(TARGET, "lib"));
}

function requireTool(command: string, args: string[], install: string): void {
  const probe = spawnSync(command, args, { stdio: "ignore" });
  if (probe.error || probe.status !== 0) {
    throw new Neo4jLauncherError(`${command} is needed to build and run the embedded Neo4j: ${install}`);
  }
}

/**
 * Builds the launcher when its sources changed since the last build. Concurrent callers (two
 * terminals, or tests and a person) wait for one build instead of running Maven twice into the
 * same target folder.
 */
export async function buildEmbeddedNeo4j(log: (line: string) => void = () => {}): Promise<void> {
  const hash = sourceHash();
  if (isBuilt(hash)) return;
  requireTool("java", ["-version"], "install a JDK 17 or newer (Debian: openjdk-17-jdk-headless)");
  requireTool("mvn", ["-v"], "install Apache Maven (Debian: maven)");
  await withBuildLock(async () => {
    if (isBuilt(hash)) return;
    log(
      `building the embedded Neo4j ${NEO4J_VERSION_LINE} launcher with Maven (first time: downloads ~125 MB)`,
    );
    const started = Date.now();
    const result = spawnSync("mvn", ["-q", "-B", "package"], { cwd: HERE, encoding: "utf8" });
    if (result.status !== 0) {
      throw new Neo4jLauncherError(
        `mvn package failed in ${HERE} (exit ${result.status}):\n${result.stdout}${result.stderr}`,
      );
    }
    writeFileSync(STAMP, hash);
    log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}

async function withBuildLock(work: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock older than any build is a crashed builder's.
      if (Date.now() - statSync(BUILD_LOCK).mtimeMs > 10 * 60_000) rmSync(BUILD_LOCK, { recursive: true });
      if (Date.now() > deadline) throw new Neo4jLauncherError(`waited 10 minutes for ${BUILD_LOCK}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await work();
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

/** Builds if needed, then starts the server and resolves once it accepts Bolt connections. */
export async function startEmbeddedNeo4j(options: EmbeddedNeo4jOptions): Promise<RunningNeo4j> {
  await buildEmbeddedNeo4j(options.onOutput);
  if (options.password.length < 8)
    throw new Neo4jLauncherError("the Neo4j password needs at least 8 characters");
  mkdirSync(options.home, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const jvmArgs = [
    `-Xms${options.heap ?? "512m"}`,
    `-Xmx${options.heap ?? "512m"}`,
    // Neo4j's own launcher passes these: G1 keeps pauses short, and a heap dump of a test
    // server is never wanted.
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-cp",
    `${path.join(TARGET, "mnemo-neo4j-embedded-1.0.0.jar")}${path.delimiter}${path.join(TARGET, "lib", "*")}`,
    MAIN_CLASS,
  ];
  const args = [
    ...jvmArgs,
    "--home",
    options.home,
    "--host",
    host,
    "--port",
    String(options.port ?? 0),
    "--pagecache",
    options.pageCache ?? "128m",
    "--exit-on-stdin-close",
  ];
  const started = Date.now();
  const child = spawn("java", args, {
    env: { ...process.env, NEO4J_PASSWORD: options.password },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 50) output.shift();
    options.onOutput?.(line);
  };
  if (child.stderr) createInterface({ input: child.stderr }).on("line", remember);

  const ready = new Promise<{ uri: string; readyMs: number }>((resolve, reject) => {
    let uri: string | undefined;
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line.startsWith("NEO4J_URI=")) uri = line.slice("NEO4J_URI=".length);
      else if (line.startsWith("NEO4J_READY_MS=") && uri) resolve({ uri, readyMs: Number(line.slice(15)) });
      else remember(line);
    });
    child.once("error", (error) => reject(new Neo4jLauncherError(`could not start java: ${error.message}`)));
    exited.then((code) =>
      reject(
        new Neo4jLauncherError(
          `the embedded Neo4j exited (${code}) before it was ready:\n${output.join("\n")}`,
        ),
      ),
    );
  });
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Neo4jLauncherError(`the embedded Neo4j was not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let result: { uri: string; readyMs: number };
  try {
    result = await Promise.race([ready, timeout]);
  } catch (error) {
    await stopProcess(child, exited, 1000);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    uri: result.uri,
    user: "neo4j",
    password: options.password,
    readyMs: result.readyMs,
    startMs: Date.now() - started,
    pid: child.pid!,
    exited,
    stop: (graceMs = 30_000) => stopProcess(child, exited, graceMs),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

async function stopProcess(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
