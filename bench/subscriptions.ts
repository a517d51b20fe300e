/**
 * `npm run bench:subscriptions`: live subscriptions through one gateway.
 *
 * For each level (default 1,000 and 5,000 WebSocket subscribers, BENCH_SUBSCRIBERS) every
 * subscriber runs `subscription { agentStateChanged(agentId) { version data createdAt } }`
 * through the gateway on its own socket (graphql-transport-ws, see subscriptions/subscriber.ts),
 * while one writer does `putState` at 50 writes/s (BENCH_SECONDS, default 20 s). Reported:
 *  - delivery latency from the mutation's response to each client's receipt, p50/p99/max (an
 *    event may arrive before the writer has its response: those count as 0 ms, and how many did
 *    is reported); from the version's commit (its createdAt, the subgraph's wall clock), the
 *    pipeline alone: publish, Redis, subgraph, gateway, client; and from the mutation's request,
 *    which bounds it from above;
 *  - deliveries, lost deliveries, out-of-order ones, clients closed by the gateway;
 *  - events/s delivered, and the gateway's memory (RSS and V8 heap) idle, with the subscribers
 *    connected, and at its peak during the writes;
 *  - the same for a warm-up of BENCH_WARMUP_SECONDS (default 3 s) of writes that come first, on
 *    its own row: the gateway's first second of events runs cold (see WARMUP_WRITES);
 *  - beside it, in the same run, the floors: raw Redis PUBLISH → SUBSCRIBE latency at the same
 *    rate, with ioredis; and the WebSocket fan-out alone (the same subscribers fed by a bare `ws`
 *    server at the same rate, subscriptions/ws-floor.ts), with its CPU per delivery.
 *
 * Processes (2 cores): redis-server; the subgraphs (state, memory, cache-admin) in one Node
 * process; the gateway alone in another, so its memory is its own; the writer in a third; the
 * subscribers in this one. All timestamps come from the machine's monotonic clock
 * (process.hrtime), which every process on Linux shares, except "from commit" (wall clock). Receipt times include the subscribers'
 * own work (thousands of clients share one event loop here), so they are an upper bound of what
 * a client on its own machine would see.
 *
 * Results: a table on stdout and bench/results/subscriptions.json. BENCH_PROFILE=<dir> writes
 * V8 CPU profiles of the gateway and the subgraphs' process there; BENCH_TIMELINE=<file> the latency of every write.
 */
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { issueToken } from "../core/auth/tokens.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ServiceProcess } from "../test/support/service-process.js";
import { metric, wsUrl } from "../test/support/subscriptions.js";
import { BenchSubscriber } from "./subscriptions/subscriber.js";
import type { WriterJob, WriteTiming } from "./subscriptions/writer.js";

const LEVELS = (process.env.BENCH_SUBSCRIBERS ?? "1000,5000").split(",").map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WRITES_PER_SECOND = 50;
const WRITES = SECONDS * WRITES_PER_SECOND;
/**
 * Before the measured writes, the same subscribers receive BENCH_WARMUP_SECONDS (default 3) of
 * writes at the same rate. A fresh gateway runs its event path cold (interpreted, not yet
 * optimised by V8) for about the first second of events, and that alone used to make the p99 of
 * a 20 s run; it is reported on its own row instead, not mixed into the steady state.
 */
const WARMUP_WRITES = Number(process.env.BENCH_WARMUP_SECONDS ?? 3) * WRITES_PER_SECOND;
const TOTAL_WRITES = WARMUP_WRITES + WRITES;
const CONNECT_BATCH = 250;
/** After the last write, how long deliveries may still be arriving before the rest count as lost. */
const DRAIN_IDLE_MS = 5_000;
const JWT_SECRET = "benchmark-jwt-secret-that-is-at-least-32-bytes";
const INTERNAL_SECRET = "benchmark-internal-secret-at-least-32-bytes!";
const here = path.dirname(new URL(import.meta.url).pathname);

const now = () => process.hrtime.bigint();
const ms = (ns: bigint) => Number(ns) / 1e6;

interface Latency {
  p50: number;
  p99: number;
  max: number;
}

interface LevelResult {
  subscribers: number;
  writes: number;
  writesPerSecondAchieved: number;
  writeFailures: number;
  deliveriesExpected: number;
  deliveries: number;
  lost: number;
  outOfOrder: number;
  clientsClosed: number;
  closeCodes: Record<string, number>;
  subscriptionErrors: Record<string, number>;
  latencyFromResponseMs: Latency;
  deliveredBeforeResponse: number;
  latencyFromRequestMs: Latency;
  /** From the version's createdAt (set by the state subgraph at commit; wall clock, 1 ms resolution). */
  latencyFromCommitMs: Latency;
  /** The warm-up writes before the measured ones, on a gateway that has not delivered events yet. */
  warmUp: { writes: number; lost: number; latencyFromResponseMs: Latency };
  /** The writer's mutation round trips through the gateway. */
  writeLatencyMs: Latency;
  eventsPerSecond: number;
  gateway: { rssIdleMb: number; rssConnectedMb: number; rssPeakMb: number; heapPeakMb: number };
  /**
   * CPU time (user + system) each process spent from the first write to the last delivery, in
   * µs per delivery: unlike latencies, this barely depends on what else runs on the machine.
   */
  cpuMicrosecondsPerDelivery: { gateway: number; subgraphs: number; subscribers: number };
}

function percentiles(values: Float64Array | number[]): Latency {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]!) };
}

const round = (value: number) => Math.round(value * 100) / 100;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

// ---- processes --------------------------------------------------------------------------

type WriterResult = { timings: WriteTiming[]; failures: number; seconds: number };

/** The writer child process (subscriptions/writer.ts): `run` one job after another, then `stop`. */
function startWriter() {
  const child = fork(path.join(here, "subscriptions/writer.ts"), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code) => reject(new Error(`the writer exited with ${code}`)));
  });
  exited.catch(() => {});
  return {
    run(job: WriterJob): Promise<WriterResult> {
      const done = new Promise<WriterResult>((resolve) => {
        child.once("message", (message: { type: string } & WriterResult) => resolve(message));
        child.send(job);
      });
      return Promise.race([done, exited]);
    },
    stop(): void {
      child.disconnect();
    },
  };
}

// ---- the floor: Redis alone ---------------------------------------------------------------

async function redisFloor(url: string, messages: number): Promise<Latency & { messages: number }> {
  const subscriber = new Redis(url);
  const publisher = new Redis(url);
  const channel = "mnemo:bench:floor";
  const latencies: number[] = [];
  subscriber.on("message", (_channel: string, sentNs: string) => latencies.push(ms(now() - BigInt(sentNs))));
  await subscriber.subscribe(channel);
  const start = performance.now();
  for (let i = 0; i < messages; i++) {
    const wait = start + (i * 1000) / WRITES_PER_SECOND - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await publisher.publish(channel, String(now()));
  }
  const deadline = Date.now() + 2000;
  while (latencies.length < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  subscriber.disconnect();
  publisher.disconnect();
  return { ...percentiles(latencies), messages: latencies.length };
}

// ---- the floor: WebSocket fan-out alone ----------------------------------------------------

interface FanOutFloor extends Latency {
  /** The warm-up's events (a fresh process, before the measured run). */
  warmUp: Latency;
  subscribers: number;
  deliveries: number;
  lost: number;
  eventsPerSecond: number;
  cpuMicrosecondsPerDelivery: { server: number; subscribers: number };
}

/** The same subscribers and event rate against a bare ws server (subscriptions/ws-floor.ts). */
async function fanOutFloor(subscribers: number): Promise<FanOutFloor> {
  const child = fork(path.join(here, "subscriptions/ws-floor.ts"), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = <T>(message: object, type: string) =>
    new Promise<T>((resolve) => {
      const listener = (reply: { type: string } & T) => {
        if (reply.type !== type) return;
        child.off("message", listener);
        resolve(reply);
      };
      child.on("message", listener);
      if (Object.keys(message).length > 0) child.send(message);
    });
  const { url } = await ask<{ url: string }>({}, "ready");
  const latencies: number[] = [];
  const warmUpLatencies: number[] = [];
  let lastReceipt = 0n;
  const clients: BenchSubscriber[] = [];
  for (let c = 0; c < subscribers; c++) {
    clients.push(
      new BenchSubscriber(url, "none", "subscription { floor }", {
        next: (payload) => {
          const at = now();
          const event = payload.data?.agentStateChanged as { version: number; sentNs: string } | undefined;
          if (!event) return;
          (event.version <= WARMUP_WRITES ? warmUpLatencies : latencies).push(ms(at - BigInt(event.sentNs)));
          lastReceipt = at;
        },
        ended: () => {},
      }),
    );
  }
  await until(
    async () => (await ask<{ subscribed: number }>({ type: "count" }, "count")).subscribed === subscribers,
    60_000,
  );
  const run = async (firstVersion: number, events: number, received: () => number) => {
    const done = await ask<{ sent: number; cpuMicroseconds: number }>(
      { type: "run", firstVersion, events, perSecond: WRITES_PER_SECOND },
      "done",
    );
    await drain(received, done.sent);
    return done;
  };
  await run(1, WARMUP_WRITES, () => warmUpLatencies.length);
  const cpuBefore = process.cpuUsage();
  const started = now();
  const done = await run(WARMUP_WRITES + 1, WRITES, () => latencies.length);
  const subscriberCpu = cpuUsageSeconds(process.cpuUsage(cpuBefore));
  await Promise.all(clients.map((client) => client.close()));
  child.kill();
  const deliveries = latencies.length;
  return {
    ...percentiles(latencies),
    warmUp: percentiles(warmUpLatencies),
    subscribers,
    deliveries,
    lost: subscribers * TOTAL_WRITES - deliveries - warmUpLatencies.length,
    eventsPerSecond: Math.round(deliveries / (ms(lastReceipt - started) / 1000)),
    cpuMicrosecondsPerDelivery: {
      server: round(done.cpuMicroseconds / deliveries),
      subscribers: round((subscriberCpu * 1e6) / deliveries),
    },
  };
}

/** Waits until `expected` deliveries came, or none came for DRAIN_IDLE_MS (the rest are lost). */
async function drain(received: () => number, expected: number): Promise<void> {
  let seen = -1;
  let idleSince = Date.now();
  while (received() < expected && Date.now() - idleSince < DRAIN_IDLE_MS) {
    if (received() !== seen) {
      seen = received();
      idleSince = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---- one level ----------------------------------------------------------------------------

async function runLevel(
  subscribers: number,
  urls: { gateway: string; state: string },
  redisUrl: string,
): Promise<LevelResult> {
  const gatewayUrl = urls.gateway;
  const cpuSeconds = (url: string) => metric(url, "mnemo_process_cpu_seconds_total");
  const agentId = `bench-${subscribers}-${Date.now()}`;
  const token = await issueToken({ jwtSecret: JWT_SECRET }, { sub: "bench", role: "admin", agents: ["*"] });
  const query = `subscription Bench { agentStateChanged(agentId: "${agentId}") { version data createdAt } }`;
  // createdAt is the state subgraph's wall clock at commit; this maps our monotonic clock to it.
  const wallOffsetMs = performance.timeOrigin + performance.now() - ms(now());
  const committedAt = new Map<number, number>();
  const rss = () => metric(gatewayUrl, "mnemo_process_resident_memory_bytes");
  const heap = () => metric(gatewayUrl, "mnemo_nodejs_heap_size_used_bytes");
  const rssIdle = await rss();

  // receipts[client * TOTAL_WRITES + version - 1]: when the client got that version (ms on the
  // shared clock). Versions 1…WARMUP_WRITES are the warm-up's.
  const receipts = new Float64Array(subscribers * TOTAL_WRITES).fill(Number.NaN);
  const lastVersion = new Int32Array(subscribers);
  let warmUpDeliveries = 0;
  let deliveries = 0;
  let outOfOrder = 0;
  let lastReceipt = 0n;
  const closeCodes: Record<string, number> = {};
  /** Subscriptions that ended with an error, by code (UNAVAILABLE: the gateway could not keep up). */
  const subscriptionErrors: Record<string, number> = {};
  let clientsClosed = 0;
  const clients: BenchSubscriber[] = [];
  for (let c = 0; c < subscribers; c++) {
    const subscriber = new BenchSubscriber(wsUrl(gatewayUrl), `Bearer ${token}`, query, {
      next: (payload) => {
        const at = now();
        const event = payload.data?.agentStateChanged as { version: number; createdAt: string } | undefined;
        const version = event?.version ?? 0;
        if (version < 1 || version > TOTAL_WRITES) return;
        receipts[c * TOTAL_WRITES + version - 1] = ms(at);
        if (!committedAt.has(version)) committedAt.set(version, Date.parse(event?.createdAt ?? ""));
        if (version <= lastVersion[c]!) outOfOrder++;
        lastVersion[c] = version;
        if (version <= WARMUP_WRITES) {
          warmUpDeliveries++;
          return;
        }
        deliveries++;
        lastReceipt = at;
      },
      ended: (reason) => {
        if ("closeCode" in reason) {
          const code = String(reason.closeCode);
          closeCodes[code] = (closeCodes[code] ?? 0) + 1;
          clientsClosed++;
        } else {
          subscriptionErrors[reason.code] = (subscriptionErrors[reason.code] ?? 0) + 1;
        }
      },
    });
    clients.push(subscriber);
    if ((c + 1) % CONNECT_BATCH === 0) {
      const expected = c + 1;
      await until(async () => (await metric(gatewayUrl, "mnemo_subscriptions_active")) >= expected, 60_000);
    }
  }
  await until(async () => (await metric(gatewayUrl, "mnemo_subscriptions_active")) >= subscribers, 60_000);
  const probe = new Redis(redisUrl);
  await until(async () => {
    const [, count] = (await probe.pubsub("NUMSUB", `mnemo:v1:event:agentStateChanged:${agentId}`)) as [
      string,
      number,
    ];
    return Number(count) >= 1;
  }, 10_000);
  probe.disconnect();
  const rssConnected = await rss();

  let rssPeak = rssConnected;
  let heapPeak = await heap();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // A gateway too busy to answer /metrics for a moment is not a reason to abort the run.
      rssPeak = Math.max(rssPeak, await rss().catch(() => 0));
      heapPeak = Math.max(heapPeak, await heap().catch(() => 0));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  const writer = startWriter();
  const writes = (count: number) =>
    writer.run({ gatewayUrl, token, agentId, writes: count, perSecond: WRITES_PER_SECOND });
  const warmUp = await writes(WARMUP_WRITES);
  await drain(() => warmUpDeliveries, subscribers * warmUp.timings.length);
  // BENCH_PAUSE_SECONDS: quiet time between the warm-up and the measured writes, to measure a
  // burst that follows an idle spell on a warm gateway.
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.BENCH_PAUSE_SECONDS ?? 0) * 1000));

  const cpuBefore = {
    gateway: await cpuSeconds(gatewayUrl),
    subgraphs: await cpuSeconds(urls.state),
    subscribers: process.cpuUsage(),
  };
  const written = await writes(WRITES);
  writer.stop();
  const expected = subscribers * written.timings.length;
  await drain(() => deliveries, expected);
  const cpuUsed = {
    gateway: (await cpuSeconds(gatewayUrl)) - cpuBefore.gateway,
    subgraphs: (await cpuSeconds(urls.state)) - cpuBefore.subgraphs,
    subscribers: cpuUsageSeconds(process.cpuUsage(cpuBefore.subscribers)),
  };
  sampling = false;
  await sampler;

  const measured = deliveryLatencies(written.timings, subscribers, receipts, committedAt, wallOffsetMs);
  const cold = deliveryLatencies(warmUp.timings, subscribers, receipts, committedAt, wallOffsetMs);
  if (process.env.BENCH_TIMELINE) {
    writeTimeline(process.env.BENCH_TIMELINE, subscribers, [...warmUp.timings, ...written.timings], receipts);
  }
  const writeLatency = written.timings.map((timing) =>
    ms(BigInt(timing.respondedNs) - BigInt(timing.sentNs)),
  );
  const firstSent = ms(BigInt(written.timings[0]?.sentNs ?? "0"));
  const deliverySeconds = (ms(lastReceipt) - firstSent) / 1000;

  await Promise.all(clients.map((client) => client.close()));
  await until(async () => (await metric(gatewayUrl, "mnemo_subscriptions_active")) === 0, 60_000);

  return {
    subscribers,
    writes: written.timings.length,
    writesPerSecondAchieved: round(written.timings.length / written.seconds),
    writeFailures: written.failures,
    deliveriesExpected: expected,
    deliveries,
    lost: expected - deliveries,
    outOfOrder,
    clientsClosed,
    closeCodes,
    subscriptionErrors,
    latencyFromResponseMs: percentiles(measured.fromResponse),
    deliveredBeforeResponse: measured.beforeResponse,
    latencyFromRequestMs: percentiles(measured.fromRequest),
    latencyFromCommitMs: percentiles(measured.fromCommit),
    warmUp: {
      writes: warmUp.timings.length,
      lost: subscribers * warmUp.timings.length - warmUpDeliveries,
      latencyFromResponseMs: percentiles(cold.fromResponse),
    },
    writeLatencyMs: percentiles(writeLatency),
    eventsPerSecond: Math.round(deliveries / deliverySeconds),
    cpuMicrosecondsPerDelivery: {
      gateway: round((cpuUsed.gateway * 1e6) / deliveries),
      subgraphs: round((cpuUsed.subgraphs * 1e6) / deliveries),
      subscribers: round((cpuUsed.subscribers * 1e6) / deliveries),
    },
    gateway: {
      rssIdleMb: mb(rssIdle),
      rssConnectedMb: mb(rssConnected),
      rssPeakMb: mb(rssPeak),
      heapPeakMb: mb(heapPeak),
    },
  };
}

/** Delivery latencies of these writes, from the response, the request and the commit (ms). */
function deliveryLatencies(
  timings: WriteTiming[],
  subscribers: number,
  receipts: Float64Array,
  committedAt: Map<number, number>,
  wallOffsetMs: number,
) {
  const fromResponse: number[] = [];
  const fromRequest: number[] = [];
  const fromCommit: number[] = [];
  let beforeResponse = 0;
  for (const timing of timings) {
    const responded = ms(BigInt(timing.respondedNs));
    const sent = ms(BigInt(timing.sentNs));
    const committed = committedAt.get(timing.version) ?? Number.NaN;
    for (let c = 0; c < subscribers; c++) {
      const received = receipts[c * TOTAL_WRITES + timing.version - 1]!;
      if (Number.isNaN(received)) continue;
      const latency = received - responded;
      if (latency < 0) beforeResponse++;
      fromResponse.push(Math.max(0, latency));
      fromRequest.push(received - sent);
      if (!Number.isNaN(committed)) fromCommit.push(received + wallOffsetMs - committed);
    }
  }
  return { fromResponse, fromRequest, fromCommit, beforeResponse };
}

/**
 * BENCH_TIMELINE=<file>: one line per write (when it was sent, its round trip, and the p50 and
 * max of its deliveries from the response), to see whether a tail is steady or comes in bursts.
 */
function writeTimeline(file: string, subscribers: number, timings: WriteTiming[], receipts: Float64Array) {
  const start = ms(BigInt(timings[0]?.sentNs ?? "0"));
  const lines = ["atMs\tversion\troundTripMs\tp50Ms\tmaxMs"];
  for (const timing of timings) {
    const sent = ms(BigInt(timing.sentNs));
    const responded = ms(BigInt(timing.respondedNs));
    const latencies: number[] = [];
    for (let c = 0; c < subscribers; c++) {
      const received = receipts[c * TOTAL_WRITES + timing.version - 1]!;
      if (!Number.isNaN(received)) latencies.push(received - responded);
    }
    const { p50, max } = percentiles(latencies);
    lines.push([sent - start, timing.version, responded - sent, p50, max].map((v) => round(v)).join("\t"));
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
}

/** process.cpuUsage() (µs) as seconds. */
function cpuUsageSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

async function until(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("benchmark setup timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const loadAverageStart = os.loadavg();
  const redis = await RedisServer.start();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-subscriptions-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    GATEWAY_PORT: "0",
    STATE_PORT: "0",
    MEMORY_PORT: "0",
    CACHE_ADMIN_PORT: "0",
    DATA_DIR: dataDir,
    REDIS_URL: redis.url,
    AUTH_JWT_SECRET: JWT_SECRET,
    INTERNAL_SECRET,
    LOG_LEVEL: "warn",
    // Thousands of subscribe operations of one principal in seconds: this measures delivery, not
    // admission, so the per-principal rate limit is off…
    RATE_LIMIT_PER_MINUTE: "0",
    // …and every subscriber is the same principal, on its own connection.
    MAX_CONNECTIONS_PER_PRINCIPAL: "1000000",
    EMBEDDINGS_PROVIDER: "none",
    EMBEDDINGS_DIMENSIONS: "512",
  };
  const profile = process.env.BENCH_PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const subgraphs = await ServiceProcess.start("state,memory,cache-admin", env, profile);
  const gateway = await ServiceProcess.start(
    "gateway",
    {
      ...env,
      STATE_URL: subgraphs.urls.state,
      MEMORY_URL: subgraphs.urls.memory,
      CACHE_ADMIN_URL: subgraphs.urls["cache-admin"],
    },
    profile,
  );
  const gatewayUrl = gateway.urls.gateway!;

  try {
    console.log(`Redis floor: PUBLISH → SUBSCRIBE, ${WRITES_PER_SECOND} messages/s …`);
    const floor = await redisFloor(redis.url, WRITES_PER_SECOND * 10);
    const fanOutFloors: FanOutFloor[] = [];
    for (const subscribers of LEVELS) {
      console.log(`WebSocket fan-out floor: ${subscribers} subscribers, bare ws server …`);
      fanOutFloors.push(await fanOutFloor(subscribers));
    }
    const levels: LevelResult[] = [];
    for (const subscribers of LEVELS) {
      console.log(`${subscribers} subscribers, ${WRITES} writes at ${WRITES_PER_SECOND}/s …`);
      levels.push(
        await runLevel(subscribers, { gateway: gatewayUrl, state: subgraphs.urls.state! }, redis.url),
      );
    }
    printTable(floor, fanOutFloors, levels);
    const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(" / ");
    console.log(
      `load average (1/5/15 min): ${load(loadAverageStart)} at start, ${load(os.loadavg())} at end`,
    );
    const results = {
      benchmark: "subscriptions",
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        node: process.version,
        // Other work on the machine skews every figure: the 1/5/15-minute load at start and end.
        loadAverageStart,
        loadAverageEnd: os.loadavg(),
      },
      settings: {
        writesPerSecond: WRITES_PER_SECOND,
        seconds: SECONDS,
        warmUpWrites: WARMUP_WRITES,
        query: "agentStateChanged { version data createdAt }",
      },
      redisFloorMs: floor,
      webSocketFanOutFloor: fanOutFloors,
      levels,
    };
    mkdirSync(path.join(here, "results"), { recursive: true });
    writeFileSync(path.join(here, "results/subscriptions.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log("\nwritten to bench/results/subscriptions.json");
  } finally {
    await gateway.stop();
    await subgraphs.stop();
    await redis.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A table row of a label, a latency and optionally the next columns, blank to the end. */
function latencyRow(label: string, latency: Latency, more: string[] = []): string[] {
  const row = [label, String(latency.p50), String(latency.p99), String(latency.max), ...more];
  return [...row, ...Array<string>(Math.max(0, 9 - row.length)).fill("")];
}

function printTable(
  floor: Latency & { messages: number },
  fanOutFloors: FanOutFloor[],
  levels: LevelResult[],
): void {
  const rows = [
    [
      "",
      "p50 ms",
      "p99 ms",
      "max ms",
      "delivered",
      "lost",
      "events/s",
      "gw RSS MB idle/conn/peak",
      "gw heap MB",
    ],
    [
      "Redis PUBLISH→SUBSCRIBE (floor)",
      String(floor.p50),
      String(floor.p99),
      String(floor.max),
      String(floor.messages),
      String(WRITES_PER_SECOND * 10 - floor.messages),
      "",
      "",
      "",
    ],
    ...fanOutFloors.map((fanOut) => [
      `${fanOut.subscribers} subscribers, bare ws fan-out (floor)`,
      String(fanOut.p50),
      String(fanOut.p99),
      String(fanOut.max),
      String(fanOut.deliveries),
      String(fanOut.lost),
      String(fanOut.eventsPerSecond),
      "",
      "",
    ]),
    ...fanOutFloors.map((fanOut) =>
      latencyRow(`${fanOut.subscribers} subscribers, bare ws fan-out, warm-up`, fanOut.warmUp),
    ),
    ...levels.map((level) => [
      `${level.subscribers} subscribers, from response`,
      String(level.latencyFromResponseMs.p50),
      String(level.latencyFromResponseMs.p99),
      String(level.latencyFromResponseMs.max),
      String(level.deliveries),
      String(level.lost),
      String(level.eventsPerSecond),
      `${level.gateway.rssIdleMb}/${level.gateway.rssConnectedMb}/${level.gateway.rssPeakMb}`,
      String(level.gateway.heapPeakMb),
    ]),
    ...levels.flatMap((level) => [
      latencyRow(
        `${level.subscribers} subscribers, warm-up (${level.warmUp.writes} writes), from response`,
        level.warmUp.latencyFromResponseMs,
        ["", String(level.warmUp.lost)],
      ),
      latencyRow(`${level.subscribers} subscribers, from commit`, level.latencyFromCommitMs),
      latencyRow(`${level.subscribers} subscribers, from request`, level.latencyFromRequestMs),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log("");
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  "));
  for (const fanOut of fanOutFloors) {
    console.log(
      `floor ${fanOut.subscribers}: CPU µs per delivery: ws server ${fanOut.cpuMicrosecondsPerDelivery.server}, ` +
        `subscribers ${fanOut.cpuMicrosecondsPerDelivery.subscribers}`,
    );
  }
  for (const level of levels) {
    console.log(
      `${level.subscribers}: ${level.writes} writes (${level.writesPerSecondAchieved}/s achieved, ${level.writeFailures} failed, ` +
        `mutation round trip p50 ${level.writeLatencyMs.p50} ms, p99 ${level.writeLatencyMs.p99} ms), ` +
        `${level.deliveredBeforeResponse} deliveries arrived before the writer had its response, ` +
        `${level.outOfOrder} out of order, ${level.clientsClosed} clients closed ${JSON.stringify(level.closeCodes)}, ` +
        `subscriptions ended in error ${JSON.stringify(level.subscriptionErrors)}; ` +
        `CPU µs per delivery: gateway ${level.cpuMicrosecondsPerDelivery.gateway}, subgraphs ` +
        `${level.cpuMicrosecondsPerDelivery.subgraphs}, subscribers ${level.cpuMicrosecondsPerDelivery.subscribers}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
