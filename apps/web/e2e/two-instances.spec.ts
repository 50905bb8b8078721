import { type APIRequestContext, type Browser, type BrowserContext, expect, type Page, test } from "@playwright/test";
import { newPerson, register, watchForErrors } from "./helpers";
import { control, instanceA, instanceB } from "./ports";

test.describe.configure({ mode: "serial" });

/** Opens a signed-in console for a new person on the given instance. */
async function personOn(browser: Browser, baseURL: string, name: string, allow: RegExp[] = []) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watchForErrors(page, allow);
  const person = newPerson(name);
  await register(page, person);
  await expect(page.getByTestId("console-status")).toHaveText("Connected");
  return { context, page, errors, person };
}

/** The end of a test: no page of these people logged an error it did not expect, and every page is closed. */
async function leave(...people: Array<{ context: BrowserContext; errors: string[] }>): Promise<void> {
  for (const someone of people) expect(someone.errors).toEqual([]);
  await Promise.all(people.map((someone) => someone.context.close()));
}

/** While instance A is down the browser logs its refused connection attempts; nothing else may appear. */
const refusedByA = [/WebSocket connection to 'ws:\/\/localhost:3210\/api\/trpc-ws' failed/];

/** Stops or starts instance A through the harness's control endpoint (see serve.ts). */
async function switchInstanceA(request: APIRequestContext, action: "stop" | "start"): Promise<void> {
  expect((await request.post(`${control}/instances/0/${action}`)).status()).toBe(204);
}

async function publish(page: Page, text: string): Promise<number> {
  await page.getByLabel("Broadcast message").fill(text);
  const sent = Date.now();
  await page.getByRole("button", { name: "Send" }).click();
  return sent;
}

const presence = (page: Page) => page.getByTestId("presence");
const instanceOf = (page: Page) =>
  page.getByTestId("connection-info").locator("div", { hasText: "Instance" }).locator("dd");

test("two people on two instances see each other's broadcasts within a second and each other online", async ({
  browser,
}) => {
  const anna = await personOn(browser, instanceA, "Anna");
  const bert = await personOn(browser, instanceB, "Bert");
  await expect(instanceOf(anna.page)).toHaveText("e2e-a");
  await expect(instanceOf(bert.page)).toHaveText("e2e-b");

  await expect(presence(anna.page)).toContainText(bert.person.name);
  await expect(presence(bert.page)).toContainText(anna.person.name);

  const fromAnna = `Hallo von A ${Date.now()}`;
  const sentByAnna = await publish(anna.page, fromAnna);
  // Waits longer than promised (locator.waitFor checks on every frame, unlike expect's backing-off
  // retries), so a late delivery fails below with how late it was.
  await bert.page.getByTestId("broadcasts").locator("li", { hasText: fromAnna }).waitFor({ timeout: 5_000 });
  expect(Date.now() - sentByAnna, "ms from Send until Bert saw it").toBeLessThan(1_000);

  const fromBert = `Hallo von B ${Date.now()}`;
  const sentByBert = await publish(bert.page, fromBert);
  await anna.page.getByTestId("broadcasts").locator("li", { hasText: fromBert }).waitFor({ timeout: 5_000 });
  expect(Date.now() - sentByBert, "ms from Send until Anna saw it").toBeLessThan(1_000);
  await expect(anna.page.getByTestId("broadcasts").locator("li", { hasText: fromBert })).toHaveCount(1);

  for (let i = 0; i < 8; i++) await anna.page.getByRole("button", { name: "Ping", exact: true }).click();
  await expect(anna.page.getByTestId("last-rtt")).toHaveText(/ms$/);
  await anna.page.screenshot({ path: test.info().outputPath("console-desktop.png"), fullPage: true });
  await anna.page.setViewportSize({ width: 390, height: 844 });
  await anna.page.screenshot({ path: test.info().outputPath("console-phone.png"), fullPage: true });
  await anna.page.setViewportSize({ width: 1280, height: 720 });

  // A second tab of the same person is still one person.
  const secondTab = await bert.context.newPage();
  await secondTab.goto("/test-websocket");
  await expect(secondTab.getByTestId("console-status")).toHaveText("Connected");
  await expect(presence(anna.page).locator("li", { hasText: bert.person.name })).toHaveCount(1);

  // Closing both of Bert's tabs takes him off Anna's list.
  await secondTab.close();
  await bert.page.close();
  await expect(presence(anna.page)).not.toContainText(bert.person.name, { timeout: 5_000 });

  await leave(anna, bert);
});

test("a page whose instance restarts reconnects by itself and shows the broadcasts it missed, once each", async ({
  browser,
  request,
}) => {
  const anna: Awaited<ReturnType<typeof personOn>> = await personOn(browser, instanceA, "Anna", refusedByA);
  const bert = await personOn(browser, instanceB, "Bert");

  const before = `before the restart ${Date.now()}`;
  await publish(bert.page, before);
  await expect(anna.page.getByTestId("broadcasts")).toContainText(before);

  await switchInstanceA(request, "stop");
  await expect(anna.page.getByTestId("connection-badge")).toContainText(/Reconnecting|Connecting/);

  const missed = [1, 2, 3].map((n) => `missed ${n} ${Date.now()}`);
  for (const text of missed) {
    await publish(bert.page, text);
    await expect(bert.page.getByTestId("broadcasts")).toContainText(text);
  }

  await switchInstanceA(request, "start");
  await expect(anna.page.getByTestId("console-status")).toHaveText("Connected", { timeout: 30_000 });
  const list = anna.page.getByTestId("broadcasts");
  for (const text of missed) {
    const item = list.locator("li", { hasText: text });
    await expect(item).toHaveCount(1);
    await expect(item).toContainText("replayed");
  }
  await expect(list.locator("li", { hasText: before })).toHaveCount(1);

  // Live delivery resumes after the replay.
  const after = `after the restart ${Date.now()}`;
  await publish(bert.page, after);
  await expect(list.locator("li", { hasText: after })).toHaveCount(1);

  await leave(anna, bert);
});

test("a page gives up after repeated failures, shows Offline, and the Reconnect button brings it back", async ({
  browser,
  request,
}) => {
  const anna = await personOn(browser, instanceA, "Anna", refusedByA);
  await switchInstanceA(request, "stop");
  await expect(anna.page.getByTestId("connection-badge")).toContainText(/Reconnecting in \d+s|Reconnecting/);
  // Five attempts (WS_CLIENT_MAX_RECONNECTS) with backoff of at most 0.5+1+2+4+8 s.
  await expect(anna.page.getByTestId("connection-badge")).toContainText("Offline", { timeout: 25_000 });
  await expect(anna.page.getByRole("status").filter({ hasText: "did not answer" })).toBeVisible();

  await switchInstanceA(request, "start");
  await anna.page.getByRole("button", { name: "Reconnect" }).click();
  await expect(anna.page.getByTestId("console-status")).toHaveText("Connected");
  await anna.page.getByRole("button", { name: "Ping", exact: true }).click();
  await expect(anna.page.getByTestId("last-rtt")).toHaveText(/ms$/);
  await leave(anna);
});
