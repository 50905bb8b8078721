import { createTestPostgres } from "@plauder/db/testing";
import { type Instance, instanceEnv, startInstance } from "./processes";

/** Instances that share one database of their own and one Redis prefix of their own, as a deployment does. */
export type TestCluster = {
  instances: Instance[];
  /** The settings they share (database, Redis and its prefix, secret, and the test's extras). */
  env: Record<string, string>;
  databaseUrl: string;
  stop(): Promise<void>;
};

/**
 * Starts `count` real server processes against a fresh Postgres database and the tests' Redis
 * under a fresh prefix. `stop` stops them and drops the database, whatever state they are in.
 */
export async function startCluster(
  options: { count?: number; env?: Record<string, string>; redisUrl?: string } = {},
): Promise<TestCluster> {
  const database = await createTestPostgres();
  const env = { ...instanceEnv(database.url, options.redisUrl), ...options.env };
  const ids = Array.from({ length: options.count ?? 2 }, (_, index) => String.fromCharCode(97 + index));
  const started = await Promise.allSettled(ids.map((id) => startInstance({ id, env })));
  const instances = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => {
    await Promise.allSettled(instances.map((instance) => instance.stop()));
    await database.drop();
  };
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { instances, env, databaseUrl: database.url, stop };
}
