/**
 * `npm run bench:gateway`: what the gateway costs, side by side in one run. Two reads, each from
 * BENCH_CONNECTIONS (8) concurrent clients for BENCH_DURATION_MS (3000) per round, against:
 *
 *   direct          the state subgraph itself (the client signs the principal header)
 *   gateway         Mnemo's gateway in the default one-process start (`npm start`): it calls
 *                   the subgraphs in process
 *   gateway + limit the same with the per-principal rate limit on (it is off in the other rows:
 *                   one principal drives all the load), to show what its Redis call costs
 *   gateway (sep.)  Mnemo's gateway in a process of its own, calling the subgraphs over HTTP
 *   Hive Gateway    @graphql-hive/gateway on the same supergraph and subgraphs, forwarding the
 *                   client's signed principal header (installed on demand, bench/support/hive-gateway.ts)
 *
 * The reads: one agent's current state, and one query reading 100 agents' states. Every process
 * runs on the same embedded store files and the same real Redis, so every target reads the same
 * data; the direct, own-process and Hive rows call one process running only the subgraphs. The
 * server CPU per request (from /proc, the processes a target uses) is steadier than throughput
 * on a shared machine. Rounds alternate targets (BENCH_ROUNDS, 3); each target's median round by
 * throughput is reported. BENCH_SKIP_HIVE=1 leaves Hive Gateway out.
 */
import os from "node:os";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../core/auth/internal.js";
import { issueToken } from "../core/auth/tokens.js";
import { loadConfig } from "../core/config.js";
import { tempDir } from "../test/support/cache-fixture.js";
import { freePort } from "../test/support/ports.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ServiceProcess } from "../test/support/service-process.js";
import { ADMIN, TEST_INTERNAL_SECRET, testEnvironment } from "../test/support/stack.js";
import { treeCpuMs } from "./support/cpu.js";
import { ensureHiveGateway, HIVE_GATEWAY_VERSION, startHiveGateway } from "./support/hive-gateway.js";
import { createGraphQLPoster, type LoadResult, printTable, runLoad, writeResults } from "./support/report.js";

const AGENTS = 100;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SKIP_HIVE = process.env.BENCH_SKIP_HIVE === "1";

const READ = `query Read($id: ID!) { agent(id: $id) { state { version data } } }`;
const MANY = `query Many { ${Array.from({ length: AGENTS }, (_, i) => `a${i}: agent(id: "g-${i}") { state { version } }`).join(" ")} }`;

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The server processes that do the work for this target (their CPU time is counted). */
  pids: number[];
}

async function main() {
  const redis = await RedisServer.start();
  const data = tempDir("mnemo-bench-gateway-");
  const env = {
    ...process.env,
    ...testEnvironment({ redisUrl: redis.url, dataDir: data.dir }),
    RATE_LIMIT_PER_MINUTE: "0",
    LOG_LEVEL: "silent",
  };
  const processes: ServiceProcess[] = [];
  let hive: Awaited<ReturnType<typeof startHiveGateway>> | null = null;
  try {
    if (!SKIP_HIVE) ensureHiveGateway();
    console.log("starting: two processes with every service, the subgraphs alone, a gateway alone…");
    // The one-process start serves only its own gateway here, as `npm start` does. (In a run where
    // it also answered the direct and Hive requests, its gateway used 0.43 ms of CPU per request
    // against 0.26 in an identical process that served only its gateway: the same code reached
    // by two paths is optimised less well.)
    const all = await ServiceProcess.start("gateway,state,memory,cache-admin", env);
    processes.push(all);
    // The subgraphs every HTTP client of this benchmark calls: directly, through the gateway of
    // its own process, and through Hive Gateway.
    const subgraphs = await ServiceProcess.start("state,memory,cache-admin", env);
    processes.push(subgraphs);
    // The same start with the per-principal rate limit on (a Redis call per request), set so high
    // that nothing is refused: what the limit itself costs.
    const limited = await ServiceProcess.start("gateway,state,memory,cache-admin", {
      ...env,
      RATE_LIMIT_PER_MINUTE: "10000000",
    });
    processes.push(limited);
    const subgraphUrls = {
      state: subgraphs.url("state"),
      memory: subgraphs.url("memory"),
      "cache-admin": subgraphs.url("cache-admin"),
    };
    const separate = await ServiceProcess.start("gateway", {
      ...env,
      STATE_URL: subgraphUrls.state,
      MEMORY_URL: subgraphUrls.memory,
      CACHE_ADMIN_URL: subgraphUrls["cache-admin"],
    });
    processes.push(separate);
    if (!SKIP_HIVE) {
      console.log(`starting Hive Gateway ${HIVE_GATEWAY_VERSION}…`);
      hive = await startHiveGateway(await freePort(), subgraphUrls, PRINCIPAL_HEADER);
    }

    const config = loadConfig(env);
    const bearer = { authorization: `Bearer ${await issueToken(config.auth, ADMIN)}` };
    const signed = { [PRINCIPAL_HEADER]: await createPrincipalSigner(TEST_INTERNAL_SECRET)(ADMIN) };
    const targets: Target[] = [
      { name: "direct (state subgraph)", url: subgraphUrls.state, headers: signed, pids: [subgraphs.pid] },
      { name: "gateway, one process", url: all.url("gateway"), headers: bearer, pids: [all.pid] },
      {
        name: "gateway, one process, rate limit on",
        url: limited.url("gateway"),
        headers: bearer,
        pids: [limited.pid],
      },
      {
        name: "gateway, own process",
        url: separate.url("gateway"),
        headers: bearer,
        pids: [separate.pid, subgraphs.pid],
      },
      ...(hive
        ? [
            {
              name: `Hive Gateway ${HIVE_GATEWAY_VERSION}`,
              url: hive.url,
              headers: signed,
              pids: [hive.pid, subgraphs.pid],
            },
          ]
        : []),
    ];

    const seed = createGraphQLPoster(all.url("gateway"), bearer);
    console.log(`seeding ${AGENTS} agents…`);
    for (let i = 0; i < AGENTS; i++) {
      const state = {
        goal: "benchmark",
        steps: Array.from({ length: 20 }, (_, s) => ({ s, done: s % 2 === 0 })),
      };
      const ok = await seed.post(
        `mutation P($id: ID!, $d: JSON!) { putState(agentId: $id, data: $d) { version } }`,
        { id: `g-${i}`, d: state },
      );
      if (!ok) throw new Error("seeding failed");
    }
    await seed.close();

    const workloads = [
      {
        name: "one current-state read",
        task:
          (post: (q: string, v?: Record<string, unknown>) => Promise<boolean>) => (_w: number, i: number) =>
            post(READ, { id: `g-${(i * 7919) % AGENTS}` }),
      },
      {
        name: `one query reading ${AGENTS} agents' states`,
        task: (post: (q: string, v?: Record<string, unknown>) => Promise<boolean>) => () => post(MANY),
      },
    ];

    type Measured = LoadResult & { serverCpuMsPerRequest: number };
    const results: Record<
      string,
      Record<string, Measured & { rounds: number[]; loadAverage: number[] }>
    > = {};
    for (const workload of workloads) {
      const rounds = new Map<string, Measured[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets) {
          const client = createGraphQLPoster(target.url, target.headers);
          process.stdout.write(`${workload.name}, ${target.name}, round ${round + 1}… `);
          let cpuBefore = 0;
          const load = await runLoad({
            concurrency: CONNECTIONS,
            durationMs: DURATION_MS,
            warmupMs: 500,
            task: workload.task(client.post),
            onMeasureStart: () => {
              cpuBefore = treeCpuMs(target.pids);
            },
          });
          const result = {
            ...load,
            serverCpuMsPerRequest:
              Math.round(((treeCpuMs(target.pids) - cpuBefore) / load.requests) * 1000) / 1000,
          };
          console.log(
            `${result.requestsPerSecond} req/s, p50 ${result.latency.p50Ms} ms, ${result.serverCpuMsPerRequest} ms CPU/req`,
          );
          await client.close();
          if (result.errors > 0) throw new Error(`${target.name}: ${result.errors} failed requests`);
          rounds.set(target.name, [...(rounds.get(target.name) ?? []), result]);
        }
      }
      results[workload.name] = {};
      for (const [name, runs] of rounds) {
        const median = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[
          Math.floor(runs.length / 2)
        ]!;
        results[workload.name]![name] = {
          ...median,
          rounds: runs.map((r) => r.requestsPerSecond),
          loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
        };
      }
      const direct = results[workload.name]![targets[0]!.name]!;
      printTable(
        `${workload.name}: ${CONNECTIONS} connections, median of ${ROUNDS} rounds of ${DURATION_MS} ms (load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")})`,
        targets.map((target) => {
          const r = results[workload.name]![target.name]!;
          return {
            target: target.name,
            "req/s": r.requestsPerSecond,
            "p50 ms": r.latency.p50Ms,
            "p99 ms": r.latency.p99Ms,
            "mean ms": r.latency.meanMs,
            "req/s ÷ direct": Math.round((r.requestsPerSecond / direct.requestsPerSecond) * 100) / 100,
            "p50 ÷ direct": Math.round((r.latency.p50Ms / direct.latency.p50Ms) * 100) / 100,
            "server CPU ms/req": r.serverCpuMsPerRequest,
            "rounds (req/s)": r.rounds.join(" "),
          };
        }),
      );
    }
    writeResults("gateway", {
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      rounds: ROUNDS,
      hiveGateway: hive ? HIVE_GATEWAY_VERSION : null,
      workloads: results,
    });
  } finally {
    await hive?.stop();
    for (const child of processes.reverse()) await child.stop();
    await redis.close();
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
