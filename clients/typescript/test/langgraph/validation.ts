/**
 * LangGraph's own checkpointer validation suite (@langchain/langgraph-checkpoint-validation) run
 * on MnemoSaver against the real stack: a real Redis, every service on port 0, the store given.
 *
 * The suite is written against Jest-style globals; this project's vitest runs without globals,
 * so they are put on globalThis for it before it defines its tests (it only reads them then).
 */
import type { CheckpointSaverTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestStore } from "../../../../test/support/neo4j.js";
import { RedisServer } from "../../../../test/support/redis-server.js";
import { agentPrincipal, startTestStack, type TestStack } from "../../../../test/support/stack.js";
import { createMnemoClient, type MnemoClient } from "../../src/index.js";
import { MnemoSaver } from "../../src/langgraph/index.js";

export function installTestGlobals(): void {
  Object.assign(globalThis, { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach });
}

let counter = 0;

/** One stack for the whole suite; every checkpointer gets a fresh agent, so none sees another's threads. */
export function mnemoSaverInitializer(store: TestStore): CheckpointSaverTestInitializer<MnemoSaver> {
  let redis: RedisServer | undefined;
  let stack: TestStack | undefined;
  const clients = new Map<MnemoSaver, MnemoClient>();
  return {
    checkpointerName: `MnemoSaver (${store})`,
    beforeAllTimeout: 180_000,
    async beforeAll() {
      redis = await RedisServer.start();
      stack = await startTestStack({ store, redisUrl: redis.url });
    },
    async afterAll() {
      await stack?.close();
      await redis?.close();
    },
    async createCheckpointer() {
      const agentId = `saver-${store}-${process.pid}-${counter++}`;
      // A token for this agent only: the suite runs with the scope a real graph would have.
      const client = createMnemoClient({
        url: stack!.url("gateway"),
        token: await stack!.token(agentPrincipal(agentId)),
      });
      const saver = new MnemoSaver({ client, agentId });
      clients.set(saver, client);
      return saver;
    },
    async destroyCheckpointer(saver) {
      await clients.get(saver)?.close();
      clients.delete(saver);
    },
  };
}
