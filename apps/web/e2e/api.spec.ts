import { expect, test } from "@playwright/test";
import { newPerson } from "./helpers";

const trpc = (path: string) => `/api/trpc/${path}`;

test.describe("HTTP API", () => {
  test("health answers the contract's object", async ({ request }, testInfo) => {
    const response = await request.get("/api/health");
    expect(response.status()).toBe(200);
    const body = await response.json();
    expect(body).toEqual({
      status: "ok",
      instanceId: expect.any(String),
      redis: testInfo.project.name === "embedded" ? "off" : "up",
      db: "up",
      connections: expect.any(Number),
    });
    // The same object through the tRPC endpoint.
    const viaTrpc = await (await request.get(trpc("health"))).json();
    expect(viaTrpc.result.data.instanceId).toBe(body.instanceId);
  });

  test("registration refuses bad input with a clear 4xx and creates nothing", async ({ request }) => {
    const person = newPerson("Emil");
    const cases: Array<{ label: string; data: string | Record<string, unknown>; status: number }> = [
      { label: "malformed JSON", data: "{not json", status: 400 },
      { label: "missing fields", data: { email: person.email }, status: 400 },
      { label: "a 1 MB password", data: { ...person, password: "p".repeat(1_000_000) }, status: 400 },
      { label: "an SQL-looking email", data: { ...person, email: "x' OR '1'='1'; DROP TABLE users; --" }, status: 400 },
      { label: "a body over 1 MiB", data: { ...person, password: "p".repeat(1_100_000) }, status: 413 },
    ];
    for (const { label, data, status } of cases) {
      const response = await request.post(trpc("auth.register"), {
        data: typeof data === "string" ? data : data,
        headers: { "content-type": "application/json" },
      });
      expect(response.status(), label).toBe(status);
    }
    // None of them created the account: the real registration still succeeds.
    const created = await request.post(trpc("auth.register"), { data: person });
    expect(created.status()).toBe(200);
    expect((await created.json()).result.data).toEqual({ email: person.email });
  });

  test("a taken email gets the very same answer as a new one", async ({ request }) => {
    const person = newPerson("Frida");
    const first = await request.post(trpc("auth.register"), { data: person });
    const again = await request.post(trpc("auth.register"), {
      data: { ...person, email: person.email.toUpperCase(), password: "another password" },
    });
    expect(again.status()).toBe(first.status());
    expect(await again.json()).toEqual(await first.json());
  });

  test("field errors name the field", async ({ request }) => {
    const response = await request.post(trpc("auth.register"), { data: { ...newPerson(), password: "short" } });
    expect(response.status()).toBe(400);
    const body = await response.json();
    expect(body.error.data.code).toBe("BAD_REQUEST");
    expect(body.error.data.fieldErrors.password[0]).toContain("at least 12");
    expect(JSON.stringify(body)).not.toContain("stack");
  });

  test("the login endpoint issues a token that authenticates tRPC calls", async ({ request }) => {
    const person = newPerson("Greta");
    await request.post(trpc("auth.register"), { data: person });
    const login = await request.post("/api/v1/auth/login", {
      data: { email: person.email, password: person.password },
    });
    expect(login.status()).toBe(200);
    const body = await login.json();
    expect(body).toEqual({
      token: expect.any(String),
      expiresAt: expect.any(Number),
      user: { id: expect.any(String), email: person.email, name: person.name },
    });
    expect(body.expiresAt).toBeGreaterThan(Date.now());

    const me = await request.get(trpc("auth.me"), { headers: { authorization: `Bearer ${body.token}` } });
    expect((await me.json()).result.data).toEqual(body.user);
    const anonymous = await request.get(trpc("auth.me"));
    expect(anonymous.status()).toBe(401);
    const forged = await request.get(trpc("auth.me"), { headers: { authorization: `Bearer ${body.token}x` } });
    expect(forged.status()).toBe(401);
  });

  test("the login endpoint answers 400, 401 and 429 as the contract says", async ({ request }) => {
    const person = newPerson("Hanna");
    await request.post(trpc("auth.register"), { data: person });
    const post = (data: unknown) =>
      request.post("/api/v1/auth/login", { data: data as string, headers: { "content-type": "application/json" } });

    const malformed = await post("{oops");
    expect(malformed.status()).toBe(400);
    expect(await malformed.json()).toEqual({ error: expect.any(String) });
    expect((await post({ email: person.email })).status()).toBe(400);
    expect((await post({ email: person.email, password: "x".repeat(1_000_000) })).status()).toBe(413);

    const unknown = await post({ email: "nobody-here@example.com", password: "whatever1" });
    expect(unknown.status()).toBe(401);
    const wrong = await post({ email: person.email, password: "wrong password" });
    expect(wrong.status()).toBe(401);
    // Unknown email and wrong password read the same.
    expect(await wrong.json()).toEqual(await unknown.json());

    for (let i = 0; i < 4; i++) await post({ email: person.email, password: `wrong-${i}` });
    const throttled = await post({ email: person.email, password: person.password });
    expect(throttled.status()).toBe(429);
    const throttledBody = await throttled.json();
    expect(throttledBody).toEqual({ error: expect.any(String), retryAfter: expect.any(Number) });
    expect(throttled.headers()["retry-after"]).toBe(String(throttledBody.retryAfter));
  });
});
