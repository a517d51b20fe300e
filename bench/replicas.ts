/**
 * bench:replicas — Mnemo with two and with one replica of each service, each its own process,
 * on one Redis and one Neo4j (see test/support/replica-cluster.ts), and the same load while one
 * replica of each kind is killed.
 *
 *   1. two gateways, two state, two memory, one cache-admin, after a warm-up: throughput, latency
 *   2. the same load while a state, a memory and a gateway replica are SIGKILLed at 25%, 40%
 *      and 55% of the run: acknowledged writes, failed attempts, stale reads (must be 0), writes
 *      missing from the store (must be 0), subscriptions on the surviving gateway
 *   3. the same load on the survivors, one replica of each: throughput, latency
 *
 * One replica is measured last, on warm processes: measured first, it paid for the services'
 * warm-up (JIT, query plans, Neo4j's caches) and looked several times slower than it is.
 *
 * Each writer owns an agent: putState, then read it back through the other gateway, and every
 * BENCH_MEMORY_EVERY writes a remember and a read of it. Everything (the load generator too)
 * shares this machine's cores, so two replicas add throughput only where one replica is not
 * already using them: read the figures with the load average printed beside them.
 *
 *   BENCH_WRITERS (8)  BENCH_SECONDS (15)  BENCH_MEMORY_EVERY (4)  BENCH_WARMUP_SECONDS (40, before the first measured phase)
 *   NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD: use this Neo4j (else the embedded one is started)
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { issueToken } from "../core/auth/tokens.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ReplicaCluster } from "../test/support/replica-cluster.js";
import {
  AgentWatcher,
  missingAcknowledgedWrites,
  runWorkload,
  type WorkloadStats,
} from "../test/support/replica-workload.js";
import { agentPrincipal, TEST_JWT_SECRET } from "../test/support/stack.js";
import { startEmbeddedNeo4j } from "../tools/neo4j-embedded/launcher.js";
import { printTable, summarize, writeResults } from "./support/report.js";

const WRITERS = Number(process.env.BENCH_WRITERS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const MEMORY_EVERY = Number(process.env.BENCH_MEMORY_EVERY ?? 4);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 40);

const load = () => os.loadavg()[0]!.toFixed(1);

function phaseRow(phase: string, stats: WorkloadStats, seconds: number, loadAverage: string) {
  const latency = summarize(stats.latenciesMs);
  return {
    phase,
    "ops/s": Math.round(stats.latenciesMs.length / seconds),
    "writes acked": stats.writes.acknowledged,
    "failed attempts": stats.writes.failed + stats.reads.failed,
    "p50 ms": latency.p50Ms,
    "p99 ms": latency.p99Ms,
    "stale reads": stats.staleReads.length,
    "load (1 min)": loadAverage,
  };
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  let neo4jEnv: Record<string, string>;
  let stopNeo4j = async () => {};
  let neo4jHome: string | null = null;
  if (process.env.NEO4J_URI) {
    neo4jEnv = {
      STORE: "neo4j",
      NEO4J_URI: process.env.NEO4J_URI,
      NEO4J_USER: process.env.NEO4J_USER ?? "neo4j",
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD ?? "",
    };
  } else {
    neo4jHome = mkdtempSync(path.join(os.tmpdir(), "mnemo-bench-neo4j-"));
    const neo4j = await startEmbeddedNeo4j({ home: neo4jHome, password: "bench-password", heap: "1g" });
    neo4jEnv = {
      STORE: "neo4j",
      NEO4J_URI: neo4j.uri,
      NEO4J_USER: neo4j.user,
      NEO4J_PASSWORD: neo4j.password,
    };
    stopNeo4j = () => neo4j.stop();
  }
  const env = { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4", RATE_LIMIT_PER_MINUTE: "0" };
  console.log(`starting two replicas of each service (load ${load()})`);
  const cluster = await ReplicaCluster.start({
    redisUrl: redis.url,
    neo4jEnv,
    replicas: { gateway: 2, state: 2, memory: 2 },
    env,
  });
  const agentIds = (prefix: string) => Array.from({ length: WRITERS }, (_, i) => `${prefix}-${i}`);
  const token = await issueToken(
    { jwtSecret: TEST_JWT_SECRET },
    agentPrincipal(...["one", "two", "kill", "warm"].flatMap(agentIds)),
  );
  const workload = (prefix: string, seconds: number) =>
    runWorkload({
      writers: WRITERS,
      durationMs: seconds * 1000,
      agentPrefix: prefix,
      token,
      writeUrl: (w) => (w % 2 === 0 ? cluster.gatewayA : cluster.gatewayB).url(),
      readUrl: (w) => (w % 2 === 0 ? cluster.gatewayB : cluster.gatewayA).url(),
      memoryEvery: MEMORY_EVERY,
    });
  const rows: ReturnType<typeof phaseRow>[] = [];
  const results: Record<string, unknown> = { writers: WRITERS, seconds: SECONDS, memoryEvery: MEMORY_EVERY };
  try {
    await workload("warm", WARMUP_SECONDS);
    const two = await workload("two", SECONDS);
    rows.push(phaseRow("2 replicas each", two.stats, SECONDS, load()));
    results.twoReplicas = { ...two.stats, latenciesMs: summarize(two.stats.latenciesMs) };

    console.log(`killing a state, a memory and a gateway replica under load (load ${load()})`);
    const survivor = new AgentWatcher(cluster.gatewayUrl(0), token, agentIds("kill"));
    const kills: Record<string, number> = {};
    const started = Date.now();
    const killAt = (fraction: number, kind: "state" | "memory" | "gateway") =>
      new Promise<void>((resolve) =>
        setTimeout(
          async () => {
            await cluster.processes[kind][1]!.kill();
            kills[kind] = Date.now() - started;
            resolve();
          },
          SECONDS * 1000 * fraction,
        ),
      );
    const [killed] = await Promise.all([
      workload("kill", SECONDS),
      killAt(0.25, "state"),
      killAt(0.4, "memory"),
      killAt(0.55, "gateway"),
    ]);
    rows.push(phaseRow("2 replicas, one of each killed", killed.stats, SECONDS, load()));
    const missing = await missingAcknowledgedWrites(cluster.gatewayA.url(), token, killed.logs);
    const lastVersions = new Map(killed.logs.map((log) => [log.agentId, log.acked.at(-1)?.version ?? 0]));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && [...lastVersions].some(([a, v]) => (survivor.latest().get(a) ?? 0) < v)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const subscriptions = {
      agents: lastVersions.size,
      agentsWhoseLastWriteArrived: [...lastVersions].filter(([a, v]) => survivor.latest().get(a) === v)
        .length,
      eventsAfterLastKill: survivor.events.filter((e) => e.at - started > Math.max(...Object.values(kills)))
        .length,
      outOfOrder: survivor.outOfOrder().length,
      survivorDisconnected: survivor.closedAt !== null,
    };
    await survivor.close();
    results.killed = {
      ...killed.stats,
      latenciesMs: summarize(killed.stats.latenciesMs),
      killsAtMs: kills,
      missingAcknowledgedWrites: missing,
      subscriptions,
    };

    console.log(`measuring the survivors, one replica of each (load ${load()})`);
    const one = await workload("one", SECONDS);
    rows.push(phaseRow("1 replica each (the survivors)", one.stats, SECONDS, load()));
    results.oneReplica = { ...one.stats, latenciesMs: summarize(one.stats.latenciesMs) };

    printTable(
      `bench:replicas — ${WRITERS} writers, ${SECONDS} s per phase, Neo4j + Redis, every service its own process`,
      rows,
    );
    console.log("\nkills at (ms into the run):", kills);
    console.log("acknowledged writes missing from the store:", missing.length);
    console.log("failed attempts by cause:", killed.stats.failures);
    console.log("subscriptions on the surviving gateway:", subscriptions);
    console.log(
      "acknowledged operations per second:",
      Array.from(killed.stats.perSecond, (n) => n ?? 0).join(" "),
    );
    results.table = rows;
    writeResults("replicas", results);
  } finally {
    await cluster.close();
    await redis.close();
    await stopNeo4j();
    if (neo4jHome) rmSync(neo4jHome, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
