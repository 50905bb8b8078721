import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, type Page, test } from "@playwright/test";
import { logIn, newPerson, register } from "./helpers";

/** Everything the browser reports about the Content Security Policy, plus uncaught errors. */
function watchPolicy(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) {
      problems.push(`${message.type()}: ${message.text()}`);
    }
  });
  return problems;
}

/** A page on another origin (127.0.0.1 on a port of its own), serving the given HTML. */
async function otherOrigin(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test("the app works with the Content Security Policy on, without a single violation", async ({ page, baseURL }) => {
  const problems = watchPolicy(page);
  const response = await page.goto("/login");
  const policy = response?.headers()["content-security-policy"] ?? "";
  expect(policy).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
  expect(policy).toContain("frame-ancestors 'none'");

  const person = newPerson("Csp");
  await register(page, person);
  await expect(page.getByTestId("connection-badge")).toContainText("Connected");
  // A broadcast goes out over the WebSocket (connect-src) and comes back rendered.
  const text = `hello under a policy ${Date.now()}`;
  await page.getByLabel("Broadcast message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByText(text).first()).toBeVisible();

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await logIn(page, person);
  await expect(page).toHaveURL(/\/test-websocket$/);
  await expect(page.getByTestId("connection-badge")).toContainText("Connected");
  await page.goto("/");
  await page.goto("/register");
  // The 404 page too: Next's built-in one styles itself inline, which the policy would refuse.
  const missing = await page.goto("/no-such-page");
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  expect(new URL(page.url()).origin).toBe(baseURL);
  expect(problems).toEqual([]);
});

test("an injected inline script without the nonce does not run, while the app's own scripts do", async ({ page }) => {
  // What a reflected or stored injection would put into the page: markup with an inline script,
  // delivered with the server's real headers (the policy and its nonce) in the same response.
  await page.route(/\/login$/, async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replace(
      "<body>",
      '<body><script>window.__injectedScript = true;</script><img src="/no-such-image.png" onerror="window.__injectedHandler = true">',
    );
    await route.fulfill({ response, body: html });
  });
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  await page.goto("/login");
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
  // The app's own, nonced scripts ran: the form is hydrated and validates on the client.
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("form").getByRole("alert")).toBeVisible();
  await page.waitForTimeout(500);
  const flags = await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    return { script: w.__injectedScript === true, handler: w.__injectedHandler === true };
  });
  expect(flags).toEqual({ script: false, handler: false });
  expect(violations.some((text) => /inline script/.test(text))).toBe(true);
  expect(violations.some((text) => /inline event handler|script-src-attr/.test(text))).toBe(true);
});

test("the console cannot be framed by a page from another origin", async ({ page, baseURL }) => {
  await register(page, newPerson("Framed"));
  const attacker = await otherOrigin(
    `<!doctype html><title>other origin</title><iframe id="victim" src="${baseURL}/test-websocket" width="800" height="600"></iframe>`,
  );
  try {
    const frameLoaded = page.waitForEvent("framenavigated", { predicate: (frame) => frame !== page.mainFrame() });
    await page.goto(attacker.url);
    await frameLoaded;
    await page.waitForTimeout(1_000);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame, "the iframe exists").toBeDefined();
    // Chromium replaces a frame it refuses to render with its error page; none of the app is in it.
    const inside = await frame?.evaluate(() => document.body?.textContent ?? "").catch(() => "");
    expect(inside).not.toMatch(/Log in|Realtime console|Plauder/);
    expect(frame?.url()).not.toContain(new URL(baseURL ?? "http://localhost").host);
  } finally {
    await attacker.close();
  }
});

for (const [label, callbackUrl] of [
  ["a tab", "/%09/evil.example"],
  ["a newline", "/%0A/evil.example"],
  ["a carriage return", "/%0D/evil.example"],
  ["a backslash", "/%5C/evil.example"],
] as const) {
  test(`signing in with ${label} in callbackUrl stays on the app's origin`, async ({ page, baseURL }) => {
    const evil: string[] = [];
    await page.route(
      (url) => url.hostname.endsWith("evil.example"),
      (route) => {
        evil.push(route.request().url());
        return route.fulfill({ status: 200, contentType: "text/html", body: "<h1>evil</h1>" });
      },
    );
    // The account is made over the API, so the browser starts this test signed out.
    const person = newPerson("Redirect");
    const registered = await page.request.post("/api/trpc/auth.register", { data: person });
    expect(registered.status()).toBe(200);

    await page.goto(`/login?callbackUrl=${callbackUrl}`);
    await logIn(page, person);
    await expect(page).toHaveURL(/\/test-websocket$/);
    expect(new URL(page.url()).origin).toBe(baseURL);

    // Signed in, the login page sends visitors on at once, from the server: the same rule applies.
    await page.goto(`/login?callbackUrl=${callbackUrl}`);
    await expect(page).toHaveURL(/\/test-websocket$/);
    expect(new URL(page.url()).origin).toBe(baseURL);
    expect(evil).toEqual([]);
  });
}
