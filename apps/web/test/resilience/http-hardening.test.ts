/**
 * HTTP hardening, against real production instances: security headers on every kind of answer,
 * `Connection: close` after a refused body (and a keep-alive client that survives it), the metrics
 * endpoint behind its token, and a public health check that does not turn every call into a
 * database query.
 */
import { randomBytes } from "node:crypto";
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { createTestPostgres } from "@plauder/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../support/clients";
import { type Instance, startInstance, uniquePrefix } from "../support/processes";

const metricsToken = randomBytes(24).toString("hex");

/**
 * Sits between the instance and Postgres and counts the health probe's `select 1` in what the
 * instance sends: an observation from outside the process of how many pings it really ran.
 */
type Wiretap = { port: number; pings(): number; close(): Promise<void> };

async function startWiretap(target: URL): Promise<Wiretap> {
  const host = target.hostname;
  const targetPort = Number(target.port || 5432);
  const needle = "select 1";
  let pings = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const backend = createConnection(targetPort, host);
    sockets.add(client).add(backend);
    // Keeps the end of the previous chunk, so a query split across two chunks is still seen once.
    let tail = "";
    client.on("data", (chunk: Buffer) => {
      const text = tail + chunk.toString("latin1");
      pings += text.split(needle).length - 1;
      tail = text.slice(-(needle.length - 1));
      backend.write(chunk);
    });
    backend.pipe(client);
    const end = () => {
      client.destroy();
      backend.destroy();
      sockets.delete(client);
      sockets.delete(backend);
    };
    client.on("error", end).on("close", end);
    backend.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    pings: () => pings,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let instance: Instance;
let wiretap: Wiretap;
let databaseUrl: string;
let dropDatabase: () => Promise<void>;

beforeAll(async () => {
  const database = await createTestPostgres();
  dropDatabase = database.drop;
  databaseUrl = database.url;
  wiretap = await startWiretap(new URL(database.url));
  const url = new URL(database.url);
  url.hostname = "127.0.0.1";
  url.port = String(wiretap.port);
  instance = await startInstance({
    id: "http-hardening",
    env: {
      DATABASE_URL: url.toString(),
      REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: uniquePrefix(),
      AUTH_SECRET: randomBytes(32).toString("hex"),
      METRICS_TOKEN: metricsToken,
    },
  });
});

afterAll(async () => {
  await instance?.stop();
  await wiretap?.close();
  await dropDatabase?.();
});

type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

/** One request with node:http, so the headers are exactly what came over the wire. */
function send(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${instance.url}${path}`,
      { method: options.method ?? "GET", headers: options.headers, agent: options.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Over the 1 MiB the tRPC route accepts: refused with 413 before the body is read. */
const oversizedBody = Buffer.alloc(1024 * 1024 + 1024, "x");
const oversizedPost = (agent?: Agent) =>
  send("/api/trpc/auth.register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: oversizedBody,
    agent,
  });

function expectBaselineHeaders(answer: Answer, what: string): void {
  const h = answer.headers;
  expect(h["x-frame-options"], what).toBe("DENY");
  expect(h["x-content-type-options"], what).toBe("nosniff");
  expect(h["referrer-policy"], what).toBe("strict-origin-when-cross-origin");
  expect(h["cross-origin-opener-policy"], what).toBe("same-origin");
  expect(h["permissions-policy"], what).toMatch(/camera=\(\)/);
  expect(h["permissions-policy"], what).toMatch(/geolocation=\(\)/);
  expect(h["permissions-policy"], what).toMatch(/microphone=\(\)/);
  // APP_URL is http here: a Strict-Transport-Security header would pin a scheme the site does not serve.
  expect(h["strict-transport-security"], what).toBeUndefined();
  const csp = String(h["content-security-policy"] ?? "");
  for (const directive of [
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "connect-src 'self'",
  ]) {
    expect(csp, `${what}: ${directive}`).toContain(directive);
  }
  expect(csp, what).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/]+={0,2}' 'strict-dynamic'/);
  expect(csp, what).not.toContain("unsafe-eval");
}

describe("security headers", () => {
  it("are on a page, whose scripts all carry the policy's fresh nonce", async () => {
    const first = await send("/login");
    const second = await send("/login");
    expect(first.status).toBe(200);
    expectBaselineHeaders(first, "page");
    const nonceOf = (answer: Answer) =>
      /'nonce-([^']+)'/.exec(String(answer.headers["content-security-policy"]))?.[1] ?? "";
    const nonce = nonceOf(first);
    expect(nonce.length).toBeGreaterThanOrEqual(22);
    expect(nonceOf(second)).not.toBe(nonce);
    const scripts = [...first.body.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
  });

  it("are on an API answer, a 404 and a 413", async () => {
    const health = await send("/api/health");
    expect(health.status).toBe(200);
    expectBaselineHeaders(health, "API answer");
    const missing = await send("/no-such-page");
    expect(missing.status).toBe(404);
    expectBaselineHeaders(missing, "404");
    const refused = await oversizedPost();
    expect(refused.status).toBe(413);
    expectBaselineHeaders(refused, "413");
  });
});

describe("next-auth's own callbackUrl", () => {
  it("never sends a signed-in browser to another origin", async () => {
    const person = await newAccount(instance.url, "Callback");
    const appOrigin = `http://localhost:${instance.port}`;
    const sent: string[] = [];
    for (const callbackUrl of [
      "https://evil.example/",
      "//evil.example/",
      "/\t/evil.example",
      "/\\evil.example",
      "https:evil.example",
      `${appOrigin}.evil.example/`,
    ]) {
      const csrf = await fetch(`${instance.url}/api/auth/csrf`);
      const { csrfToken } = (await csrf.json()) as { csrfToken: string };
      const cookie = csrf.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; ");
      // The header next-auth's signIn() sends: the destination comes back as JSON instead of a redirect.
      const answer = await fetch(`${instance.url}/api/auth/callback/credentials`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-auth-return-redirect": "1", cookie },
        body: new URLSearchParams({ email: person.email, password: person.password, csrfToken, callbackUrl }),
      });
      const { url } = (await answer.json()) as { url: string };
      sent.push(url);
      expect(new URL(url.replace(/[\t\n\r]/g, "")).origin, `${JSON.stringify(callbackUrl)} → ${url}`).toBe(appOrigin);
    }
    expect(sent).toHaveLength(6);
  });
});

describe("a refused body", () => {
  it("is answered with Connection: close, and a keep-alive client's next request still works (40 rounds)", async () => {
    // One socket at most: the GET after each 413 goes over the connection the POST used, if any is left.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const failures: string[] = [];
    const connectionHeaders = new Set<string>();
    try {
      for (let round = 0; round < 40; round++) {
        try {
          const refused = await oversizedPost(agent);
          if (refused.status !== 413) failures.push(`round ${round}: POST answered ${refused.status}`);
          connectionHeaders.add(String(refused.headers.connection));
        } catch (error) {
          failures.push(`round ${round}: POST failed: ${(error as Error).message}`);
        }
        try {
          const health = await send("/api/health", { agent });
          if (health.status !== 200) failures.push(`round ${round}: GET answered ${health.status}`);
        } catch (error) {
          failures.push(`round ${round}: GET failed: ${(error as Error).message}`);
        }
      }
    } finally {
      agent.destroy();
    }
    expect(failures).toEqual([]);
    expect([...connectionHeaders]).toEqual(["close"]);
  });

  it("does not break Node's fetch, whose pool reuses an idle connection for the next request (40 rounds)", async () => {
    const failures: string[] = [];
    for (let round = 0; round < 40; round++) {
      try {
        const refused = await fetch(`${instance.url}/api/trpc/auth.register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: oversizedBody,
        });
        await refused.arrayBuffer();
        if (refused.status !== 413) failures.push(`round ${round}: POST answered ${refused.status}`);
      } catch (error) {
        failures.push(`round ${round}: POST failed: ${(error as Error).message}`);
      }
      try {
        const health = await fetch(`${instance.url}/api/health`);
        await health.arrayBuffer();
        if (health.status !== 200) failures.push(`round ${round}: GET answered ${health.status}`);
      } catch (error) {
        failures.push(`round ${round}: GET failed: ${(error as Error).message} (${String((error as Error).cause)})`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("says Connection: close on the wire before the client has sent its body", async () => {
    // A raw client that declares 2 MiB, sends a little and waits: the answer's head is what it reads.
    const head = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(instance.port, "127.0.0.1");
      let received = "";
      socket.on("connect", () => {
        socket.write(
          "POST /api/trpc/auth.register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            `Content-Length: ${2 * 1024 * 1024}\r\nConnection: keep-alive\r\n\r\n{"name":"`,
        );
      });
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
        const end = received.indexOf("\r\n\r\n");
        if (end >= 0) {
          socket.destroy();
          resolve(received.slice(0, end));
        }
      });
      socket.on("error", reject);
      setTimeout(() => reject(new Error(`no answer head; got ${JSON.stringify(received)}`)), 10_000).unref();
    });
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(head).not.toMatch(/keep-alive/i);
  });
});

describe("a refused body, after its answer", () => {
  it("is still read and dropped for the grace period instead of being reset at once", async () => {
    // A client that keeps sending after the 413 (as browsers and proxies do) and stays half-open: a
    // server that destroyed its socket right after the answer would make its writes fail at once.
    const outcome = await new Promise<{ headAt: number; failedAt: number; sent: number }>((resolve) => {
      const socket = createConnection({ port: instance.port, host: "127.0.0.1", allowHalfOpen: true });
      const started = Date.now();
      let headAt = -1;
      let sent = 0;
      const chunk = Buffer.alloc(16 * 1024, "x");
      const pump = setInterval(() => {
        if (socket.destroyed) return;
        socket.write(chunk);
        sent += chunk.length;
      }, 5);
      socket.on("connect", () => {
        socket.write(
          "POST /api/trpc/auth.register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            `Content-Length: ${64 * 1024 * 1024}\r\n\r\n`,
        );
      });
      socket.on("data", () => {
        if (headAt < 0) headAt = Date.now() - started;
      });
      const done = () => {
        clearInterval(pump);
        socket.destroy();
        resolve({ headAt, failedAt: Date.now() - started, sent });
      };
      socket.on("error", done);
      socket.on("close", done);
      setTimeout(done, 5_000).unref();
    });
    expect(outcome.headAt).toBeGreaterThanOrEqual(0);
    // The grace period is 2 s; measured about 2 030 ms after the head, against about 5 ms when reset.
    expect(outcome.failedAt - outcome.headAt, JSON.stringify(outcome)).toBeGreaterThanOrEqual(1_500);
    expect(outcome.failedAt - outcome.headAt, JSON.stringify(outcome)).toBeLessThan(4_000);
  });
});

describe("metrics", () => {
  it("are refused without the token and with a wrong one, and served with the right one", async () => {
    const none = await send("/api/metrics");
    expect(none.status).toBe(401);
    expect(none.body).not.toContain("plauder_");
    const wrong = await send("/api/metrics", {
      headers: { authorization: `Bearer ${"x".repeat(metricsToken.length)}` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain("plauder_");
    const notBearer = await send("/api/metrics", { headers: { authorization: metricsToken } });
    expect(notBearer.status).toBe(401);
    const right = await send("/api/metrics", { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(right.status).toBe(200);
    expect(right.body).toMatch(/^plauder_ws_connections \d+/m);
    expect(right.headers["cache-control"]).toBe("no-store");
  });

  it("do not exist on an instance without METRICS_TOKEN", async () => {
    const bare = await startInstance({
      id: "http-hardening-no-metrics",
      env: {
        DATABASE_URL: databaseUrl,
        REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
        REDIS_KEY_PREFIX: uniquePrefix(),
        AUTH_SECRET: randomBytes(32).toString("hex"),
        METRICS_TOKEN: undefined,
      },
    });
    try {
      const answer = await fetch(`${bare.url}/api/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
      expect(answer.status).toBe(404);
      expect(await answer.text()).not.toContain("plauder_");
    } finally {
      await bare.stop();
    }
  });
});

describe("the public health check", () => {
  it("shares its database probe: 200 concurrent calls cost a handful of pings, not 200", async () => {
    const before = wiretap.pings();
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${instance.url}/api/health`).then(async (r) => [r.status, await r.json()]),
      ),
    );
    const elapsedMs = Date.now() - started;
    const pings = wiretap.pings() - before;
    for (const [status, body] of answers) {
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: "ok", db: "up", redis: "up", instanceId: "http-hardening" });
      expect(typeof (body as { connections: unknown }).connections).toBe("number");
    }
    // One probe per second at most, plus the one in flight when the burst began.
    expect(pings, `${pings} pings in ${elapsedMs} ms`).toBeLessThanOrEqual(Math.ceil(elapsedMs / 1000) + 2);
  });

  it("still probes the database: after the cache's second a new call pings again", async () => {
    await fetch(`${instance.url}/api/health`);
    await new Promise((r) => setTimeout(r, 1_500));
    const before = wiretap.pings();
    const answer = await fetch(`${instance.url}/api/health`);
    expect(answer.status).toBe(200);
    expect(wiretap.pings() - before).toBe(1);
  });
});
