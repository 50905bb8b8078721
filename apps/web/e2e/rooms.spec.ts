import { type Browser, type BrowserContext, expect, type Page, test, type WebSocketRoute } from "@playwright/test";
import { collectPageErrors, expectNoPageErrors, newPerson, register } from "./helpers";
import { instanceA, instanceB } from "./ports";

// Each test signs two or three people up in browsers of their own and waits for their rooms to go live.
test.describe.configure({ mode: "serial", timeout: 60_000 });

type Someone = { context: BrowserContext; page: Page; person: ReturnType<typeof newPerson> };

/**
 * Opens a signed-in console for a new person on the given instance. `prepare` runs on the context
 * before the first page loads (to route its WebSocket).
 */
async function personOn(
  browser: Browser,
  baseURL: string,
  name: string,
  errors: string[],
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<Someone> {
  const context = await browser.newContext({ baseURL });
  await prepare?.(context);
  const page = await context.newPage();
  collectPageErrors(page, errors);
  const person = newPerson(name);
  await register(page, person);
  await expect(page.getByTestId("console-status")).toHaveText("Connected");
  // The room list has loaded: the switcher says whether there are rooms.
  await expect(
    switcher(page)
      .getByText(/No rooms yet|\(owner\)|\(member\)/)
      .first(),
  ).toBeVisible();
  return { context, page, person };
}

/**
 * The people of one test: their pages share one list of errors, and `leave` asserts it stayed
 * empty and closes every page.
 */
function cast(browser: Browser) {
  const errors: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    /** A new person, signed in on `baseURL` (see personOn). */
    async on(baseURL: string, name: string, prepare?: (context: BrowserContext) => Promise<void>): Promise<Someone> {
      const someone = await personOn(browser, baseURL, name, errors, prepare);
      contexts.push(someone.context);
      return someone;
    },
    async leave(): Promise<void> {
      expectNoPageErrors(errors);
      await Promise.all(contexts.map((context) => context.close()));
    },
  };
}

const switcher = (page: Page) => page.getByRole("navigation", { name: "Channels" });
const messages = (page: Page) => page.getByTestId("channel-messages");
const message = (page: Page, text: string) => messages(page).locator("li", { hasText: text });
const membersOnline = (page: Page) => page.getByTestId("channel-presence");

async function say(page: Page, text: string): Promise<void> {
  const box = page.getByLabel(/^Message to /);
  await box.fill(text);
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(box).toHaveValue("");
}

/** Anna creates a room and invites Bert; returns the room's channel name once Bert has opened it. */
async function roomOfTwo(anna: Someone, bert: Someone, name: string): Promise<string> {
  await anna.page.getByLabel("Room name").fill(name);
  await anna.page.getByRole("button", { name: "Create room" }).click();
  await expect(switcher(anna.page).getByRole("button", { name })).toHaveAttribute("aria-current", "true");
  await expect(anna.page.getByTestId("channel-status")).toHaveText("Live");
  const channel = (await anna.page.getByTestId("channel-name").textContent()) ?? "";
  expect(channel).toMatch(/^room:[0-9a-f-]{36}$/);

  await anna.page.getByLabel("Invite by email").fill(bert.person.email);
  await anna.page.getByRole("button", { name: "Invite" }).click();
  await expect(anna.page.getByText(`${bert.person.name} is now a member.`)).toBeVisible();
  await switcher(bert.page).getByRole("button", { name }).click();
  await expect(bert.page.getByTestId("channel-name")).toHaveText(channel);
  await expect(bert.page.getByTestId("channel-status")).toHaveText("Live");
  return channel;
}

test("two people talk in a private room across two instances; a third can neither see nor open it", async ({
  browser,
}) => {
  const people = cast(browser);
  const anna = await people.on(instanceA, "Anna");
  const bert = await people.on(instanceB, "Bert");
  const carl = await people.on(instanceA, "Carl");

  // Anna creates the room; the compose box takes the focus, so she can start writing.
  await anna.page.getByLabel("Room name").fill("Stammtisch");
  await anna.page.getByRole("button", { name: "Create room" }).click();
  await expect(switcher(anna.page).getByRole("button", { name: "Stammtisch" })).toHaveAttribute("aria-current", "true");
  await expect(anna.page.getByRole("heading", { level: 3 })).toContainText("Stammtisch");
  await expect(anna.page.getByLabel("Message to Stammtisch")).toBeFocused();
  await expect(anna.page.getByTestId("channel-status")).toHaveText("Live");
  const room = (await anna.page.getByTestId("channel-name").textContent()) ?? "";
  expect(room).toMatch(/^room:[0-9a-f-]{36}$/);

  // Written before Bert is a member: he can only see it through the room's history.
  const early = `Wer kommt heute Abend? ${Date.now()}`;
  await say(anna.page, early);
  await expect(message(anna.page, early)).toHaveCount(1);

  // An email nobody uses gets the server's sentence.
  await anna.page.getByLabel("Invite by email").fill(`nobody-${Date.now()}@example.com`);
  await anna.page.getByRole("button", { name: "Invite" }).click();
  await expect(anna.page.getByRole("alert").filter({ hasText: "No account uses this email" })).toBeVisible();

  await expect(switcher(bert.page).getByRole("button")).toHaveText(["Lobby"]);
  await anna.page.getByLabel("Invite by email").fill(bert.person.email);
  await anna.page.getByRole("button", { name: "Invite" }).click();
  await expect(anna.page.getByText(`${bert.person.name} is now a member.`)).toBeVisible();

  // On instance B the notice on Bert's own channel brings the room into his switcher.
  await expect(bert.page.getByTestId("notice")).toContainText(`${anna.person.name} added you to the room “Stammtisch”`);
  const bertsRoom = switcher(bert.page).getByRole("button", { name: "Stammtisch" });
  await expect(bertsRoom).toContainText("(member)");
  await bertsRoom.click();
  await expect(bertsRoom).toHaveAttribute("aria-current", "true");
  await expect(bert.page.getByTestId("channel-name")).toHaveText(room);
  await expect(message(bert.page, early)).toHaveCount(1);

  for (const page of [anna.page, bert.page]) {
    await expect(membersOnline(page)).toContainText(anna.person.name);
    await expect(membersOnline(page)).toContainText(bert.person.name);
  }

  const fromAnna = `Hallo Bert, ich bin auf A ${Date.now()}`;
  await say(anna.page, fromAnna);
  await expect(message(bert.page, fromAnna)).toHaveCount(1);
  const fromBert = `Hallo Anna, ich bin auf B ${Date.now()}`;
  await say(bert.page, fromBert);
  await expect(message(anna.page, fromBert)).toHaveCount(1);
  for (const page of [anna.page, bert.page]) {
    await expect(messages(page).locator("li .broadcast-text")).toHaveText([early, fromAnna, fromBert]);
  }

  // Carl sees no room to switch to.
  await expect(switcher(carl.page).getByRole("button")).toHaveText(["Lobby"]);
  // Asking the API from his page is refused with the server's sentence…
  const answers = await carl.page.evaluate(async (channel) => {
    const input = encodeURIComponent(JSON.stringify({ channel }));
    const read = await fetch(`/api/trpc/channels.history?input=${input}`);
    const write = await fetch("/api/trpc/channels.publish", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel, text: "Darf ich mitreden?" }),
    });
    return Promise.all(
      [read, write].map(async (response) => ({ status: response.status, body: await response.json() })),
    );
  }, room);
  for (const answer of answers) {
    expect(answer.status).toBe(403);
    expect(answer.body.error.data.code).toBe("FORBIDDEN");
    expect(answer.body.error.message).toBe("Only members of this room may use its channel");
  }
  // …and so is typing the room's channel into his console.
  await carl.page.getByLabel("Open a channel by name").fill(room);
  await carl.page.getByRole("button", { name: "Open", exact: true }).click();
  await expect(carl.page.getByTestId("channel-name")).toHaveText(room);
  await expect(
    carl.page.getByRole("alert").filter({ hasText: "Only members of this room may use its channel" }),
  ).toBeVisible();
  await expect(carl.page.getByTestId("channel-status")).toHaveText("Not open");
  await expect(message(carl.page, early)).toHaveCount(0);
  await expect(carl.page.getByRole("button", { name: "Publish" })).toBeDisabled();
  await expect(membersOnline(anna.page)).not.toContainText(carl.person.name);

  // The console with a room, at desktop width (what the first screen shows) and at phone width.
  await anna.page.setViewportSize({ width: 1280, height: 860 });
  await anna.page.screenshot({ path: test.info().outputPath("console-rooms-desktop.png") });
  await bert.page.setViewportSize({ width: 390, height: 844 });
  // Nothing is wider than the phone's screen, and the room still works there.
  expect(await bert.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const fromPhone = `Vom Handy ${Date.now()}`;
  await say(bert.page, fromPhone);
  await expect(message(anna.page, fromPhone)).toHaveCount(1);
  await bert.page.evaluate(() => window.scrollTo(0, 0));
  await bert.page.screenshot({ path: test.info().outputPath("console-rooms-phone.png") });

  await people.leave();
});

type Socket = {
  publicationsTwice: boolean;
  down: boolean;
  open: Set<{ page: WebSocketRoute; server: WebSocketRoute }>;
};

/**
 * Routes the page's WebSocket through the test: frames pass both ways as they are, except that
 * with `publicationsTwice` every channel publication reaches the page twice (what an overlapping
 * replay or a history page loaded meanwhile would do), and that `cut` drops the connection and
 * refuses new ones until `restore`, as a network outage would.
 */
async function routeSocket(context: BrowserContext, options: { publicationsTwice?: boolean } = {}) {
  const socket: Socket = { publicationsTwice: options.publicationsTwice ?? false, down: false, open: new Set() };
  await context.routeWebSocket(/\/api\/trpc-ws$/, (page) => {
    if (socket.down) {
      // Closed a moment after it opens, as on a flaky network: a socket closed inside this handler
      // left the page's wsLink waiting for it forever.
      setTimeout(() => void page.close({ code: 1001, reason: "network down" }), 100);
      return;
    }
    const server = page.connectToServer();
    const pair = { page, server };
    socket.open.add(pair);
    page.onClose(() => {
      socket.open.delete(pair);
      void server.close();
    });
    server.onClose((code, reason) => {
      socket.open.delete(pair);
      void page.close({ code, reason });
    });
    server.onMessage((frame) => {
      page.send(frame);
      if (!socket.publicationsTwice || typeof frame !== "string" || !frame.includes('"publication"')) return;
      if (JSON.parse(frame)?.result?.data?.data?.type === "publication") page.send(frame);
    });
  });
  return {
    cut: () => {
      socket.down = true;
      for (const { page, server } of socket.open) {
        void server.close();
        void page.close({ code: 1001, reason: "network down" });
      }
      socket.open.clear();
    },
    restore: () => {
      socket.down = false;
    },
  };
}

test("a publication that arrives twice shows once, and what was said while offline arrives once, marked replayed", async ({
  browser,
}) => {
  const people = cast(browser);
  const anna = await people.on(instanceA, "Anna");
  const bert = await people.on(instanceB, "Bert", (context) =>
    routeSocket(context, { publicationsTwice: true }).then(() => undefined),
  );
  await roomOfTwo(anna, bert, "Kaffeeklatsch");

  const live = `live ${Date.now()}`;
  await say(anna.page, live);
  await expect(message(bert.page, live)).toHaveCount(1);
  const own = `own ${Date.now()}`;
  await say(bert.page, own);
  await expect(message(anna.page, own)).toHaveCount(1);
  await expect(message(bert.page, own)).toHaveCount(1);

  // Disconnect ends the page's subscriptions; Connect subscribes again from the last position seen.
  await bert.page.getByRole("button", { name: "Disconnect" }).click();
  await expect(bert.page.getByTestId("connection-badge")).toContainText("Offline");
  await expect(bert.page.getByTestId("channel-status")).toHaveText("Offline");
  const missed = [1, 2, 3].map((n) => `missed ${n} ${Date.now()}`);
  for (const text of missed) await say(anna.page, text);

  await bert.page.getByRole("button", { name: "Connect" }).click();
  await expect(bert.page.getByTestId("channel-status")).toHaveText("Live");
  for (const text of missed) {
    await expect(message(bert.page, text)).toHaveCount(1);
    await expect(message(bert.page, text)).toContainText("replayed");
  }
  await expect(messages(bert.page).locator("li .broadcast-text")).toHaveText([live, own, ...missed]);

  await people.leave();
});

test("after a dropped connection a room resumes by itself: missed messages once each, then live again", async ({
  browser,
}) => {
  const people = cast(browser);
  const anna = await people.on(instanceA, "Anna");
  let network: Awaited<ReturnType<typeof routeSocket>> | undefined;
  const bert = await people.on(instanceB, "Bert", async (context) => {
    network = await routeSocket(context);
  });
  await roomOfTwo(anna, bert, "Spieleabend");
  const before = `before the outage ${Date.now()}`;
  await say(anna.page, before);
  await expect(message(bert.page, before)).toHaveCount(1);

  // wsLink reconnects by itself and sends the last position it saw; the server replays from there.
  network?.cut();
  await expect(bert.page.getByTestId("channel-status")).toHaveText(/Reconnecting|Connecting/);
  const missed = [1, 2].map((n) => `during the outage ${n} ${Date.now()}`);
  for (const text of missed) await say(anna.page, text);
  network?.restore();

  await expect(bert.page.getByTestId("console-status")).toHaveText("Connected", { timeout: 20_000 });
  await expect(bert.page.getByTestId("channel-status")).toHaveText("Live");
  for (const text of missed) {
    await expect(message(bert.page, text)).toHaveCount(1);
    await expect(message(bert.page, text)).toContainText("replayed");
  }
  const after = `after the outage ${Date.now()}`;
  await say(anna.page, after);
  await expect(messages(bert.page).locator("li .broadcast-text")).toHaveText([before, ...missed, after]);
  await expect(membersOnline(anna.page)).toContainText(bert.person.name);

  await people.leave();
});
