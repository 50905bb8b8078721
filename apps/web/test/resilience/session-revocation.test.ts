/**
 * A session ended by logout stays ended: a refresh cannot re-issue it, it outlives the cookie's own
 * expiry, a Redis outage, a Postgres outage and a restart; no session outlives its absolute
 * lifetime however often it is refreshed; and a readable or short `auth-secret` file stops the
 * server at start.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@plauder/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { type Account, issueToken, newAccount, sleep } from "../support/clients";
import { startCluster, type TestCluster } from "../support/cluster";
import {
  type Instance,
  instanceEnv,
  runToExit,
  startInstance,
  startRedis,
  type TestRedis,
  tempDataDir,
} from "../support/processes";
import { type PostgresServer, startPostgresServer } from "./support/postgres-server";
import { authenticatedSocket } from "./support/raw-client";
import { reportCase } from "./support/report";
import { type BrowserSession, signInWithCredentials, signOut } from "./support/session-cookie";
import { type Watched, WatchedSockets, whoIs } from "./support/watched-sockets";

const heartbeatMs = 1_000;
const pollMs = 500;
/** Sliding lifetime of the cluster's sessions: short, so the cookie's own expiry passes within the test. */
const slidingSeconds = 10;

let redis: TestRedis;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let anna: Account;
const authSecret = `${randomUUID()}${randomUUID()}`;
const sockets = new WatchedSockets();
/** Instances the tests start beside a and b, stopped with them. */
const instances: Instance[] = [];

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    redisUrl: redis.url,
    env: {
      // One secret for every instance of this file, the ones started later included.
      AUTH_SECRET: authSecret,
      WS_HEARTBEAT_MS: String(heartbeatMs),
      REVOCATION_POLL_MS: String(pollMs),
      SESSION_MAX_AGE_SECONDS: String(slidingSeconds),
    },
  });
  [a, b] = cluster.instances as [Instance, Instance];
  anna = await newAccount(a.url, "Anna");
});

afterAll(async () => {
  sockets.terminateAll();
  await Promise.allSettled(instances.map((instance) => instance.stop()));
  await cluster?.stop();
  await redis?.stop();
});

const sessionCookiePattern = /^(__Secure-)?authjs\.session-token=/;

/** What `GET /api/auth/session` (the browser's `useSession`, every page load) answers for a cookie. */
type Refresh = {
  /** The session next-auth reports, or null. */
  session: { user?: { id?: string } } | null;
  /** A `Set-Cookie` that carries a session (a re-issued cookie), as a `Cookie` header value; else null. */
  reissued: string | null;
  /** Whether the answer deletes the session cookie. */
  cleared: boolean;
};

async function refresh(instance: Instance, session: BrowserSession): Promise<Refresh> {
  const response = await fetch(`${instance.url}/api/auth/session`, { headers: { cookie: session.cookie } });
  const lines = response.headers.getSetCookie().filter((line) => sessionCookiePattern.test(line));
  const issuing = lines.find((line) => {
    const value = (line.split(";")[0] as string).split("=")[1] ?? "";
    return value !== "" && !/max-age=0/i.test(line) && !/expires=thu, 01 jan 1970/i.test(line);
  });
  return {
    session: (await response.json()) as Refresh["session"],
    reissued: issuing ? (issuing.split(";")[0] as string) : null,
    cleared: lines.length > 0 && !issuing,
  };
}

/** The browser session with its session cookie replaced by a re-issued one. */
function withSessionCookie(session: BrowserSession, pair: string): BrowserSession {
  const others = session.cookie.split("; ").filter((part) => !sessionCookiePattern.test(part));
  return { cookie: [...others, pair].join("; "), sessionToken: pair.slice(pair.indexOf("=") + 1) };
}

const cookieSocket = (instance: Instance, session: BrowserSession) => sockets.withCookie(instance.url, session);
const watch = (socket: WebSocket) => sockets.watch(socket);

/** Who a cookie is on a fresh WebSocket of `instance`: the user id, or the error code. */
async function cookieOpensSocketAs(instance: Instance, session: BrowserSession): Promise<string> {
  const watched = await cookieSocket(instance, session);
  try {
    return await whoIs(watched.socket);
  } finally {
    watched.socket.terminate();
  }
}

/** HTTP status of the protected query auth.me with a cookie or a bearer token. */
async function meStatus(instance: Instance, credential: { cookie: string } | { token: string }): Promise<number> {
  const headers: Record<string, string> =
    "cookie" in credential ? { cookie: credential.cookie } : { authorization: `Bearer ${credential.token}` };
  return (await fetch(`${instance.url}/api/trpc/auth.me`, { headers })).status;
}

/** The close of a watched socket, or "still open" once `ms` have passed. */
async function closeWithin(
  watched: Watched,
  ms: number,
): Promise<{ code: number; reason: string; at: number } | string> {
  return Promise.race([watched.closedWith, sleep(ms).then(() => `still open after ${ms} ms`)]);
}

describe("a session ended by logout", () => {
  it("is not re-issued by a refresh, and no copy of it works again once the cookie's expiry passes", async () => {
    const laptop = await signInWithCredentials(a.url, anna.email, anna.password);
    const signedInAt = Date.now();
    // A few seconds later the browser (another tab, or whoever copied the cookie) refreshes it: this
    // copy expires later than the one presented at logout.
    await sleep(4_000);
    const before = await refresh(a, laptop);
    expect(before.session?.user?.id).toBe(anna.id);
    expect(before.reissued).not.toBeNull();
    const refreshedCopy = withSessionCookie(laptop, before.reissued as string);

    expect(await signOut(a.url, laptop)).toBe(302);

    for (const [instance, session] of [
      [a, laptop],
      [b, laptop],
      [b, refreshedCopy],
    ] as const) {
      const after = await refresh(instance, session);
      expect(after.session, "no session for a signed-out cookie").toBeNull();
      expect(after.reissued, "no re-issued cookie for a signed-out session").toBeNull();
      expect(after.cleared).toBe(true);
    }
    for (const session of [laptop, refreshedCopy]) {
      expect(await cookieOpensSocketAs(b, session)).toBe("UNAUTHORIZED");
      expect(await meStatus(a, session)).toBe(401);
    }

    // Past the expiry of the cookie presented at logout (until which the revocation used to be
    // kept), the copy refreshed before logout has not expired yet, and must still be refused.
    const presentedExpiry = signedInAt + slidingSeconds * 1_000;
    await sleep(Math.max(0, presentedExpiry + 1_000 - Date.now()));
    expect(Date.now()).toBeLessThan(signedInAt + 4_000 + slidingSeconds * 1_000);
    for (const session of [refreshedCopy, laptop]) {
      expect(await cookieOpensSocketAs(b, session)).toBe("UNAUTHORIZED");
      expect(await meStatus(a, session)).toBe(401);
      expect((await refresh(b, session)).session).toBeNull();
    }
    reportCase({
      id: "security.refresh-after-sign-out",
      section: "Security",
      title: "Refreshing a signed-out session",
      method: `Two instances, SESSION_MAX_AGE_SECONDS=${slidingSeconds}. A browser signs in; 4 s later a copy of its cookie is refreshed (a second tab, or a stolen copy); the browser signs out with the original. Both copies are then refreshed (GET /api/auth/session), used on a WebSocket and over HTTP, again after the original's expiry.`,
      figures: {
        "refresh of either copy after sign-out": "no session, cookie deleted",
        "either copy after sign-out": "UNAUTHORIZED (WebSocket), 401 (HTTP)",
        "either copy after the original's expiry": "UNAUTHORIZED (WebSocket), 401 (HTTP)",
      },
    });
  });

  it("during a Redis outage is refused by the other instance, whose sockets close, within the poll interval", async () => {
    const laptop = await signInWithCredentials(a.url, anna.email, anna.password);
    const { token } = await issueToken(a.url, anna);
    const cookieOnB = await cookieSocket(b, laptop);
    const tokenOnB = watch(await authenticatedSocket(b.url, token));
    expect(await whoIs(cookieOnB.socket)).toBe(anna.id);
    expect(await whoIs(tokenOnB.socket)).toBe(anna.id);

    await redis.stop();
    let closeMs: number;
    try {
      closeMs = await logOutDuringOutage();
    } finally {
      // Redis comes back empty (no persistence): nothing about the revocations lived there.
      await redis.start();
    }
    await sleep(pollMs * 2);
    expect(await meStatus(b, laptop)).toBe(401);
    expect(await meStatus(b, { token })).toBe(401);
    expect(await cookieOpensSocketAs(b, laptop)).toBe("UNAUTHORIZED");
    expect((await refresh(b, laptop)).session).toBeNull();
    reportCase({
      id: "security.sign-out-during-redis-outage",
      section: "Security",
      title: "Signing out while Redis is down",
      method: `Two instances on one Postgres and a Redis of the test's own; a cookie and a token of one person each hold a socket on instance b. Redis killed, then the cookie signed out and the token logged out on instance a; Redis restarted empty afterwards. REVOCATION_POLL_MS=${pollMs}, WS_HEARTBEAT_MS=${heartbeatMs}.`,
      figures: {
        "sockets on b closed after logout, Redis still down (ms)": closeMs,
        "bound: 2 × (poll + heartbeat) (ms)": 2 * (pollMs + heartbeatMs),
        "cookie and token on b, Redis down and after its restart": "401 UNAUTHORIZED",
        "refresh of the signed-out cookie on b": "no session",
      },
    });

    /** Logs both credentials out on a while Redis is down; resolves with when b had closed their sockets. */
    async function logOutDuringOutage(): Promise<number> {
      const loggedOutAt = Date.now();
      expect(await signOut(a.url, laptop)).toBe(302);
      const logout = await fetch(`${a.url}/api/trpc/auth.logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      });
      expect(logout.status).toBe(200);

      // Redis is still down: the announcement is lost, B learns of the logouts from Postgres (its poll)
      // and its sweep (once per heartbeat) closes the sockets.
      const bound = 2 * (pollMs + heartbeatMs);
      const closes = await Promise.all([closeWithin(cookieOnB, bound + 1_000), closeWithin(tokenOnB, bound + 1_000)]);
      for (const close of closes) expect(close).toMatchObject({ code: 4001, reason: "Signed out" });
      const closeMs =
        Math.max(...closes.map((c) => (typeof c === "string" ? Number.POSITIVE_INFINITY : c.at))) - loggedOutAt;
      expect(closeMs).toBeLessThan(bound);
      expect(await meStatus(b, laptop)).toBe(401);
      expect(await meStatus(b, { token })).toBe(401);
      return closeMs;
    }
  });
});

describe("a session's absolute lifetime", () => {
  const slidingLifetime = 4;
  const absoluteLifetime = 8;
  let short: Instance;

  beforeAll(async () => {
    short = await startInstance({
      id: "short",
      env: {
        DATABASE_URL: cluster.databaseUrl,
        AUTH_SECRET: authSecret,
        SESSION_MAX_AGE_SECONDS: String(slidingLifetime),
        SESSION_ABSOLUTE_MAX_AGE_SECONDS: String(absoluteLifetime),
      },
    });
    instances.push(short);
  });

  it("ends a session that keeps being refreshed, and closes its sockets at that end", async () => {
    let session = await signInWithCredentials(short.url, anna.email, anna.password);
    const signedInAt = Date.now();
    const absoluteEnd = signedInAt + absoluteLifetime * 1_000;
    let watched: Watched | null = null;
    let refreshes = 0;
    // Refreshed every second, as an open tab does: alive past its sliding lifetime, until the absolute end.
    while (Date.now() < absoluteEnd - 1_500) {
      const answer = await refresh(short, session);
      expect(answer.session?.user?.id).toBe(anna.id);
      expect(answer.reissued).not.toBeNull();
      session = withSessionCookie(session, answer.reissued as string);
      refreshes++;
      if (!watched && Date.now() > absoluteEnd - slidingLifetime * 1_000 + 200) {
        // Opened with a cookie whose own expiry lies beyond the absolute end.
        watched = await cookieSocket(short, session);
        expect(await whoIs(watched.socket)).toBe(anna.id);
      }
      await sleep(1_000);
    }
    expect(Date.now() - signedInAt).toBeGreaterThan(slidingLifetime * 1_000);
    expect(watched, "a socket opened with a cookie that expires after the absolute end").not.toBeNull();
    const opened = watched as Watched;

    // The expiry sweep runs once a second; the cookie's own expiry is at least 2 s after the end.
    const close = await closeWithin(opened, absoluteEnd + 1_500 - Date.now());
    expect(close).toMatchObject({ code: 4001, reason: "Session expired" });
    // The server counts from the second of sign-in (the cookie stores whole seconds), so up to 1 s earlier.
    const closedAfterSignIn = (close as { at: number }).at - signedInAt;

    // The last refreshed cookie has not expired yet, but the session has.
    const answer = await refresh(short, session);
    expect(answer.session).toBeNull();
    expect(answer.reissued).toBeNull();
    expect(await cookieOpensSocketAs(short, session)).toBe("UNAUTHORIZED");
    expect(await meStatus(short, session)).toBe(401);
    expect(refreshes).toBeGreaterThan(slidingLifetime);
    reportCase({
      id: "security.absolute-session-lifetime",
      section: "Security",
      title: "A session refreshed without end",
      method: `SESSION_MAX_AGE_SECONDS=${slidingLifetime}, SESSION_ABSOLUTE_MAX_AGE_SECONDS=${absoluteLifetime}. A browser cookie refreshed every second (GET /api/auth/session, as an open tab does); a socket opened with a refreshed cookie whose own expiry lies past the absolute end.`,
      figures: {
        "refreshes honoured": refreshes,
        "socket closed after sign-in (ms)": closedAfterSignIn,
        "absolute lifetime (ms)": absoluteLifetime * 1_000,
        "refresh after the end": "no session, cookie deleted",
        "last refreshed cookie (unexpired)": "UNAUTHORIZED (WebSocket), 401 (HTTP)",
      },
    });
  });
});

describe("a logout while Postgres is down", () => {
  let postgres: PostgresServer;
  let c: Instance;
  let d: Instance;

  beforeAll(async () => {
    postgres = await startPostgresServer();
    const env = {
      ...instanceEnv(postgres.url, redis.url),
      AUTH_SECRET: authSecret,
      WS_HEARTBEAT_MS: String(heartbeatMs),
      REVOCATION_POLL_MS: String(pollMs),
    };
    // c logs at info, so the test can see its queued revocation being stored.
    [c, d] = await Promise.all([
      startInstance({ id: "c", env: { ...env, LOG_LEVEL: "info" } }),
      startInstance({ id: "d", env }),
    ]);
    instances.push(c, d);
  });

  afterAll(async () => {
    await Promise.allSettled([c?.stop(), d?.stop()]);
    postgres?.destroy();
  });

  it("is refused at once through the bus, stored once Postgres is back, and survives a restart of the other instance", async () => {
    const carl = await newAccount(c.url, "Carl");
    const onD = watch(await authenticatedSocket(d.url, carl.token));
    expect(await whoIs(onD.socket)).toBe(carl.id);

    postgres.stop();
    try {
      const logout = await fetch(`${c.url}/api/trpc/auth.logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${carl.token}`, "content-type": "application/json" },
      });
      expect(logout.status).toBe(200);
      // Not in the database, but refused on both instances now: here from memory, there from the bus.
      expect(await meStatus(c, { token: carl.token })).toBe(401);
      expect(await closeWithin(onD, heartbeatMs)).toMatchObject({ code: 4001, reason: "Signed out" });
      expect(await meStatus(d, { token: carl.token })).toBe(401);
      expect(c.output()).toContain("revocation not stored");
    } finally {
      postgres.start();
    }
    // The queued revocation is written at the next poll after Postgres answers again.
    const storedWithin = 4 * pollMs + 2_000;
    const deadline = Date.now() + storedWithin;
    while (!c.output().includes("queued revocation stored") && Date.now() < deadline) await sleep(100);
    expect(c.output()).toContain("queued revocation stored");

    // d forgets what the bus told it; what it knows after a restart comes from Postgres.
    expect(await d.stop()).toBe(0);
    await d.start();
    expect(await meStatus(d, { token: carl.token })).toBe(401);
    // The person's new session is unaffected.
    const { token } = await issueToken(d.url, carl);
    expect(await meStatus(d, { token })).toBe(200);
  });
});

describe("revocations on the embedded defaults", () => {
  it("stay refused after a restart", async () => {
    const embedded = await startInstance({ id: "embedded", env: { DATA_DIR: tempDataDir() } });
    instances.push(embedded);
    const berta = await newAccount(embedded.url, "Berta");
    const laptop = await signInWithCredentials(embedded.url, berta.email, berta.password);
    const { token } = await issueToken(embedded.url, berta);
    const logout = await fetch(`${embedded.url}/api/trpc/auth.logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    });
    expect(logout.status).toBe(200);
    expect(await signOut(embedded.url, laptop)).toBe(302);
    expect(await meStatus(embedded, { token })).toBe(401);
    expect(await meStatus(embedded, laptop)).toBe(401);

    expect(await embedded.stop()).toBe(0);
    await embedded.start();

    expect(await meStatus(embedded, { token })).toBe(401);
    expect(await meStatus(embedded, laptop)).toBe(401);
    expect((await refresh(embedded, laptop)).session).toBeNull();
    // The person's other sessions were never revoked.
    expect(await meStatus(embedded, { token: berta.token })).toBe(200);
  });
});

/** Starts the server on a data directory; see runToExit. */
async function startOrExit(dataDir: string): Promise<{ code: number | null | "started"; output: string }> {
  return runToExit({ PORT: String(await freePort()), HOST: "127.0.0.1", DATA_DIR: dataDir });
}

/**
 * Starts the server on a fresh data directory whose auth-secret file holds `secret` with file mode
 * `mode`; expects the start to fail without printing the secret, and returns what it printed.
 */
async function refusedStartWithSecretFile(secret: string, mode: number): Promise<string> {
  const dataDir = tempDataDir();
  const file = join(dataDir, "auth-secret");
  writeFileSync(file, secret, { mode });
  // The mode given to writeFileSync passes through the umask; chmod sets it exactly.
  chmodSync(file, mode);
  const { code, output } = await startOrExit(dataDir);
  expect(code).toBe(1);
  expect(output).not.toContain(secret);
  return output;
}

describe("an existing auth-secret file", () => {
  it("readable by others stops the start with what to do, without printing the secret", async () => {
    const output = await refusedStartWithSecretFile(randomBytes(48).toString("base64url"), 0o644);
    expect(output).toContain("readable or writable by other users");
    expect(output).toContain("chmod 600");
  });

  it("shorter than 32 characters stops the start with what to do, without printing the secret", async () => {
    const output = await refusedStartWithSecretFile(randomBytes(12).toString("hex"), 0o600);
    expect(output).toContain("shorter than 32 characters");
    expect(output).toContain("AUTH_SECRET");
  });
});
