import { randomBytes } from "node:crypto";
import pg from "pg";
import { type DatabaseHandle, openDatabase, setDatabase } from "./client";
import { migrateDatabase } from "./migrate";

/** The server tests create their throwaway databases on; trust auth on localhost by default. */
export const adminDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * Creates an empty Postgres database for one test file and returns its URL and a drop function,
 * so parallel runs never share tables. Fails with the reason when Postgres is unreachable.
 */
export async function createTestPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `plauder_test_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `Postgres is required for this test and is not reachable (${(error as Error).message}). ` +
        "Start it (npm test does) or set TEST_DATABASE_URL.",
    );
  }
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminDatabaseUrl });
      await client.connect();
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
    },
  };
}

/** A test file's own database: its open handle, and `close`, which closes it and drops the database. */
export type TestDatabase = { handle: DatabaseHandle; close(): Promise<void> };

/** A migrated Postgres database of the test file's own, installed as the process's database (see setDatabase). */
export async function installTestDatabase(): Promise<TestDatabase> {
  const database = await createTestPostgres();
  const handle = openDatabase({ kind: "postgres", url: database.url });
  await migrateDatabase(handle);
  setDatabase(handle);
  return {
    handle,
    async close() {
      await handle.close();
      await database.drop();
    },
  };
}
