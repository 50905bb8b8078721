/**
 * Ending a session closes its sockets on every instance: signing out in the browser (next-auth)
 * or logging out a token (auth.logout), at once through the bus, and within one poll of the
 * revocations in Postgres and one heartbeat interval when the bus loses the announcement. The
 * person's other sessions stay connected.
 */
import type { CredentialsEnded } from "@plauder/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Account, connect, issueToken, newAccount } from "../support/clients";
import { startCluster, type TestCluster } from "../support/cluster";
import { type Instance, startInstance, startRedis, type TestRedis } from "../support/processes";
import { nextMessage } from "../support/raw-socket";
import { authenticatedSocket } from "./support/raw-client";
import { reportCase } from "./support/report";
import { type BrowserSession, signInWithCredentials, signOut } from "./support/session-cookie";
import { type Watched, WatchedSockets, whoIs } from "./support/watched-sockets";

const heartbeatMs = 2_000;
/** How often instances read new revocations from Postgres: the path when the bus loses an announcement. */
const revocationPollMs = 500;
let redis: TestRedis;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let anna: Account;
const sockets = new WatchedSockets();

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    redisUrl: redis.url,
    env: { WS_HEARTBEAT_MS: String(heartbeatMs), REVOCATION_POLL_MS: String(revocationPollMs) },
  });
  [a, b] = cluster.instances as [Instance, Instance];
  anna = await newAccount(a.url, "Anna");
});

afterAll(async () => {
  sockets.terminateAll();
  await cluster?.stop();
  await redis?.stop();
});

const cookieSocket = (instance: Instance, session: BrowserSession) => sockets.withCookie(instance.url, session);

const stillOpen = (watched: Watched) => watched.socket.readyState === WebSocket.OPEN;

describe("ending a session", () => {
  it("signing out in the browser closes that session's sockets on every instance, and only those", async () => {
    const laptop = await signInWithCredentials(a.url, anna.email, anna.password);
    const phone = await signInWithCredentials(b.url, anna.email, anna.password);
    const laptopSockets = [await cookieSocket(a, laptop), await cookieSocket(b, laptop)];
    const phoneSocket = await cookieSocket(a, phone);
    const cli = await cluster.clients.connect(b.url, anna);
    for (const watched of [...laptopSockets, phoneSocket]) expect(await whoIs(watched.socket)).toBe(anna.id);

    const signedOutAt = Date.now();
    expect(await signOut(a.url, laptop)).toBe(302);
    const closes = await Promise.all(laptopSockets.map((w) => w.closedWith));
    const closeMs = Math.max(...closes.map((c) => c.at)) - signedOutAt;

    for (const close of closes) expect(close).toMatchObject({ code: 4001, reason: "Signed out" });
    expect(closeMs).toBeLessThan(heartbeatMs);
    // The phone and the CLI stay signed in and connected.
    expect(stillOpen(phoneSocket)).toBe(true);
    expect(await whoIs(phoneSocket.socket)).toBe(anna.id);
    expect((await cli.api.auth.me.query()).id).toBe(anna.id);
    // A copy of the laptop's cookie is worth nothing now, over WebSocket and HTTP alike.
    const replayed = await cookieSocket(b, laptop);
    expect(await whoIs(replayed.socket)).toBe("UNAUTHORIZED");
    const http = await fetch(`${a.url}/api/trpc/auth.me`, { headers: { cookie: laptop.cookie } });
    expect(http.status).toBe(401);
    reportCase({
      id: "security.sign-out",
      section: "Security",
      title: "Signing out closes that session's sockets everywhere",
      method:
        "Two instances. One person signed in twice (laptop, phone) plus a CLI token; the laptop's cookie opens a socket on each instance. The laptop signs out through next-auth.",
      figures: {
        "laptop sockets closed": `${closes.length} of ${laptopSockets.length}, code 4001 "Signed out"`,
        "closed after sign-out (ms)": closeMs,
        "bound: heartbeat interval (ms)": heartbeatMs,
        "phone socket and CLI still signed in": true,
        "replayed laptop cookie": "UNAUTHORIZED (WebSocket), 401 (HTTP)",
      },
    });
  });

  it("auth.logout ends a token: its sockets close, it is refused afterwards, other tokens carry on", async () => {
    const other = await newAccount(a.url, "Anna2");
    // A session of its own: Anna's original token (the CLI of the test above) must outlive it.
    const session = { ...anna, token: (await issueToken(a.url, anna)).token };
    let reopened = 0;
    let ended: (value: CredentialsEnded) => void = () => {};
    const endedOnB = new Promise<CredentialsEnded>((resolve) => {
      ended = resolve;
    });
    const first = await connect(a.url, session);
    const second = await connect(b.url, session, { onOpen: () => reopened++, onCredentialsEnded: ended });
    const sameUserOtherToken = await connect(b.url, anna);
    const bystander = await connect(a.url, other);
    cluster.clients.add(first, second, sameUserOtherToken, bystander);
    expect((await second.api.auth.me.query()).id).toBe(anna.id);
    expect((await sameUserOtherToken.api.auth.me.query()).id).toBe(anna.id);
    // The typed client reports the close through its connection state; watch the raw socket count instead.
    const connectionsOnB = async () =>
      ((await (await fetch(`${b.url}/api/health`)).json()) as { connections: number }).connections;
    const before = await connectionsOnB();
    const loggedOutAt = Date.now();
    expect(await first.api.auth.logout.mutate()).toEqual({ ended: true });
    let after = before;
    while (after >= before && Date.now() - loggedOutAt < heartbeatMs * 2) after = await connectionsOnB();
    const closeMs = Date.now() - loggedOutAt;
    expect(closeMs).toBeLessThan(heartbeatMs);
    // The typed client learns why and stops instead of reconnecting with a dead token.
    expect(await endedOnB).toEqual({ code: 4001, reason: "Signed out" });
    const opensBefore = reopened;
    // Past one more sweep, exactly one socket on b has closed (the logged-out token's) and stays closed.
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs + 250));
    expect(await connectionsOnB()).toBe(before - 1);
    expect(reopened).toBe(opensBefore);
    // A later call fails at once and says why, without opening a socket with the dead token.
    await expect(second.api.auth.me.query()).rejects.toThrow("The server ended this token (Signed out); sign in again");
    expect(reopened).toBe(opensBefore);
    const refused = await fetch(`${a.url}/api/trpc/auth.me`, { headers: { authorization: `Bearer ${session.token}` } });
    expect(refused.status).toBe(401);
    expect((await sameUserOtherToken.api.auth.me.query()).id).toBe(anna.id);
    expect((await bystander.api.auth.me.query()).id).toBe(other.id);
    reportCase({
      id: "security.token-logout",
      section: "Security",
      title: "Logging out a token (CLI `plauder logout`, auth.logout)",
      method:
        "One token connected to both instances, next to another token of the same person and another person's; auth.logout on one of them.",
      figures: {
        "socket on the other instance closed after (ms)": closeMs,
        "token afterwards": "401 UNAUTHORIZED",
        "same person's other token": "unaffected",
        "another person's token": "unaffected",
      },
    });
  });

  it("a lost announcement is caught by the next poll and sweep, within one poll and one heartbeat interval", async () => {
    const laptop = await signInWithCredentials(a.url, anna.email, anna.password);
    const onB = await cookieSocket(b, laptop);
    expect(await whoIs(onB.socket)).toBe(anna.id);
    // Cut every pub/sub connection: the announcement of the sign-out below goes to nobody.
    const admin = new Redis(redis.url);
    const signedOutAt = Date.now();
    try {
      await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
      expect(await signOut(a.url, laptop)).toBe(302);
    } finally {
      admin.disconnect();
    }
    const close = await onB.closedWith;
    const closeMs = close.at - signedOutAt;
    expect(close).toMatchObject({ code: 4001, reason: "Signed out" });
    expect(closeMs).toBeLessThan(revocationPollMs + heartbeatMs + 500);
    reportCase({
      id: "security.sign-out-lost-announcement",
      section: "Security",
      title: "Sign-out while the bus is cut",
      method:
        "Every Redis pub/sub connection killed (CLIENT KILL TYPE pubsub) just before signing out, so the announcement is lost; the other instance reads the revocation from Postgres at its next poll, and its sweep of revoked sessions closes the socket.",
      figures: {
        "closed after sign-out (ms)": closeMs,
        "bound: poll + heartbeat interval (ms)": `${revocationPollMs} + ${heartbeatMs}`,
      },
    });
  });
  it("a token that logs itself out over its own socket hears the answer before the close, every time", async () => {
    // The revoked-session sweep runs every heartbeat interval: at 25 ms it fires inside many a
    // logout, between the revocation and the answer, as a bus announcement can.
    const sweeping = await startInstance({ id: "c", env: { ...cluster.env, WS_HEARTBEAT_MS: "25" } });
    const rounds = 20;
    const orders: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const { token } = await issueToken(sweeping.url, anna);
      const { socket, closedWith } = sockets.watch(await authenticatedSocket(sweeping.url, token));
      const events: string[] = [];
      socket.on("message", (data) => {
        const text = data.toString();
        if (text === "PING" || text === "PONG") return;
        const message = JSON.parse(text) as { id?: number; result?: { data?: unknown } };
        if (message.id === 2) events.push(`answer ${JSON.stringify(message.result?.data)}`);
      });
      const me = nextMessage(socket, (m) => m.id === 1);
      socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.me" } }));
      await me;
      socket.send(JSON.stringify({ id: 2, method: "mutation", params: { path: "auth.logout" } }));
      events.push(`close ${(await closedWith).code}`);
      orders.push(events.join(", "));
    }
    // The bus announcement reaches this instance as fast as the answer is written; the caller's own
    // socket still closes only after its answer.
    await sweeping.stop();
    expect(new Set(orders)).toEqual(new Set(['answer {"ended":true}, close 4001']));
  });
});
