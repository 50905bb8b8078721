import { randomUUID } from "node:crypto";
import type { Broadcast } from "@plauder/api";
import { createPlauderClient, type PlauderClient, type PlauderClientOptions } from "@plauder/client";

export type Account = { email: string; password: string; name: string; id: string; token: string };

/** Registers a new person over HTTP tRPC and signs in for a token. */
export async function newAccount(baseUrl: string, name = "Tester"): Promise<Account> {
  const email = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery";
  const registered = await fetch(`${baseUrl}/api/trpc/auth.register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, name }),
  });
  if (!registered.ok) throw new Error(`registration failed: ${registered.status} ${await registered.text()}`);
  const { id, token } = await issueToken(baseUrl, { email, password });
  return { email, password, name, id, token };
}

/** Signs in over the token endpoint: every call starts a new session with its own token. */
export async function issueToken(
  baseUrl: string,
  credentials: { email: string; password: string },
): Promise<{ id: string; token: string }> {
  const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(credentials),
  });
  if (!login.ok) throw new Error(`sign-in failed: ${login.status} ${await login.text()}`);
  const body = (await login.json()) as { token: string; user: { id: string } };
  return { id: body.user.id, token: body.token };
}

/** A typed client on one instance, retrying quickly so tests do not wait on production backoff. */
export function connect(
  baseUrl: string,
  account: Account,
  callbacks: Pick<PlauderClientOptions, "onOpen" | "onClose" | "onCredentialsEnded"> = {},
): Promise<PlauderClient> {
  return createPlauderClient({ url: baseUrl, token: account.token, retryDelayMs: () => 200, ...callbacks });
}

/**
 * The typed clients a test file opens, so that one call closes them all when it is done with them
 * (after each test, or after the file).
 */
export class OpenClients {
  private readonly open: PlauderClient[] = [];

  /** A typed client of `account` on the instance at `baseUrl` (see {@link connect}), kept to be closed. */
  async connect(baseUrl: string, account: Account): Promise<PlauderClient> {
    const client = await connect(baseUrl, account);
    this.open.push(client);
    return client;
  }

  /** How many clients are kept (opened and not yet closed by {@link close}). */
  get size(): number {
    return this.open.length;
  }

  /** Keeps clients opened some other way (with callbacks, say), to be closed with the rest. */
  add(...clients: PlauderClient[]): void {
    this.open.push(...clients);
  }

  /** Closes every client kept so far; a client that fails to close does not stop the others. */
  async close(): Promise<void> {
    await Promise.allSettled(this.open.splice(0).map((client) => client.close()));
  }
}

/** A refusal from the HTTP tRPC endpoint, with the error's `data` (code, httpStatus, …) as tRPC sent it. */
export class HttpProcedureError extends Error {
  constructor(
    message: string,
    readonly data: { code?: string; httpStatus?: number; retryAfter?: number } | undefined,
  ) {
    super(message);
    this.name = "HttpProcedureError";
  }
}

/** What a call the server refused failed with: the tRPC code and the message; throws if it succeeded. */
export async function refusal(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as Error & { data?: { code?: string } };
    return { code: failure.data?.code, message: failure.message };
  }
  throw new Error("expected a refusal");
}

/** Publishes over HTTP tRPC (the path a server-side job would take). */
export async function publishOverHttp(baseUrl: string, token: string, text: string): Promise<{ id: string }> {
  const response = await fetch(`${baseUrl}/api/trpc/realtime.publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ text }),
  });
  const body = (await response.json()) as {
    result?: { data: { id: string } };
    error?: { message: string; data?: HttpProcedureError["data"] };
  };
  if (!body.result) throw new HttpProcedureError(body.error?.message ?? `HTTP ${response.status}`, body.error?.data);
  return body.result.data;
}

/** A broadcast subscription that records what arrives, in arrival order. */
export type Recorder = {
  received: Broadcast[];
  /** When each broadcast arrived (epoch ms), parallel to `received`. */
  arrivals: number[];
  ids(): string[];
  /** Resolves once `count` broadcasts have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once the subscription has been started by the server. */
  started: Promise<void>;
  stop(): void;
};

export function record(client: PlauderClient, lastEventId?: string): Recorder {
  const received: Broadcast[] = [];
  const arrivals: number[] = [];
  let failure: Error | null = null;
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const subscription = client.api.realtime.broadcast.subscribe(lastEventId ? { lastEventId } : {}, {
    onStarted: () => markStarted(),
    onData: (event) => {
      received.push(event.data);
      arrivals.push(Date.now());
    },
    onError: (error) => {
      failure = error;
    },
  });
  return {
    received,
    arrivals,
    ids: () => received.map((b) => b.id),
    started,
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (failure) throw new Error(`the subscription failed after ${received.length} broadcasts: ${failure.message}`);
        if (Date.now() > deadline) throw new Error(`expected ${count} broadcasts, got ${received.length}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: () => subscription.unsubscribe(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asserts a list of ids is strictly increasing with no repeats (one global order, exactly once). */
export function strictlyIncreasing(ids: string[]): boolean {
  return ids.every((id, i) => i === 0 || Number(id) > Number(ids[i - 1]));
}
