/**
 * Abuse of the doors a stranger or a signed-in misuser finds first, against one real production
 * instance with real Redis and Postgres (and the shipped nginx configuration where a proxy matters):
 * batch registration, account enumeration through registration, subscriptions over plain HTTP,
 * forged X-Forwarded-For behind the proxy, password spraying and credential stuffing, a client that
 * stops reading while asking for replays and echoes, and a flood of anonymous sockets from one address.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Account, newAccount, publishOverHttp, sleep } from "../support/clients";
import { startSingle, type TestSingle } from "../support/cluster";
import type { Instance } from "../support/processes";
import { closed, nextMessage, rawSocket } from "../support/raw-socket";
import { diagnosable, diagnosticsWhen, readDiagnostics } from "./support/diagnostics";
import { httpRequest, tokenLogin } from "./support/http";
import { type Nginx, startShippedNginx } from "./support/nginx";
import { answerHeartbeat, stopReading } from "./support/raw-client";
import { mb, reportCase } from "./support/report";

const section = "Security";
const settings = {
  REGISTER_RATE_LIMIT: 10,
  LOGIN_MAX_ATTEMPTS: 3,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: 6,
  LOGIN_MAX_FAILURES_PER_ADDRESS: 8,
  MAX_CONNECTIONS: 60,
  MAX_CONNECTIONS_PER_ADDRESS: 20,
  MAX_UNAUTHENTICATED_PER_ADDRESS: 5,
  WS_MAX_BUFFERED: 262_144,
};

let solo: TestSingle;
let instance: Instance;
let proxy: Nginx;
let anna: Account;

beforeAll(async () => {
  solo = await startSingle(
    "abuse",
    diagnosable({
      env: {
        // One proxy in front, as docker-compose.yml runs it.
        TRUST_PROXY: "true",
        LOGIN_WINDOW_SECONDS: "600",
        REGISTER_WINDOW_SECONDS: "600",
        PUBLISH_RATE_LIMIT: "100000",
        ...Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, String(value)])),
      },
    }),
  );
  instance = solo.instance;
  proxy = await startShippedNginx([instance.port]);
  anna = await newAccount(instance.url, "Anna");
});

afterAll(async () => {
  await proxy?.stop();
  await solo?.stop();
});

async function countUsers(): Promise<number> {
  const client = new pg.Client({ connectionString: solo.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>("select count(*) from users");
    return Number(rows[0]?.count);
  } finally {
    await client.end();
  }
}

const person = (tag: string) => ({
  email: `${tag}-${randomUUID().slice(0, 8)}@example.com`,
  password: "correct horse battery",
  name: tag,
});

const register = (input: { email: string; password: string; name: string }, localAddress: string) =>
  httpRequest(`${instance.url}/api/trpc/auth.register`, { body: JSON.stringify(input), localAddress });

/** Opens a WebSocket from a given loopback address, as a token client (`?connectionParams=1`) or not. */
const socketFrom = (localAddress: string, query = "") =>
  rawSocket(instance.url, { localAddress, connectionParams: query === "?connectionParams=1" });

describe("registration", () => {
  it("refuses a batch of 200 registrations whole, creating no account", async () => {
    const before = await countUsers();
    const inputs = Array.from({ length: 200 }, () => person("batch"));
    const body = Object.fromEntries(inputs.map((input, i) => [String(i), input]));
    const paths = inputs.map(() => "auth.register").join(",");
    const started = Date.now();
    const answer = await httpRequest(`${instance.url}/api/trpc/${paths}?batch=1`, {
      body: JSON.stringify(body),
      localAddress: "127.0.0.21",
    });
    const tookMs = Date.now() - started;
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/batch/i);
    expect(await countUsers()).toBe(before);
    reportCase({
      id: "security.batch-registration",
      section,
      title: "200 registrations in one HTTP batch",
      method: "POST /api/trpc/auth.register,…(200 times)?batch=1 from one address, as one request.",
      figures: { status: answer.status, "accounts created": (await countUsers()) - before, "answered in (ms)": tookMs },
    });
  });

  it("registers at most REGISTER_RATE_LIMIT accounts per address and window, over HTTP and WebSocket alike", async () => {
    const address = "127.0.0.22";
    const before = await countUsers();
    const statuses: number[] = [];
    for (let i = 0; i < settings.REGISTER_RATE_LIMIT + 2; i++) {
      statuses.push((await register(person("flood"), address)).status);
    }
    expect(statuses.slice(0, settings.REGISTER_RATE_LIMIT).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(settings.REGISTER_RATE_LIMIT)).toEqual([429, 429]);
    const refused = await register(person("flood"), address);
    const error = JSON.parse(refused.text) as {
      error: { message: string; data: { code: string; retryAfter: number } };
    };
    expect(error.error.data.code).toBe("TOO_MANY_REQUESTS");
    expect(error.error.message).toBe("Too many registrations from this address");
    expect(error.error.data.retryAfter).toBeGreaterThan(0);
    expect(error.error.data.retryAfter).toBeLessThanOrEqual(600);
    expect(await countUsers()).toBe(before + settings.REGISTER_RATE_LIMIT);

    // A stranger's socket from the same address shares the budget: no way around it.
    const { socket } = await socketFrom(address);
    if (!socket) throw new Error("the anonymous socket was refused");
    const answer = nextMessage(socket, (m) => m.id === 1);
    socket.send(
      JSON.stringify({ id: 1, method: "mutation", params: { path: "auth.register", input: person("socket") } }),
    );
    expect(((await answer).error as { data: { code: string } }).data.code).toBe("TOO_MANY_REQUESTS");
    socket.close();
    expect(await countUsers()).toBe(before + settings.REGISTER_RATE_LIMIT);
    // Another address is not affected.
    expect((await register(person("neighbour"), "127.0.0.23")).status).toBe(200);
    reportCase({
      id: "security.registration-rate",
      section,
      title: "Registration flood from one address",
      method: `${settings.REGISTER_RATE_LIMIT + 3} registrations over HTTP and one over an anonymous WebSocket from one address; REGISTER_RATE_LIMIT=${settings.REGISTER_RATE_LIMIT}.`,
      figures: {
        "accounts created": settings.REGISTER_RATE_LIMIT,
        "refused over HTTP": "429 TOO_MANY_REQUESTS with retryAfter",
        "refused over the WebSocket": "TOO_MANY_REQUESTS",
        "another address": 200,
      },
    });
  });

  it("answers a taken email exactly as a new one, in the same time, leaving the account as it was", async () => {
    const address = "127.0.0.24";
    const owner = person("owner");
    const first = await register(owner, address);
    expect(first.status).toBe(200);
    const times = { taken: [] as number[], fresh: [] as number[] };
    const answers = { taken: new Set<string>(), fresh: new Set<string>() };
    // Interleaved, so drift on the machine hits both the same. Each from its own address (budget).
    for (let i = 0; i < 4; i++) {
      for (const kind of ["taken", "fresh"] as const) {
        const input = kind === "taken" ? { ...owner, password: `another password ${i}` } : person("fresh");
        const started = performance.now();
        const answer = await register(input, `127.0.1.${i * 2 + (kind === "taken" ? 0 : 1)}`);
        times[kind].push(performance.now() - started);
        expect(answer.status).toBe(200);
        answers[kind].add(answer.text.replace(input.email, "<email>"));
      }
    }
    // Byte for byte the same answer (apart from the email the caller sent).
    expect([...answers.taken]).toEqual([...answers.fresh]);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const ratio = median(times.taken) / median(times.fresh);
    // Both hash the password (tens of milliseconds); a taken email that skipped it would be ~10x faster.
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
    // The owner's password still signs in; the later registrations' passwords do not.
    expect((await tokenLogin(instance.url, owner, { localAddress: address })).status).toBe(200);
    expect(
      (await tokenLogin(instance.url, { ...owner, password: "another password 0" }, { localAddress: address })).status,
    ).toBe(401);
    reportCase({
      id: "security.registration-enumeration",
      section,
      title: "Account enumeration through registration",
      method: "Registrations of an email that has an account and of new emails, interleaved, four of each.",
      figures: {
        "answers differ": false,
        "median taken / new email (ms)": `${Math.round(median(times.taken))} / ${Math.round(median(times.fresh))}`,
        "the account's own password still works": true,
      },
    });
  });
});

describe("subscriptions over HTTP", () => {
  it("refuses a subscription as server-sent events, so a revoked token cannot keep listening", async () => {
    const listener = await newAccount(instance.url, "Listener");
    const controller = new AbortController();
    const response = await fetch(`${instance.url}/api/trpc/realtime.broadcast?input=${encodeURIComponent("{}")}`, {
      headers: { authorization: `Bearer ${listener.token}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    const contentType = response.headers.get("content-type") ?? "";
    // Whatever came, read what the stream delivers after the token is revoked and a broadcast sent.
    const received: string[] = [];
    const reading = (async () => {
      if (!response.body) return;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received.push(decoder.decode(value));
        }
      } catch {
        // aborted below
      }
    })();
    const logout = await fetch(`${instance.url}/api/trpc/auth.logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${listener.token}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(logout.status).toBe(200);
    const secret = `after logout ${randomUUID()}`;
    await publishOverHttp(instance.url, anna.token, secret);
    await sleep(500);
    controller.abort();
    await reading;
    expect(received.join("")).not.toContain(secret);
    expect(contentType).not.toContain("text/event-stream");
    expect(response.status).toBe(405);
    const body = JSON.parse(received.join("")) as { error: { message: string; data: { code: string } } };
    expect(body.error.data.code).toBe("METHOD_NOT_SUPPORTED");
    expect(body.error.message).toBe("Subscriptions are served over the WebSocket at /api/trpc-ws only");
    reportCase({
      id: "security.sse-subscription",
      section,
      title: "A subscription over plain HTTP (server-sent events)",
      method:
        "GET /api/trpc/realtime.broadcast with a Bearer token, then logout of that token and a broadcast from someone else.",
      figures: { status: response.status, code: body.error.data.code, "broadcast received after logout": false },
    });
  });
});

describe("sign-in throttling", () => {
  it("counts the address the shipped nginx saw, not the X-Forwarded-For a client forged", async () => {
    const victim = await newAccount(instance.url, "Proxied");
    const statuses: number[] = [];
    for (let attempt = 0; attempt < settings.LOGIN_MAX_ATTEMPTS + 2; attempt++) {
      const answer = await tokenLogin(
        proxy.url,
        { email: victim.email, password: `wrong password ${attempt}` },
        // Each guess claims a new address; nginx appends the real one (127.0.0.40) after it.
        { localAddress: "127.0.0.40", headers: { "x-forwarded-for": `198.51.100.${attempt + 1}` } },
      );
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // The budget is the real address's: another client behind the same proxy is not affected.
    const neighbour = await tokenLogin(
      proxy.url,
      { email: victim.email, password: victim.password },
      { localAddress: "127.0.0.41" },
    );
    expect(neighbour.status).toBe(200);
    reportCase({
      id: "security.forwarded-for",
      section,
      title: "Forged X-Forwarded-For behind the shipped nginx",
      method: `deploy/nginx.conf in front of the instance (TRUST_PROXY=true). ${settings.LOGIN_MAX_ATTEMPTS + 2} wrong passwords from 127.0.0.40, each with a different forged X-Forwarded-For; then the right one from 127.0.0.41.`,
      figures: { statuses: statuses.join(", "), "another address behind the proxy": neighbour.status },
    });
  });

  it("stops password spraying: failures from one address across many emails", async () => {
    const address = "127.0.0.50";
    const sprayed = await newAccount(instance.url, "Sprayed");
    const statuses: number[] = [];
    // One common password against many accounts, each only once: no address+email budget trips.
    for (let i = 0; i < settings.LOGIN_MAX_FAILURES_PER_ADDRESS + 1; i++) {
      const email = i === 0 ? sprayed.email : `someone-${i}-${randomUUID().slice(0, 6)}@example.com`;
      statuses.push(
        (await tokenLogin(instance.url, { email, password: "Sommer2026!" }, { localAddress: address })).status,
      );
    }
    expect(statuses.slice(0, settings.LOGIN_MAX_FAILURES_PER_ADDRESS).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // The address stays shut for this window, the right password included; other addresses are not.
    expect((await tokenLogin(instance.url, sprayed, { localAddress: address })).status).toBe(429);
    expect((await tokenLogin(instance.url, sprayed, { localAddress: "127.0.0.51" })).status).toBe(200);
    reportCase({
      id: "security.password-spraying",
      section,
      title: "Password spraying from one address",
      method: `One password against ${settings.LOGIN_MAX_FAILURES_PER_ADDRESS + 1} different emails from one address; LOGIN_MAX_FAILURES_PER_ADDRESS=${settings.LOGIN_MAX_FAILURES_PER_ADDRESS}.`,
      figures: { "refused after failures": settings.LOGIN_MAX_FAILURES_PER_ADDRESS, status: 429 },
    });
  });

  it("stops credential stuffing: failures for one account from many addresses", async () => {
    const stuffed = await newAccount(instance.url, "Stuffed");
    const statuses: number[] = [];
    for (let i = 0; i < settings.LOGIN_MAX_FAILURES_PER_ACCOUNT; i++) {
      const answer = await tokenLogin(
        instance.url,
        { email: stuffed.email, password: `leaked password ${i}` },
        { localAddress: `127.0.2.${i + 1}` },
      );
      statuses.push(answer.status);
    }
    expect(statuses.every((s) => s === 401)).toBe(true);
    // Every address is far inside its own budgets; the account's budget is spent.
    const next = await tokenLogin(instance.url, stuffed, { localAddress: "127.0.2.200" });
    expect(next.status).toBe(429);
    expect(next.token).toBeUndefined();
    // Other accounts sign in from those addresses as before.
    const other = await newAccount(instance.url, "Bystander");
    expect((await tokenLogin(instance.url, other, { localAddress: "127.0.2.1" })).status).toBe(200);
    reportCase({
      id: "security.credential-stuffing",
      section,
      title: "Credential stuffing against one account",
      method: `${settings.LOGIN_MAX_FAILURES_PER_ACCOUNT} wrong passwords for one account, each from its own address, then the right one from yet another; LOGIN_MAX_FAILURES_PER_ACCOUNT=${settings.LOGIN_MAX_FAILURES_PER_ACCOUNT}.`,
      figures: { "right password afterwards": next.status, "another account from the same addresses": 200 },
    });
  });
});

describe("WebSocket admission and output", () => {
  it("cuts off a client that stops reading while asking for replays and echoes", async () => {
    // History to replay: 200 broadcasts of 4 KB.
    const text = "r".repeat(4_000);
    for (let i = 0; i < 200; i++) await publishOverHttp(instance.url, anna.token, text);
    const baseline = await readDiagnostics(instance);
    const { socket } = await socketFrom("127.0.0.60", "?connectionParams=1");
    if (!socket) throw new Error("handshake refused");
    answerHeartbeat(socket);
    socket.send(JSON.stringify({ method: "connectionParams", data: { token: anna.token } }));
    const started = nextMessage(socket, (m) => m.id === 1);
    socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.me" } }));
    await started;
    const codeSeen = closed(socket);
    stopReading(socket);
    const echo = "e".repeat(4_096);
    let id = 10;
    // No live broadcast is published from here on: only replies could fill the buffer.
    for (let frame = 0; frame < 20 && socket.readyState === WebSocket.OPEN; frame++) {
      const calls = Array.from({ length: 5 }, () => ({
        id: ++id,
        method: "subscription",
        params: { path: "realtime.broadcast", input: {}, lastEventId: "0" },
      }));
      // Frames stay under WS_MAX_PAYLOAD (64 KiB): 14 echoes of 4 KB each.
      const echoes = Array.from({ length: 14 }, () => ({
        id: ++id,
        method: "subscription",
        params: { path: "realtime.echo", input: { text: echo } },
      }));
      socket.send(JSON.stringify([...calls, ...echoes]));
      await sleep(20);
    }
    // The server gives up on the connection: back to where it was before it opened.
    const after = await diagnosticsWhen(instance, (d) => d.connections === baseline.connections, 5_000);
    expect(after.connections).toBe(baseline.connections);
    socket.terminate();
    await codeSeen;
    const settled = await readDiagnostics(instance);
    expect(settled.memory.heapUsed - baseline.memory.heapUsed).toBeLessThan(16 * 1024 * 1024);
    reportCase({
      id: "security.non-reading-replies",
      section,
      title: "A client that stops reading while asking for replays and echoes",
      method: `A token connection stops reading its TCP socket and sends 20 frames of 5 broadcast subscriptions with lastEventId "0" (200 stored broadcasts of 4 KB each) and 14 echoes of 4 KB. WS_MAX_BUFFERED=${settings.WS_MAX_BUFFERED}.`,
      figures: {
        "connection closed by the server": true,
        "heap after GC before / after (MB)": `${mb(baseline.memory.heapUsed)} / ${mb(settled.memory.heapUsed)}`,
      },
    });
  }, 60_000);

  it("lets one address hold only a few anonymous sockets, so a flood cannot lock others out", async () => {
    const attacker = "127.0.0.70";
    const attempts = await Promise.all(Array.from({ length: 30 }, () => socketFrom(attacker)));
    const admitted = attempts.filter((a) => a.socket);
    const refused = attempts.filter((a) => a.status === 429);
    expect(admitted.length).toBe(settings.MAX_UNAUTHENTICATED_PER_ADDRESS);
    expect(refused.length).toBe(30 - settings.MAX_UNAUTHENTICATED_PER_ADDRESS);
    expect(refused[0]?.body).toBe("Too many connections from this address that have not signed in");
    // Someone else, from another address, still gets in and works.
    const { socket: welcome } = await socketFrom("127.0.0.71", "?connectionParams=1");
    if (!welcome) throw new Error("a signed-in person was refused while the flood held its sockets");
    welcome.send(JSON.stringify({ method: "connectionParams", data: { token: anna.token } }));
    const me = nextMessage(welcome, (m) => m.id === 1);
    welcome.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.me" } }));
    expect(((await me).result as { data: { id: string } }).data.id).toBe(anna.id);
    welcome.close();

    // An anonymous socket gets small frames and few calls in all.
    const squatter = admitted[0]?.socket as WebSocket;
    const tooBig = nextMessage(squatter, (m) => m.id === null);
    const health = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ id: from + i, method: "query", params: { path: "health" } }));
    squatter.send(JSON.stringify(health(11, 100)));
    expect(((await tooBig).error as { message: string }).message).toBe("At most 10 calls per frame");
    const closeCode = closed(squatter);
    squatter.send(JSON.stringify(health(10, 200)));
    squatter.send(JSON.stringify(health(10, 300)));
    squatter.send(JSON.stringify(health(10, 400)));
    expect(await closeCode).toBe(4401);

    for (const a of admitted) a.socket?.close();
    // Places come back when the sockets go: the address may connect again.
    await diagnosticsWhen(instance, (d) => d.connections === 0, 5_000);
    const again = await socketFrom(attacker);
    expect(again.socket).toBeDefined();
    again.socket?.close();
    reportCase({
      id: "security.anonymous-flood",
      section,
      title: "Anonymous sockets from one address",
      method: `30 sockets opened at once from one address without a session or token; MAX_UNAUTHENTICATED_PER_ADDRESS=${settings.MAX_UNAUTHENTICATED_PER_ADDRESS}, MAX_CONNECTIONS=${settings.MAX_CONNECTIONS}. Then calls on one of them.`,
      figures: {
        admitted: admitted.length,
        "refused (HTTP 429)": refused.length,
        "another address signed in": true,
        "11 calls in one frame": "refused",
        "more than 20 calls in all": "closed 4401",
      },
    });
  });
});
