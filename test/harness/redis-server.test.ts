/**
 * The test harness's redis-server: a test must never end up talking to another worker's Redis
 * because their ports collided (that Redis is flushed and stopped by other tests).
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisServer } from "../support/redis-server.js";

describe("test harness redis-server", () => {
  const started: RedisServer[] = [];
  afterAll(async () => {
    for (const server of started) await server.close();
  });

  it("refuses a port another Redis already answers on, instead of sharing that Redis", async () => {
    const first = await RedisServer.start();
    started.push(first);
    await expect(RedisServer.start({ port: first.port })).rejects.toThrow(/taken by another process/);
    const client = new Redis(first.url);
    try {
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });

  it("answers from its own process on the port it reports", async () => {
    const server = await RedisServer.start();
    started.push(server);
    const client = new Redis(server.url);
    try {
      const info = await client.info("server");
      expect(Number(/process_id:(\d+)/.exec(info)?.[1])).toBe(server.pid);
    } finally {
      client.disconnect();
    }
  });
});
