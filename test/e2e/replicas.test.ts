/**
 * Several replicas for real: two gateways, two state and two memory subgraphs and one
 * cache-admin, each its own process, on one real Redis and one real Neo4j, with load through
 * both gateways. Mid-run one replica of each kind is killed (SIGKILL: no drain). Afterwards every
 * write the gateways acknowledged is in the store as written, no client ever read an older state
 * than it had been told was written (its reads go through the other gateway), and subscriptions
 * on the surviving gateway keep delivering, in order, up to every agent's last write.
 * Throughput figures are for bench:replicas; this test asserts only behaviour.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../core/auth/tokens.js";
import { neo4jTestEnvironment } from "../support/neo4j.js";
import { RedisServer } from "../support/redis-server.js";
import { ReplicaCluster } from "../support/replica-cluster.js";
import { AgentWatcher, missingAcknowledgedWrites, runWorkload } from "../support/replica-workload.js";
import { agentPrincipal, TEST_JWT_SECRET } from "../support/stack.js";

const WRITERS = 6;
const DURATION_MS = 14_000;
const agents = Array.from({ length: WRITERS }, (_, i) => `replica-${i}`);

describe("two replicas of each service, one of each killed under load", () => {
  let redis: RedisServer;
  let cluster: ReplicaCluster;
  let token: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    cluster = await ReplicaCluster.start({
      redisUrl: redis.url,
      neo4jEnv: await neo4jTestEnvironment(),
      replicas: { gateway: 2, state: 2, memory: 2 },
      env: { EMBEDDINGS_PROVIDER: "none", EMBEDDINGS_DIMENSIONS: "4", RATE_LIMIT_PER_MINUTE: "0" },
    });
    token = await issueToken({ jwtSecret: TEST_JWT_SECRET }, agentPrincipal(...agents));
  }, 180_000);

  afterAll(async () => {
    await cluster?.close();
    await redis?.close();
  }, 60_000);

  it("loses no acknowledged write, reads its own writes, and keeps subscriptions on the survivor", async () => {
    const survivor = new AgentWatcher(cluster.gatewayUrl(0), token, agents);
    const victim = new AgentWatcher(cluster.gatewayUrl(1), token, agents);
    const kills: Record<string, number> = {};
    const killAt = (fraction: number, kind: "state" | "memory" | "gateway") =>
      new Promise<void>((resolve) =>
        setTimeout(async () => {
          await cluster.processes[kind][1]!.kill();
          kills[kind] = Date.now();
          resolve();
        }, DURATION_MS * fraction),
      );
    const [{ logs, stats }] = await Promise.all([
      runWorkload({
        writers: WRITERS,
        durationMs: DURATION_MS,
        agentPrefix: "replica",
        token,
        // Even writers write through A (gateway 1 first) and read through B (gateway 2 first), odd ones the reverse.
        writeUrl: (w) => (w % 2 === 0 ? cluster.gatewayA : cluster.gatewayB).url(),
        readUrl: (w) => (w % 2 === 0 ? cluster.gatewayB : cluster.gatewayA).url(),
        memoryEvery: 4,
      }),
      killAt(0.25, "state"),
      killAt(0.4, "memory"),
      killAt(0.55, "gateway"),
    ]);

    // Every replica kind lost one process, and the run kept going after the last kill.
    expect(Object.keys(kills).sort()).toEqual(["gateway", "memory", "state"]);
    const lastKill = Math.max(...Object.values(kills));
    for (const log of logs) {
      const lastAck = log.acked.at(-1)?.at ?? 0;
      expect(
        log.acked.filter((a) => a.at > lastKill + 1000).length,
        `${log.agentId}: last acknowledged write ${lastAck - lastKill} ms after the last kill; failures ${JSON.stringify(stats.failures)}`,
      ).toBeGreaterThan(0);
    }

    expect(stats.staleReads).toEqual([]);
    expect(await missingAcknowledgedWrites(cluster.gatewayA.url(), token, logs)).toEqual([]);

    // The killed gateway's clients were disconnected; the survivor's saw every agent's last write, in order.
    expect(victim.closedAt).not.toBeNull();
    const lastVersions = new Map(logs.map((log) => [log.agentId, log.acked.at(-1)!.version]));
    const deadline = Date.now() + 10_000;
    while (
      Date.now() < deadline &&
      agents.some((a) => (survivor.latest().get(a) ?? 0) < lastVersions.get(a)!)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Object.fromEntries(survivor.latest())).toEqual(Object.fromEntries(lastVersions));
    expect(survivor.outOfOrder()).toEqual([]);
    expect(survivor.events.filter((e) => e.at > lastKill).length).toBeGreaterThan(WRITERS);
    expect(survivor.closedAt).toBeNull();
    await survivor.close();
    await victim.close();
  }, 120_000);
});
