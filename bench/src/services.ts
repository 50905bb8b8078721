import { randomUUID } from "node:crypto";
import { issueAccessToken } from "@plauder/auth";
import { openDatabase, users } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";

export type ServiceOptions = {
  /** How many bench users to create, each with an access token of its own. */
  users?: number;
  /** MAX_CONNECTIONS_PER_USER for the servers: how many connections the load puts on one user. */
  connectionsPerUser?: number;
  /** The Redis to use; by default the one the tests use. */
  redisUrl?: string;
};

/**
 * Redis and Postgres for one benchmark run: a fresh database (migrated, with the bench users), a
 * Redis prefix of its own, one access token per user, and connection limits for that many users.
 */
export async function prepareServices(options: ServiceOptions = {}) {
  const userCount = options.users ?? 1;
  const connectionsPerUser = options.connectionsPerUser ?? 20_000;
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const database = await createTestPostgres();
  const authSecret = `${randomUUID()}${randomUUID()}`;
  process.env.AUTH_SECRET = authSecret;
  const handle = openDatabase({ kind: "postgres", url: database.url });
  await migrateDatabase(handle);
  const created = await handle.db
    .insert(users)
    .values(
      Array.from({ length: userCount }, (_, i) => ({
        email: `bench-${i}-${randomUUID()}@example.com`,
        name: `Bench ${i}`,
        passwordHash: "not-used",
      })),
    )
    .returning();
  await handle.close();
  if (created.length !== userCount) throw new Error("could not create the bench users");
  // One token per user, valid for the whole run; every connection of a user presents its token.
  process.env.ACCESS_TOKEN_TTL_SECONDS = "7200";
  const tokens: string[] = [];
  for (const user of created)
    tokens.push((await issueAccessToken({ id: user.id, email: user.email, name: user.name })).token);
  const first = created[0];
  if (!first) throw new Error("no bench user");
  return {
    prefix,
    /** The first user's token (for tools that connect as one user). */
    token: tokens[0] as string,
    tokens,
    connectionsPerUser,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: options.redisUrl ?? process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: prefix,
      AUTH_SECRET: authSecret,
      BENCH_USER_ID: first.id,
      MAX_CONNECTIONS: "20000",
      MAX_CONNECTIONS_PER_USER: String(connectionsPerUser),
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
