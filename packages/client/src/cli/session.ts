import { jitteredBackoff } from "@plauder/runtime/backoff";
import type { PlauderClient } from "../client";
import { ServerUnreachableError } from "../errors";
import { httpBase } from "../login";
import { ConnectionWatch, type WatchMode } from "./connection-watch";
import { CliError, exitCodes } from "./exit-codes";
import type { CliIO } from "./io";
import { unreachableMessage } from "./messages";
import type { Target } from "./target";
import { delay } from "./wait";

/** Settles with whatever the health endpoint says; only "nothing answered" and "not Plauder" fail. */
async function checkReachable(url: string, io: CliIO): Promise<void> {
  let response: Response;
  try {
    response = await io.fetch(`${httpBase(url)}/api/health`, { signal: AbortSignal.timeout(io.connectTimeoutMs) });
  } catch (error) {
    const { name, message, cause } = error as Error & { cause?: { code?: string; message?: string } };
    const detail = name === "TimeoutError" ? `no answer within ${io.connectTimeoutMs / 1000} s` : undefined;
    throw new ServerUnreachableError(unreachableMessage(url, detail ?? cause?.code ?? cause?.message ?? message));
  }
  await response.body?.cancel();
  // 503 is a Plauder server whose database is down: reachable, and procedures will say what fails.
  if (response.status !== 200 && response.status !== 503) {
    throw new ServerUnreachableError(unreachableMessage(url, `/api/health answered ${response.status}`));
  }
}

/** An open client for one command, with the watch that reports its connection failing. */
export type Session = { api: PlauderClient["api"]; watch: ConnectionWatch; close(): Promise<void> };

// One-shot commands never wait long between attempts, so closing does not leave a long sleep behind.
const oneShotRetryDelay = (attempt: number): number => Math.min(jitteredBackoff(attempt), 1_000);

/** Connects for `target`, with the retry pace `mode` needs and `watch` following the socket. */
export async function openSession(
  target: Target,
  io: CliIO,
  watch: ConnectionWatch,
  mode: WatchMode,
): Promise<Session> {
  const { url, auth } = target;
  // A token alone skips the sign-in request that would otherwise show an unreachable server.
  if (auth.kind === "token") await checkReachable(url, io);
  const credentials =
    auth.kind === "token" ? { url, token: auth.token } : { url, email: auth.email, password: auth.password };
  const backoff = mode === "one-shot" ? oneShotRetryDelay : jitteredBackoff;
  // Closing the socket on purpose still schedules a reconnect attempt (which then sees it should
  // stop); without a delay the process need not wait for it before exiting.
  let closing = false;
  const client = await io.connect({
    ...credentials,
    retryDelayMs: (attempt) => (closing ? 0 : backoff(attempt)),
    onOpen: watch.onOpen,
    onClose: watch.onClose,
    onCredentialsEnded: watch.onCredentialsEnded,
  });
  watch.start();
  return {
    api: client.api,
    watch,
    async close() {
      closing = true;
      watch.dispose();
      // Closing waits for requests in flight; a dead socket must not keep the process alive.
      await Promise.race([client.close().catch(() => {}), delay(2_000, { unref: true })]);
    },
  };
}

/** Runs a one-shot command's requests on a session that is closed afterwards, whatever happens. */
export async function withSession<T>(target: Target, io: CliIO, run: (session: Session) => Promise<T>): Promise<T> {
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "one-shot");
  const session = await openSession(target, io, watch, "one-shot");
  try {
    return await run(session);
  } finally {
    await session.close();
  }
}

/** `work`, unless the connection fails or no answer comes within the request timeout. */
export async function bounded<T>(work: Promise<T>, session: Session, io: CliIO, url: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const detail = `no answer within ${io.requestTimeoutMs / 1000} s`;
      reject(new ServerUnreachableError(unreachableMessage(url, detail)));
    }, io.requestTimeoutMs);
  });
  try {
    return await Promise.race([work, session.watch.failed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type SubscriptionHandlers<T> = {
  onData: (value: T) => void;
  onError: (error: unknown) => void;
  onComplete: () => void;
};

/** The first value of a subscription that answers once (ping, echo). */
export function firstValue<T>(start: (handlers: SubscriptionHandlers<T>) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = () => {
      const wasSettled = settled;
      settled = true;
      return !wasSettled;
    };
    start({
      onData: (value) => settle() && resolve(value),
      onError: (error) => settle() && reject(error),
      onComplete: () =>
        settle() && reject(new CliError("The server ended the request without an answer", exitCodes.error)),
    });
  });
}
