import { createTestPostgres } from "@plauder/db/testing";
import { type Account, newAccount, OpenClients } from "./clients";
import { type Instance, instanceEnv, startInstance } from "./processes";

/** Instances that share one database and one Redis prefix of their own, as a deployment does. */
export type TestCluster = {
  instances: Instance[];
  /** The settings they share (database, Redis and its prefix, secret, and the test's extras). */
  env: Record<string, string>;
  databaseUrl: string;
  /** The test's typed clients, closed by `stop` before the instances stop. */
  clients: OpenClients;
  /** Closes the clients, stops the instances and drops the database (unless the test brought its own). */
  stop(): Promise<void>;
};

export type ClusterOptions = {
  /** One instance per id, each its INSTANCE_ID (default: `a` and `b`). */
  ids?: readonly string[];
  /** Settings over the shared ones of {@link instanceEnv}. */
  env?: Record<string, string>;
  /** A Redis of the test's own (default: the tests' shared one). */
  redisUrl?: string;
  /** A database the test runs itself (then not dropped here); by default a fresh one, dropped by `stop`. */
  databaseUrl?: string;
  /** Extra Node flags for every instance (`--expose-gc` for diagnostics, say). */
  nodeArgs?: string[];
};

/**
 * Starts real server processes against a fresh Postgres database and the tests' Redis under a fresh
 * prefix. `stop` undoes all of it, whatever state the instances are in; if one fails to start, the
 * others are stopped before the error is thrown.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  // A database the test brought is the test's to drop.
  const database =
    options.databaseUrl === undefined ? await createTestPostgres() : { url: options.databaseUrl, drop: async () => {} };
  const env = { ...instanceEnv(database.url, options.redisUrl), ...options.env };
  const ids = options.ids ?? ["a", "b"];
  const started = await Promise.allSettled(ids.map((id) => startInstance({ id, env, nodeArgs: options.nodeArgs })));
  const instances = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const clients = new OpenClients();
  const stop = async () => {
    await clients.close();
    await Promise.allSettled(instances.map((instance) => instance.stop()));
    await database.drop();
  };
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { instances, env, databaseUrl: database.url, clients, stop };
}

/**
 * One instance with a database of its own: a cluster of one, with its instance at hand. Most suites
 * that test one instance's limits or defences run on one of these.
 */
export async function startSingle(id: string, options: Omit<ClusterOptions, "ids"> = {}): Promise<TestSingle> {
  const cluster = await startCluster({ ...options, ids: [id] });
  return { ...cluster, instance: cluster.instances[0] as Instance };
}

export type TestSingle = TestCluster & { instance: Instance };

/** Two instances with a person signed up on each: Anna on a, Bert on b. */
export type TestPair = TestCluster & { a: Instance; b: Instance; anna: Account; bert: Account };

/**
 * The cluster most multi-instance suites run on: two instances, and two people who sign up on
 * different ones, so every test crosses instances from the start.
 */
export async function startPair(options: Omit<ClusterOptions, "ids"> = {}): Promise<TestPair> {
  const cluster = await startCluster(options);
  const [a, b] = cluster.instances as [Instance, Instance];
  try {
    const [anna, bert] = await Promise.all([newAccount(a.url, "Anna"), newAccount(b.url, "Bert")]);
    return { ...cluster, a, b, anna, bert };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
