/**
 * The Neo4j driver for one process, shared by the adapters that use it. Writes go through
 * `executeWrite` transaction functions (the driver retries them on transient errors, so they
 * must be idempotent) and every integer parameter is passed with `neo4j.int`.
 */
import neo4j, { type Driver, type ManagedTransaction } from "neo4j-driver";
import type { Neo4jConfig } from "../config.js";

export type { Driver, ManagedTransaction };
export { neo4j };

export function createNeo4jDriver(config: Neo4jConfig): Driver {
  return neo4j.driver(config.uri, neo4j.auth.basic(config.user, config.password), {
    disableLosslessIntegers: false,
    maxConnectionPoolSize: 50,
    connectionAcquisitionTimeout: 10_000,
  });
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
  } finally {
    await session.close();
  }
}
