import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { clearProcessSingleton, closeProcessSingleton, getEnv, getLogger, processSingleton } from "@plauder/runtime";
import { sql } from "drizzle-orm";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { lockDataDir } from "./pglite-lock";
import * as schema from "./schema";

/** The query builder both drivers share; code above this package never knows which one runs. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseHandle = {
  db: Database;
  kind: "postgres" | "pglite";
  /** Applies the migrations in a folder; safe to call from several instances at once. See `migrateDatabase`. */
  applyMigrations(migrationsFolder: string): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export type DatabaseOptions =
  | { kind: "postgres"; url: string; poolSize?: number }
  /** `dataDir` is a directory, or `memory://` for a throwaway database. */
  | { kind: "pglite"; dataDir: string };

const casing = "snake_case";
// Any constant works; it only has to be the same in every instance.
const migrationLockId = 7_120_000_001;

function openPostgres(url: string, poolSize = 10): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  // An idle client that loses its server emits here; unhandled, it would crash the process.
  pool.on("error", (error) => getLogger().warn({ err: error.message }, "postgres pool error"));
  const db = drizzleNodePg(pool, { schema, casing }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    async applyMigrations(migrationsFolder) {
      // Serialise concurrent starts with an advisory lock held on one dedicated connection.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query("select pg_advisory_lock($1)", [migrationLockId]);
        await migrateNodePg(drizzleNodePg(client, { casing }), { migrationsFolder });
      } finally {
        await client.query("select pg_advisory_unlock($1)", [migrationLockId]).catch(() => undefined);
        await client.end();
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await pool.end();
    },
  };
}

function openPglite(dataDir: string): DatabaseHandle {
  const inMemory = dataDir.startsWith("memory://");
  let release = () => {};
  if (!inMemory) {
    mkdirSync(resolve(dataDir, ".."), { recursive: true });
    release = lockDataDir(resolve(dataDir));
  }
  const client = new PGlite(inMemory ? dataDir : resolve(dataDir));
  const db = drizzlePglite(client, { schema, casing }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    async applyMigrations(migrationsFolder) {
      await migratePglite(drizzlePglite(client, { casing }), { migrationsFolder });
    },
    async ping() {
      await client.query("select 1");
    },
    async close() {
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
}

/** Opens a database with explicit options (tests, tools). Most code wants {@link getDatabase}. */
export function openDatabase(options: DatabaseOptions): DatabaseHandle {
  return options.kind === "postgres" ? openPostgres(options.url, options.poolSize) : openPglite(options.dataDir);
}

/** The options the environment asks for: Postgres with `DATABASE_URL`, else PGlite in `DATA_DIR/pglite`. */
export function databaseOptionsFromEnv(): DatabaseOptions {
  const env = getEnv();
  if (env.DATABASE_URL) return { kind: "postgres", url: env.DATABASE_URL };
  return { kind: "pglite", dataDir: resolve(env.DATA_DIR, "pglite") };
}

/**
 * The process's database, opened on first use from the environment. Opening is lazy on purpose:
 * `next build` evaluates modules in workers, and none of them may open the embedded database.
 */
export function getDatabase(): DatabaseHandle {
  return processSingleton("database", () => openDatabase(databaseOptionsFromEnv()));
}

/** Installs a database as the process's own (tests, and servers that open it themselves). */
export function setDatabase(handle: DatabaseHandle): void {
  clearProcessSingleton("database");
  processSingleton("database", () => handle);
}

/** Closes the process's database if it was opened. */
export async function closeDatabase(): Promise<void> {
  await closeProcessSingleton<DatabaseHandle>("database", (handle) => handle.close());
}
