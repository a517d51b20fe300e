/**
 * Opening SQLite databases the way every adapter needs them: WAL (readers never block the
 * writer), a busy timeout instead of SQLITE_BUSY errors under contention, foreign keys on,
 * and numbered migrations tracked in `PRAGMA user_version`.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { load as loadSqliteVec } from "sqlite-vec";

export type SqliteDatabase = Database.Database;

export interface OpenSqliteOptions {
  /** Load the sqlite-vec extension (vector search). */
  vectors?: boolean;
}

export function openSqlite(file: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // NORMAL is durable in WAL mode except for the last transactions before a power loss.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  if (options.vectors) loadVectorExtension(db);
  return db;
}

function loadVectorExtension(db: SqliteDatabase): void {
  loadSqliteVec(db);
}

/**
 * Applies the migrations after the database's current `user_version`, each in a transaction.
 * Migrations are append-only: never edit one that has shipped.
 */
export function migrate(db: SqliteDatabase, migrations: readonly string[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(
      `database ${db.name} is at schema version ${current}, newer than this Mnemo (${migrations.length}); upgrade Mnemo`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

/** A row of a batched revision query: `SELECT j.key AS position, x.revision FROM json_each(?) j …`. */
export interface RevisionRow {
  position: number;
  revision: number;
}

/** The revisions of a batch in its order; 0 where the query found no row (nothing stored). */
export function positionedRevisions(count: number, rows: readonly RevisionRow[]): number[] {
  const revisions = new Array<number>(count).fill(0);
  for (const row of rows) revisions[row.position] = row.revision;
  return revisions;
}

/**
 * A revision probe from two statements: `one` (`… WHERE id = ?`, plucked) for the common single
 * id, 5x faster than `many` (`SELECT j.key AS position, x.revision FROM json_each(?) j …`), which
 * answers a batch in one query.
 */
export function revisionProbe(
  one: Database.Statement,
  many: Database.Statement,
): (ids: readonly string[]) => number[] {
  return (ids) =>
    ids.length === 1
      ? [(one.get(ids[0]) as number | undefined) ?? 0]
      : positionedRevisions(ids.length, many.all(JSON.stringify(ids)) as RevisionRow[]);
}
