/**
 * A real Plauder server for the client's integration tests: the app's production build, started the
 * way apps/web's own tests start it (their support code, reused rather than copied), on a Postgres
 * database and a Redis key prefix of its own. It needs a fresh build of the app
 * (`npx turbo run build --filter=@plauder/web`); `turbo run test` builds it first.
 */
import { createTestPostgres } from "@plauder/db/testing";
import { type Account, newAccount } from "../../../../apps/web/test/support/clients";
import { type Instance, instanceEnv, startInstance } from "../../../../apps/web/test/support/processes";

export type { Account };

export type TestServer = {
  url: string;
  instance: Instance;
  /** The instance's settings, REDIS_KEY_PREFIX among them. */
  env: Record<string, string>;
  /** Registers a new person and signs them in. */
  account(name: string): Promise<Account>;
  stop(): Promise<void>;
};

export async function startTestServer(settings: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestPostgres();
  // Tests publish and change rooms faster than a person would.
  const env = { ...instanceEnv(database.url), PUBLISH_RATE_LIMIT: "100000", ...settings };
  let instance: Instance;
  try {
    instance = await startInstance({ id: "client", env });
  } catch (error) {
    await database.drop();
    throw error;
  }
  return {
    url: instance.url,
    instance,
    env,
    account: (name) => newAccount(instance.url, name),
    async stop() {
      if (process.env.SHOW_OUTPUT) console.log(instance.output());
      await instance.stop();
      await database.drop();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds; fails naming `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
