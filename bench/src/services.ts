import { randomUUID } from "node:crypto";
import { issueAccessToken } from "@plauder/auth";
import { openDatabase, users } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";

/**
 * Redis and Postgres for one benchmark run: a fresh database (migrated, with one bench user), a
 * Redis prefix of its own, and settings that let one user hold 10 000 connections.
 */
export async function prepareServices() {
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const database = await createTestPostgres();
  const authSecret = `${randomUUID()}${randomUUID()}`;
  process.env.AUTH_SECRET = authSecret;
  const handle = openDatabase({ kind: "postgres", url: database.url });
  await migrateDatabase(handle);
  const [user] = await handle.db
    .insert(users)
    .values({ email: `bench-${randomUUID()}@example.com`, name: "Bench", passwordHash: "not-used" })
    .returning();
  await handle.close();
  if (!user) throw new Error("could not create the bench user");
  // One token for every connection of the run, valid for its whole length.
  process.env.ACCESS_TOKEN_TTL_SECONDS = "7200";
  const { token } = await issueAccessToken({ id: user.id, email: user.email, name: user.name });
  return {
    prefix,
    token,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: prefix,
      AUTH_SECRET: authSecret,
      BENCH_USER_ID: user.id,
      MAX_CONNECTIONS: "20000",
      MAX_CONNECTIONS_PER_USER: "20000",
      // Every load client connects from 127.0.0.1: the per-address ceilings would stop the load tool,
      // not measure the server.
      MAX_CONNECTIONS_PER_ADDRESS: "20000",
      MAX_UNAUTHENTICATED_PER_ADDRESS: "20000",
      // Heartbeats stay on, at production settings, for all systems that have them.
      WS_HEARTBEAT_MS: "30000",
    },
    cleanup: () => database.drop(),
  };
}
