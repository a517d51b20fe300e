/**
 * The Neo4j driver for one process, shared by the adapters that use it. Writes go through
 * `executeWrite` transaction functions (the driver retries them on transient errors, so they
 * must be idempotent) and every integer parameter is passed with `neo4j.int`.
 */
import neo4j, { type Driver, type ManagedTransaction, Neo4jError } from "neo4j-driver";
import type { Neo4jConfig } from "../config.js";
import { unavailable } from "../errors.js";

export type { Driver, ManagedTransaction };
export { neo4j };

export function createNeo4jDriver(config: Neo4jConfig): Driver {
  return neo4j.driver(config.uri, neo4j.auth.basic(config.user, config.password), {
    disableLosslessIntegers: false,
    maxConnectionPoolSize: 50,
    connectionAcquisitionTimeout: 10_000,
    // A server that is down should fail each attempt in seconds, not after the default 30 s
    // (measured in test/e2e/crash-restart.test.ts). Transient errors (deadlocks between
    // writers, a leader switch) are retried for NEO4J_MAX_RETRY_MS (30 s): under contention a
    // write may need several (test/store/neo4j-server.test.ts).
    connectionTimeout: 5_000,
    maxTransactionRetryTime: config.maxRetryMs ?? 30_000,
  });
}

/**
 * Creates indexes and constraints, each in its own transaction (schema statements cannot share
 * one), then waits for them to be online. Idempotent, and safe when several services start at
 * once on an empty database: `IF NOT EXISTS` does not stop two concurrent creators from both
 * trying, and the loser's "already exists" means the schema is there (found on a real server).
 */
export async function ensureSchema(
  driver: Driver,
  database: string,
  statements: readonly string[],
): Promise<void> {
  for (const statement of statements) {
    try {
      await runWrite(driver, database, async (tx) => {
        await tx.run(statement);
      });
    } catch (error) {
      if (!(error instanceof Neo4jError && SCHEMA_ALREADY_THERE.has(error.code))) throw error;
    }
  }
  await awaitIndexesOnline(driver, database);
}

/**
 * Waits until every index is ONLINE, asking in short read transactions, and fails on a FAILED
 * one. Not `CALL db.awaitIndexes`: that holds a transaction open while it waits, and a
 * uniqueness constraint created meanwhile by another service waits for open transactions before
 * its index can come online, so each waited for the other until the 300 s timeout (found with
 * six stores starting at once on a real server).
 */
export async function awaitIndexesOnline(
  driver: Driver,
  database: string,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pauseMs = 20; ; pauseMs = Math.min(pauseMs * 2, 500)) {
    const { records } = await runRead(driver, database, (tx) =>
      tx.run(
        "SHOW INDEXES YIELD name, state, failureMessage WHERE state <> 'ONLINE' RETURN name, state, failureMessage",
      ),
    );
    if (records.length === 0) return;
    const failed = records.find((record) => record.get("state") === "FAILED");
    if (failed) {
      throw new Error(`Neo4j index ${failed.get("name")} failed: ${failed.get("failureMessage")}`);
    }
    if (Date.now() > deadline) {
      const waiting = records.map((record) => record.get("name")).join(", ");
      throw new Error(`Neo4j indexes not online after ${timeoutMs / 1000} s: ${waiting}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

const SCHEMA_ALREADY_THERE = new Set([
  "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
  "Neo.ClientError.Schema.IndexAlreadyExists",
  "Neo.ClientError.Schema.ConstraintAlreadyExists",
]);

/** Neo4j error codes that mean the server (or the cluster's leader) could not be reached. */
const UNREACHABLE = new Set(["ServiceUnavailable", "SessionExpired"]);

/**
 * A request that failed because Neo4j was unreachable is the client's `UNAVAILABLE`, not an
 * internal error. A write that failed this way may still have committed just before the
 * connection broke, so the message says to read before retrying.
 */
function translate(error: unknown): unknown {
  if (error instanceof Neo4jError && UNREACHABLE.has(error.code)) {
    return unavailable(
      "The Neo4j store could not be reached; try again shortly (after a failed write, read first: it may have been applied)",
    );
  }
  return error;
}

/** Converts a Neo4j Integer (or plain number) into a JS number. */
export function toNumber(value: unknown): number {
  if (neo4j.isInt(value)) return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

export async function runRead<T>(
  driver: Driver,
  database: string,
  work: (tx: ManagedTransaction) => Promise<T>,
): Promise<T> {
  const session = driver.session({ database, defaultAccessMode: neo4j.session.READ });
  try {
    return await session.executeRead(work);
  } catch (error) {
    throw translate(error);
  } finally {
    await session.close();
  }
}

export async function runWrite<T>(
  driver: Driver,
  database: string,
  work: (tx: ManagedTransaction) => Promise<T>,
): Promise<T> {
  const session = driver.session({ database, defaultAccessMode: neo4j.session.WRITE });
  try {
    return await session.executeWrite(work);
  } catch (error) {
    throw translate(error);
  } finally {
    await session.close();
  }
}
