/**
 * Security, against one real production instance: Cross-Site WebSocket Hijacking with a real
 * next-auth session cookie, tokens smuggled through the URL, forged and mis-signed tokens, brute-force
 * throttling of both sign-in doors, and errors (answers and logs) that must not carry stacks, paths,
 * secrets, passwords or tokens.
 */
import { createHmac, createSign, generateKeyPairSync, hkdfSync, randomUUID } from "node:crypto";
import { request } from "node:http";
import { issueAccessToken } from "@plauder/auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { type Account, newAccount } from "../support/clients";
import { startSingle, type TestSingle } from "../support/cluster";
import type { Instance } from "../support/processes";
import { handshake, socketUrl } from "../support/raw-socket";
import { reportCase } from "./support/report";
import { postCredentials } from "./support/session-cookie";

const section = "Security";
const authSecret = `${randomUUID()}${randomUUID()}`;
const loginMaxAttempts = 3;
// Long enough that a hard-coded Retry-After (say 60 s) cannot pass for the real remaining window.
const loginWindowSeconds = 600;

let solo: TestSingle;
let instance: Instance;
/** Every token and password this file hands out, so the hygiene checks can look for all of them. */
const secrets = new Set<string>();

beforeAll(async () => {
  solo = await startSingle("security", {
    env: {
      AUTH_SECRET: authSecret,
      LOGIN_MAX_ATTEMPTS: String(loginMaxAttempts),
      LOGIN_WINDOW_SECONDS: String(loginWindowSeconds),
      // Info level, so the log hygiene check reads everything the server says about connections too.
      LOG_LEVEL: "info",
    },
  });
  instance = solo.instance;
  // The test signs an expired token with the instance's own secret and issuer.
  process.env.AUTH_SECRET = authSecret;
});

afterAll(() => solo?.stop());

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const ownOrigin = () => `http://localhost:${instance.port}`;
const wsUrl = (query = "") => `${socketUrl(instance.url)}${query}`;

async function account(name: string): Promise<Account> {
  const created = await newAccount(instance.url, name);
  secrets.add(created.token);
  secrets.add(created.password);
  return created;
}

type Answer = { id?: unknown; result?: { data?: unknown }; error?: { message: string; data?: { code?: string } } };

/** A socket whose every frame is kept (for hygiene checks) and whose calls are answered by id. */
class Conversation {
  readonly frames: string[] = [];
  private nextId = 0;

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => this.frames.push(data.toString()));
  }

  static async open(query = "", headers: Record<string, string> = {}): Promise<Conversation> {
    const { socket, status } = await handshake(wsUrl(query), headers);
    if (!socket) throw new Error(`handshake refused with HTTP ${status}`);
    return new Conversation(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Sends one call and resolves with the answer that carries its id (for subscriptions: the first one after "started"). */
  call(method: string, path: string, input?: unknown, timeoutMs = 5_000): Promise<Answer> {
    const id = `c${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off("message", onMessage);
        reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (data: WebSocket.RawData) => {
        const answer = parse(data.toString());
        if (!answer || answer.id !== id) return;
        if ((answer.result as { type?: string } | undefined)?.type === "started") return;
        clearTimeout(timer);
        this.socket.off("message", onMessage);
        resolve(answer);
      };
      this.socket.on("message", onMessage);
      this.send({ id, method, params: { path, input } });
    });
  }

  /** Waits for the next frame that is not a heartbeat. */
  nextFrame(timeoutMs = 5_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame")), timeoutMs);
      const onMessage = (data: WebSocket.RawData) => {
        const text = data.toString();
        if (text === "PING" || text === "PONG") return;
        clearTimeout(timer);
        this.socket.off("message", onMessage);
        resolve(text);
      };
      this.socket.on("message", onMessage);
    });
  }

  close(): void {
    this.socket.close();
  }
}

function parse(text: string): Answer | null {
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return null;
  }
}

const codeOf = (answer: Answer) => answer.error?.data?.code;
const userIdOf = (answer: Answer) => (answer.result?.data as { id?: string } | undefined)?.id;

/** Who a token makes a connection: opens `?connectionParams=1`, presents it, asks auth.me. */
async function whoAmIWithToken(token: string): Promise<{ answer: Answer; frames: string[] }> {
  const conversation = await Conversation.open("?connectionParams=1");
  conversation.send({ method: "connectionParams", data: { token } });
  const answer = await conversation.call("query", "auth.me");
  conversation.close();
  return { answer, frames: conversation.frames };
}

/** Signs in the way the app's login page does, over plain HTTP (see support/session-cookie.ts). */
const browserSignIn = (email: string, password: string, options: { jsClient?: boolean } = {}) =>
  postCredentials(instance.url, email, password, options);

type LoginAnswer = {
  status: number;
  retryAfter: string | null;
  body: { token?: string; retryAfter?: number; error?: string };
};

/** POST /api/v1/auth/login, optionally from another loopback address (127.0.0.2) or with extra headers. */
function apiLogin(
  email: string,
  password: string,
  options: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<LoginAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${instance.url}/api/v1/auth/login`,
      {
        method: "POST",
        agent: false,
        localAddress: options.localAddress,
        headers: { "content-type": "application/json", ...options.headers },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers["retry-after"] ?? null,
            body: JSON.parse(text),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ email, password }));
  });
}

/**
 * POSTs `megabytes` of body in 64 KiB chunks without Content-Length (chunked transfer), on a
 * connection of its own, as fast as the server takes them. Resolves with the status and body of the
 * answer, and how much had been sent when it came.
 */
function postChunked(path: string, megabytes: number): Promise<{ status: number; body: string; sentBytes: number }> {
  const chunk = Buffer.alloc(64 * 1024, "x");
  const total = megabytes * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    let answered = false;
    const req = request(
      `${instance.url}${path}`,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        answered = true;
        const sentWhenAnswered = sentBytes;
        let body = "";
        res.on("data", (data: Buffer) => {
          body += data.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sentBytes: sentWhenAnswered }));
      },
    );
    // The server may close its side while more is on the way; that is its right once it answered.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && sentBytes < total) {
        sentBytes += chunk.byteLength;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

// JWTs built by hand, so the test controls every byte of header, claims and signature.
const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

function compactJwt(header: object, claims: object, sign: (signingInput: string) => string): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${sign(signingInput)}`;
}

const hmac = (hash: "sha256" | "sha512", key: Uint8Array) => (input: string) =>
  createHmac(hash, key).update(input).digest("base64url");

/** The access-token key as the server derives it from AUTH_SECRET (packages/auth/src/access-token.ts). */
const accessTokenKey = (secret: string) =>
  new Uint8Array(hkdfSync("sha256", secret, "plauder", "plauder access token v1", 32));

function claimsFor(person: Account, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    email: person.email,
    name: person.name,
    sub: person.id,
    iss: "plauder",
    aud: "plauder-api",
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
    ...overrides,
  };
}

type Forbidden = { label: string; test: (text: string) => boolean };
const containing = (label: string, value: string): Forbidden => ({ label, test: (text) => text.includes(value) });

/** What neither an answer nor a log line may contain: the secret, password hashes, passwords, tokens. */
function secretsForbidden(extra: Record<string, string> = {}): Forbidden[] {
  return [
    containing("AUTH_SECRET", authSecret),
    containing("a password hash", "$argon2"),
    ...[...secrets].map((secret) => containing(`a password or token (${secret.slice(0, 12)}…)`, secret)),
    ...Object.entries(extra).map(([label, value]) => containing(label, value)),
  ];
}

/** What no answer may contain on top of that: how the server is built (stacks, paths, SQL). */
function answersForbidden(extra: Record<string, string> = {}): Forbidden[] {
  return [
    { label: "a stack trace", test: (text) => /stack/i.test(text) || /\n\s+at .+:\d+:\d+/.test(text) },
    containing("a /work path", "/work"),
    containing("node_modules", "node_modules"),
    containing("a .ts: source position", ".ts:"),
    containing("SQL", "Failed query"),
    ...secretsForbidden(extra),
  ];
}

function leaksIn(texts: { label: string; text: string }[], forbidden = answersForbidden()): string[] {
  return texts.flatMap(({ label, text }) => forbidden.filter((f) => f.test(text)).map((f) => `${label}: ${f.label}`));
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

describe("security", () => {
  it("accepts the session cookie only with the app's own Origin (Cross-Site WebSocket Hijacking)", async () => {
    const person = await account("Cookie");
    const signIn = await browserSignIn(person.email, person.password);
    expect(signIn.status).toBe(302);
    expect(signIn.sessionCookie).not.toBeNull();
    const cookie = signIn.sessionCookie as string;
    secrets.add(cookie.split("=").slice(1).join("="));

    // The app's own page: authenticated by the cookie alone.
    const own = await Conversation.open("", { cookie, origin: ownOrigin() });
    expect(userIdOf(await own.call("query", "auth.me"))).toBe(person.id);
    own.close();

    // A page on any other origin gets 403 before the upgrade, cookie or not.
    const port = instance.port;
    const foreignOrigins = [
      "https://evil.example",
      "null",
      `http://localhost:${port}.evil.example`,
      `http://evil.localhost:${port}`,
      `https://localhost:${port}`,
      `http://localhost:${port + 1}`,
      `http://127.0.0.1:${port}`,
    ];
    for (const origin of foreignOrigins) {
      const refused = await handshake(wsUrl(), { cookie, origin });
      refused.socket?.close();
      expect(refused.status, origin).toBe(403);
    }

    // Without Origin: docs/contract.md allows it (non-browser clients; browsers always send Origin on
    // a WebSocket handshake, so no foreign page can produce this). The upgrade must succeed.
    const noOrigin = await Conversation.open("", { cookie });
    const health = await noOrigin.call("query", "health");
    expect(health.result?.data).toMatchObject({ instanceId: "security" });
    const noOriginMe = await noOrigin.call("query", "auth.me");
    noOrigin.close();

    reportCase({
      id: "security.cswsh",
      section,
      title: "Cross-Site WebSocket Hijacking",
      method:
        "A real next-auth session cookie (GET /api/auth/csrf, POST /api/auth/callback/credentials) is presented at the WebSocket upgrade with the app's own Origin, with seven foreign Origins (another site, `null`, look-alike hosts, another scheme, port or address), and with no Origin.",
      figures: {
        ownOrigin: "authenticated",
        foreignOriginsTried: foreignOrigins.length,
        foreignOriginsRefused403: foreignOrigins.length,
        noOrigin: `upgrade allowed; cookie ${userIdOf(noOriginMe) === person.id ? "honoured" : "ignored"}`,
      },
    });
  });

  it("never takes a token from the URL", async () => {
    const person = await account("Query");
    const token = person.token;
    const queries = [
      `?token=${token}`,
      `?access_token=${token}`,
      `?authorization=${encodeURIComponent(`Bearer ${token}`)}`,
      `?connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`,
      `?connectionParams=1&token=${token}`,
    ];
    const frames: { label: string; text: string }[] = [];
    for (const query of queries) {
      const conversation = await Conversation.open(query);
      // On ?connectionParams=1 the first message must be connectionParams; send an empty one.
      if (query.startsWith("?connectionParams=1")) conversation.send({ method: "connectionParams", data: null });
      const me = await conversation.call("query", "auth.me");
      expect(codeOf(me), query).toBe("UNAUTHORIZED");
      conversation.close();
      frames.push(...conversation.frames.map((text) => ({ label: `ws ${query.slice(0, 20)}`, text })));
    }
    const httpQueries = [
      `?token=${token}`,
      `?access_token=${token}`,
      `?connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`,
    ];
    for (const query of httpQueries) {
      const response = await fetch(`${instance.url}/api/trpc/auth.me${query}`);
      expect(response.status, query).toBe(401);
      frames.push({ label: `http ${query.slice(0, 20)}`, text: await response.text() });
    }
    expect(leaksIn(frames)).toEqual([]);
    reportCase({
      id: "security.url-tokens",
      section,
      title: "Tokens in the URL are ignored",
      method:
        "A valid token in the WebSocket URL (`?token=`, `?access_token=`, `?authorization=`, `?connectionParams={json}`, `?connectionParams=1&token=`) and in HTTP tRPC query strings; each connection or request then asks auth.me.",
      figures: { webSocketUrlsTried: queries.length, httpUrlsTried: httpQueries.length, authenticated: 0 },
    });
  });

  it("refuses forged, expired, unsigned and mis-signed tokens without echoing them", async () => {
    const person = await account("Forger");
    const other = await account("Victim");
    const key = accessTokenKey(authSecret);
    const header = { alg: "HS256", typ: "JWT" };

    // Control: a token the test signs exactly as the server does is accepted. Without this, every
    // refusal below could be the forger's own mistake rather than the server's check.
    const control = compactJwt(header, claimsFor(person), hmac("sha256", key));
    expect(userIdOf((await whoAmIWithToken(control)).answer)).toBe(person.id);

    const [realHeader, , realSignature] = person.token.split(".");
    const otherClaims = base64url(JSON.stringify(claimsFor(other)));
    const flipped = (realSignature as string).replace(
      /^(.{10})(.)/,
      (_, head: string, c: string) => `${head}${c === "A" ? "B" : "A"}`,
    );
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaSign = (input: string) => createSign("RSA-SHA256").update(input).sign(privateKey).toString("base64url");
    const { token: expired } = await issueAccessToken(
      { id: person.id, email: person.email, name: person.name },
      Date.now() - 3_600_000,
    );
    const sessionCookieValue = (await browserSignIn(person.email, person.password)).sessionCookie
      ?.split("=")
      .slice(1)
      .join("=");
    expect(sessionCookieValue).toBeTruthy();

    const forgeries: Record<string, string> = {
      "another user's claims under a real signature": `${realHeader}.${otherClaims}.${realSignature}`,
      "one signature character changed": `${realHeader}.${person.token.split(".")[1]}.${flipped}`,
      expired,
      "alg: none, no signature": compactJwt({ alg: "none", typ: "JWT" }, claimsFor(other), () => ""),
      "alg: none, signature kept": `${base64url(JSON.stringify({ alg: "none" }))}.${otherClaims}.${realSignature}`,
      "HS512 with the right key": compactJwt({ alg: "HS512", typ: "JWT" }, claimsFor(other), hmac("sha512", key)),
      "RS256 header over an HMAC signature": compactJwt(
        { alg: "RS256", typ: "JWT" },
        claimsFor(other),
        hmac("sha256", key),
      ),
      "RS256 with the forger's embedded key": compactJwt(
        { alg: "RS256", typ: "JWT", jwk: publicKey.export({ format: "jwk" }) },
        claimsFor(other),
        rsaSign,
      ),
      "signed with another secret": compactJwt(
        header,
        claimsFor(other),
        hmac("sha256", accessTokenKey(`${randomUUID()}${randomUUID()}`)),
      ),
      "the right key, another audience": compactJwt(
        header,
        claimsFor(other, { aud: "someone-else" }),
        hmac("sha256", key),
      ),
      "the right key, another issuer": compactJwt(header, claimsFor(other, { iss: "evil" }), hmac("sha256", key)),
      "the session cookie's value as a token": sessionCookieValue as string,
    };
    for (const token of Object.values(forgeries)) secrets.add(token);

    const answers: { label: string; text: string }[] = [];
    for (const [label, token] of Object.entries(forgeries)) {
      const { answer, frames } = await whoAmIWithToken(token);
      expect(codeOf(answer), label).toBe("UNAUTHORIZED");
      answers.push(...frames.map((text) => ({ label: `ws ${label}`, text })));
      const http = await fetch(`${instance.url}/api/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } });
      expect(http.status, label).toBe(401);
      answers.push({ label: `http ${label}`, text: await http.text() });
    }
    // And the other way round: an access token presented as the session cookie is no session.
    const tokenAsCookie = await Conversation.open("", {
      cookie: `authjs.session-token=${person.token}`,
      origin: ownOrigin(),
    });
    expect(codeOf(await tokenAsCookie.call("query", "auth.me"))).toBe("UNAUTHORIZED");
    tokenAsCookie.close();
    answers.push(...tokenAsCookie.frames.map((text) => ({ label: "ws token as cookie", text })));

    expect(leaksIn(answers)).toEqual([]);
    reportCase({
      id: "security.forged-tokens",
      section,
      title: "Forged, expired and mis-signed tokens",
      method:
        "A control token signed like the server's is accepted; then another user's claims under a real signature, a changed signature, an expired token, `alg: none` (with and without a signature), HS512 and RS256 headers with the right key, RS256 with an embedded attacker key, another secret, another audience and issuer, and the session cookie's value, each over connectionParams and as `Authorization: Bearer`; an access token as the session cookie.",
      figures: {
        forgeriesTried: Object.keys(forgeries).length + 1,
        refusedUnauthorized: Object.keys(forgeries).length + 1,
        answersEchoingTheToken: 0,
      },
    });
  });

  it("throttles wrong passwords on POST /api/v1/auth/login per address and email", async () => {
    const victim = await account("Brute");
    const neighbour = await account("Neighbour");
    for (let attempt = 1; attempt <= loginMaxAttempts; attempt++) {
      expect((await apiLogin(victim.email, `wrong password ${attempt}`)).status).toBe(401);
    }
    const throttled = await apiLogin(victim.email, "wrong password again");
    expect(throttled.status).toBe(429);
    expect(throttled.body.retryAfter).toBeGreaterThan(0);
    expect(throttled.body.retryAfter).toBeLessThanOrEqual(loginWindowSeconds);
    expect(throttled.retryAfter).toBe(String(throttled.body.retryAfter));

    // The right password is refused too while throttled: guessing it now gains nothing.
    const correct = await apiLogin(victim.email, victim.password);
    expect(correct.status).toBe(429);
    expect(correct.body.token).toBeUndefined();
    // A forged X-Forwarded-For does not buy a fresh budget (TRUST_PROXY is off).
    const spoofed = await apiLogin(victim.email, victim.password, { headers: { "x-forwarded-for": "203.0.113.9" } });
    expect(spoofed.status).toBe(429);

    // Another account from the same address, and the same account from another address, are not affected.
    const neighbourLogin = await apiLogin(neighbour.email, neighbour.password);
    expect(neighbourLogin.status).toBe(200);
    const elsewhere = await apiLogin(victim.email, victim.password, { localAddress: "127.0.0.2" });
    expect(elsewhere.status).toBe(200);
    for (const answer of [neighbourLogin, elsewhere]) if (answer.body.token) secrets.add(answer.body.token);

    reportCase({
      id: "security.login-throttle-api",
      section,
      title: "Brute force on the token endpoint",
      method: `LOGIN_MAX_ATTEMPTS=${loginMaxAttempts}, LOGIN_WINDOW_SECONDS=${loginWindowSeconds}. Wrong passwords for one account from 127.0.0.1, then the right one (also with a forged X-Forwarded-For); another account from the same address; the same account from 127.0.0.2.`,
      figures: {
        wrongPasswordsBeforeThrottle: loginMaxAttempts,
        throttledStatus: 429,
        retryAfterSeconds: throttled.body.retryAfter ?? 0,
        correctPasswordWhileThrottled: correct.status,
        forgedForwardedFor: spoofed.status,
        otherAccountSameAddress: neighbourLogin.status,
        sameAccountOtherAddress: elsewhere.status,
      },
    });
  });

  it("throttles wrong passwords on the browser sign-in, sharing the budget with the token endpoint", async () => {
    const victim = await account("Browser");
    for (let attempt = 1; attempt <= loginMaxAttempts; attempt++) {
      const refused = await browserSignIn(victim.email, `wrong password ${attempt}`, { jsClient: true });
      expect(refused.status).toBe(200);
      expect(refused.body).toContain("code=credentials");
      expect(refused.sessionCookie).toBeNull();
    }
    const throttled = await browserSignIn(victim.email, "wrong password again", { jsClient: true });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toContain("code=rate_limited");
    expect(Number(throttled.retryAfter)).toBeGreaterThan(0);

    // The right password is refused while throttled, whichever way the form is posted.
    const correct = await browserSignIn(victim.email, victim.password, { jsClient: true });
    expect(correct.status).toBe(429);
    expect(correct.sessionCookie).toBeNull();
    const plainForm = await browserSignIn(victim.email, victim.password);
    expect(plainForm.sessionCookie).toBeNull();
    // Without JavaScript, next-auth answers with a redirect to the login page naming the reason.
    expect(
      plainForm.status === 429 || plainForm.location?.includes("code=rate_limited"),
      `${plainForm.status} ${plainForm.location}`,
    ).toBe(true);

    // One budget for both doors: the token endpoint refuses this address and email too.
    const api = await apiLogin(victim.email, victim.password);
    expect(api.status).toBe(429);

    // Retry-After tells the truth: the window the limiter actually holds (the token endpoint's
    // figure for the same address and email), not a fixed guess.
    expect(
      Math.abs(Number(correct.retryAfter) - (api.body.retryAfter ?? 0)),
      `browser Retry-After ${correct.retryAfter} s, limiter ${api.body.retryAfter} s`,
    ).toBeLessThanOrEqual(2);

    reportCase({
      id: "security.login-throttle-browser",
      section,
      title: "Brute force on the browser sign-in",
      method: `Wrong passwords through POST /api/auth/callback/credentials (as next-auth's signIn() posts it) for one account, then the right one (JSON and plain form); then the token endpoint for the same account. LOGIN_MAX_ATTEMPTS=${loginMaxAttempts}.`,
      figures: {
        wrongPasswordsBeforeThrottle: loginMaxAttempts,
        throttledStatus: throttled.status,
        retryAfterSeconds: Number(correct.retryAfter),
        correctPasswordWhileThrottled: correct.status,
        plainFormWhileThrottled: plainForm.status,
        tokenEndpointSharesBudget: api.status === 429,
      },
    });
  });

  it("answers errors without stacks, paths, secrets, passwords or tokens", async () => {
    const person = await account("Hygiene");
    const longPassword = `P-${randomUUID()}-${"p".repeat(300)}`;
    secrets.add(longPassword);
    const bearer = { authorization: `Bearer ${person.token}` };
    const json = { "content-type": "application/json" };
    const responses: { label: string; text: string }[] = [];
    /** Sends one HTTP request, checks its status and keeps its body for the leak search. */
    const record = async (label: string, path: string, init: RequestInit, expectedStatus: number) => {
      // Subscriptions over HTTP stream (SSE); an error ends the stream, the signal guards the rest.
      const answer = await fetch(`${instance.url}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
      const text = await answer.text().catch(() => "");
      expect(answer.status, label).toBe(expectedStatus);
      responses.push({ label, text });
      return text;
    };

    // HTTP tRPC and the login endpoint.
    const post = (body: string, headers: Record<string, string> = {}): RequestInit => ({
      method: "POST",
      headers: { ...json, ...headers },
      body,
    });
    const nulAccount = () =>
      JSON.stringify({
        email: `nul-${randomUUID()}@example.com`,
        password: longPassword.slice(0, 40),
        name: "a\u0000b",
      });
    await record(
      "register: invalid input",
      "/api/trpc/auth.register",
      post(JSON.stringify({ email: "not-an-email", password: longPassword, name: "" })),
      400,
    );
    // Postgres cannot store NUL; validation says so before the database is asked.
    const nul = await record("register: a NUL byte in the name", "/api/trpc/auth.register", post(nulAccount()), 400);
    expect(
      (JSON.parse(nul) as { error: { data: { fieldErrors: { name: string[] } } } }).error.data.fieldErrors.name,
    ).toEqual(["Name must not contain NUL characters"]);
    await record(
      "register: malformed JSON",
      "/api/trpc/auth.register",
      post(`{"password":"${longPassword.slice(0, 40)}"`),
      400,
    );
    await record("register: 2 MiB body", "/api/trpc/auth.register", post("x".repeat(2 * 1024 * 1024)), 413);
    // The same without Content-Length: chunked, so only counting the bytes as they come can refuse it.
    for (const [label, path] of [
      ["register: 64 MiB chunked body, no Content-Length", "/api/trpc/auth.register"],
      ["browser sign-in: 64 MiB chunked body", "/api/auth/callback/credentials"],
    ] as const) {
      const answer = await postChunked(path, 64);
      expect(answer.status, label).toBe(413);
      // Refused once the limit was passed, not after taking all of it (socket buffers hold a few MiB).
      expect(answer.sentBytes, label).toBeLessThan(16 * 1024 * 1024);
      responses.push({ label, text: answer.body });
    }
    await record("unknown procedure", "/api/trpc/nope.nope", {}, 404);
    await record("unsupported HTTP method", "/api/trpc/health", { method: "DELETE" }, 405);
    await record(
      "auth.me with a forged bearer",
      "/api/trpc/auth.me",
      { headers: { authorization: `Bearer ${person.token}x` } },
      401,
    );
    await record(
      "publish: oversized text",
      "/api/trpc/realtime.publish",
      post(JSON.stringify({ text: "x".repeat(5000) }), bearer),
      400,
    );
    const echoInput = encodeURIComponent(JSON.stringify({ text: "y".repeat(5000) }));
    // Subscriptions are the WebSocket's: over HTTP they are refused before the input is read.
    await record(
      "echo over HTTP: oversized text",
      `/api/trpc/realtime.echo?input=${echoInput}`,
      { headers: bearer },
      405,
    );
    await record("batch with an unknown path", "/api/trpc/health,nope,auth.me?batch=1", {}, 207);
    const login = "/api/v1/auth/login";
    await record(
      "login: wrong password",
      login,
      post(JSON.stringify({ email: person.email, password: longPassword.slice(0, 200) })),
      401,
    );
    await record(
      "login: malformed JSON",
      login,
      post(`{"email":"${person.email}","password":"${person.password}"`),
      400,
    );
    await record(
      "login: password too long",
      login,
      post(JSON.stringify({ email: person.email, password: longPassword })),
      400,
    );
    await record(
      "login: 20 KB body",
      login,
      post(JSON.stringify({ email: person.email, password: "z".repeat(20_000) })),
      413,
    );
    const browser = await browserSignIn(person.email, longPassword.slice(0, 200), { jsClient: true });
    responses.push({ label: "browser sign-in: wrong password", text: browser.body });

    // WebSocket, signed in and anonymous.
    const signedIn = await Conversation.open("?connectionParams=1");
    signedIn.send({ method: "connectionParams", data: { token: person.token } });
    const wsNul = await signedIn.call("mutation", "auth.register", JSON.parse(nulAccount()));
    expect(codeOf(wsNul)).toBe("BAD_REQUEST");
    expect(codeOf(await signedIn.call("subscription", "realtime.echo", { text: "x".repeat(5000) }))).toBe(
      "BAD_REQUEST",
    );
    expect(codeOf(await signedIn.call("subscription", "realtime.echo", { text: 5 }))).toBe("BAD_REQUEST");
    expect(codeOf(await signedIn.call("subscription", "realtime.broadcast", { lastEventId: person.token }))).toBe(
      "BAD_REQUEST",
    );
    expect(
      codeOf(await signedIn.call("mutation", "auth.register", { email: "nope", password: longPassword, name: "" })),
    ).toBe("BAD_REQUEST");
    expect(codeOf(await signedIn.call("query", "nope.nope"))).toBe("NOT_FOUND");
    signedIn.send(`{"id":"broken","method":"query","params":{"path":"health"`);
    await signedIn.nextFrame();
    signedIn.close();
    const anonymous = await Conversation.open("?connectionParams=1");
    anonymous.send({ method: "connectionParams", data: { token: `${person.token}x` } });
    expect(codeOf(await anonymous.call("query", "auth.me"))).toBe("UNAUTHORIZED");
    anonymous.close();
    responses.push(...signedIn.frames.map((text) => ({ label: "ws signed in", text })));
    responses.push(...anonymous.frames.map((text) => ({ label: "ws anonymous", text })));

    // The long password's unique part, and the token's signature, on their own.
    const extra = {
      "the password's unique part": longPassword.slice(2, 38),
      "a token signature": person.token.split(".")[2] as string,
    };
    expect(leaksIn(responses, answersForbidden(extra))).toEqual([]);
    reportCase({
      id: "security.error-hygiene",
      section,
      title: "Error answers carry no stacks or secrets",
      method:
        "Validation errors, internal errors (a NUL byte the database refuses), unknown procedures, malformed and oversized bodies, wrong passwords and forged tokens over HTTP tRPC, the login endpoints and the WebSocket; every answer is searched for `stack`, `/work`, `node_modules`, `.ts:`, AUTH_SECRET, password hashes, SQL, passwords and tokens.",
      figures: { answersChecked: responses.length, leaks: 0 },
    });
  });

  it("logs failures without password hashes, message text, passwords or tokens", async () => {
    const person = await account("Logged");
    const marker = `private-message-${randomUUID()}`;
    const password = `Pw-${randomUUID()}`;
    secrets.add(password);
    // Input the database cannot store (NUL bytes) in a new account's name and in a broadcast: refused
    // by validation now; the internal-failure path of the log is covered by postgres-restart.test.ts.
    const registered = await fetch(`${instance.url}/api/trpc/auth.register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `log-${randomUUID()}@example.com`, password, name: `${marker}\u0000` }),
    });
    expect(registered.status).toBe(400);
    const published = await fetch(`${instance.url}/api/trpc/realtime.publish`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${person.token}` },
      body: JSON.stringify({ text: `${marker}\u0000` }),
    });
    expect(published.status).toBeGreaterThanOrEqual(400);
    // Everyday failures: wrong passwords, a forged token.
    expect((await apiLogin(person.email, password)).status).toBe(401);
    expect(codeOf((await whoAmIWithToken(`${person.token.slice(0, -3)}abc`)).answer)).toBe("UNAUTHORIZED");
    await new Promise((r) => setTimeout(r, 300)); // the log lines reach the pipe

    const output = instance.output();
    const leaks = leaksIn([{ label: "server log", text: output }], secretsForbidden({ "message text": marker }));
    const offending = output
      .split("\n")
      .filter((line) => line.includes("$argon2") || line.includes(marker))
      .map((line) => line.slice(0, 400));
    expect(leaks, offending.join("\n")).toEqual([]);
    reportCase({
      id: "security.log-hygiene",
      section,
      title: "Logs carry no secrets",
      method:
        "With LOG_LEVEL=info: NUL bytes in a registration and a broadcast, a wrong password and a forged token; the whole server output is searched for password hashes, message text, passwords, tokens and AUTH_SECRET. (Failed database queries during an outage are checked the same way in the Postgres restart case.)",
      figures: { logBytesChecked: output.length, leaks: 0 },
    });
  });
});
