/**
 * The chat page against a fake Ollama: answers stream into the page token by token, survive a
 * reload onto the other instance, stop from another tab, render model markdown safely, and the
 * page says what is missing when there is no model. The instances are this file's own (two
 * sharing Redis and Postgres, plus one without a model), started with the fake's address.
 */

import { closedPortUrl, type FakeProvider, type FakeRequest, startFakeOllama } from "@plauder/tutor/testing";
import { type BrowserContext, test as base, expect, type Page } from "@playwright/test";
import { startCluster, type TestCluster } from "../test/support/cluster";
import { type Instance, startInstance } from "../test/support/processes";
import { newPerson, register, watchForErrors } from "./helpers";

type Learner = { context: BrowserContext; page: Page; errors: string[] };
type Viewport = { width: number; height: number };

/**
 * `learner(name, viewport?)` signs a new person up on instance A, in a browser of their own. After
 * the test, when it passed, each learner's first page has logged no error; then their browsers close.
 */
const test = base.extend<{ learner: (name: string, viewport?: Viewport) => Promise<Learner> }>({
  learner: async ({ browser }, use, testInfo) => {
    const learners: Learner[] = [];
    await use(async (name, viewport = { width: 1280, height: 860 }) => {
      const context = await browser.newContext({ baseURL: origin(a), viewport });
      const page = await context.newPage();
      const learner = { context, page, errors: watchForErrors(page) };
      learners.push(learner);
      await register(page, newPerson(name));
      return learner;
    });
    try {
      if (testInfo.status === testInfo.expectedStatus) for (const { errors } of learners) expect(errors).toEqual([]);
    } finally {
      await Promise.all(learners.map(({ context }) => context.close()));
    }
  },
});

test.describe.configure({ mode: "serial" });

/** Tokens as a model streams them: each word with the spaces before it. */
const tokens = (text: string) => text.match(/\s*[^\s]+/g) ?? [];

const replies = {
  dog: "**Schön!** Wie heißt dein Hund? Ist er noch jung, oder schon alt? Erzähl mir ein bisschen von ihm: Was macht ihr gern zusammen, und wohin geht ihr spazieren? Ich habe keinen Hund, aber meine Schwester hat eine Katze. Sie heißt Minka und schläft den ganzen Tag.",
  long: Array.from({ length: 30 }, (_, index) => `Satz ${index + 1}: Am Wochenende gehen wir gern in den Park.`).join(
    " ",
  ),
  html: [
    "Hier ist **fett** und ein Link: [Duden](https://www.duden.de/).",
    "",
    '<script>window.__chatPwned = "script"</script>',
    "",
    '<img src="x" onerror="window.__chatPwned = \'img\'">',
    "",
    "Ende.",
  ].join("\n"),
  plain: "Gut gemacht! Und was machst du heute noch?",
};

/** The fake's correction JSON for a learner text (it gets the text as the request's last message). */
function correctionFor(text: string): string {
  if (text.includes("ein Hund")) {
    return JSON.stringify({
      corrected: text.replace("ein Hund", "einen Hund"),
      edits: [
        {
          original: "ein",
          suggestion: "einen",
          category: "case",
          explanation: "„haben“ verlangt den Akkusativ: einen Hund.",
          level: "A2",
        },
      ],
    });
  }
  return JSON.stringify({ corrected: text, edits: [] });
}

/** The fake's role-play for "describe your own" (the request's last message is `Thema: …`). */
const generatedScenario = {
  title: "Das kaputte Handy",
  titleEn: "The broken phone",
  setting: "Du bist im Handyladen. Dein neues Handy geht nicht mehr an.",
  tutorRole: "Verkäufer im Handyladen",
  learnerRole: "Kundin mit einem kaputten Handy",
  goals: ["das Problem beschreiben", "nach einem Umtausch fragen"],
  opening: "Guten Tag! Was kann ich für Sie tun?",
};

function replyFor(learnerText: string): string {
  if (learnerText.includes("Hund")) return replies.dog;
  if (learnerText.includes("erzähl lang")) return replies.long;
  if (learnerText.includes("HTML")) return replies.html;
  return replies.plain;
}

type ChatBody = { format?: unknown; messages?: Array<{ role: string; content: string }> };
const lastMessage = (request: FakeRequest) => (request.body as ChatBody).messages?.at(-1)?.content ?? "";
const isAnswer = (request: FakeRequest) => (request.body as ChatBody).format === undefined;

let fake: FakeProvider;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let noModel: Instance;

/** The browser's address of an instance: `localhost`, so one sign-in (a host cookie) holds for all of them. */
const origin = (instance: Instance) => `http://localhost:${instance.port}`;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  fake = await startFakeOllama({
    reply: (request) => {
      const text = lastMessage(request);
      // The correction asks for structured output (`format`); the answer does not.
      if (!isAnswer(request)) {
        return [text.startsWith("Thema:") ? JSON.stringify(generatedScenario) : correctionFor(text)];
      }
      return tokens(replyFor(text));
    },
  });
  cluster = await startCluster({
    env: {
      TUTOR_PROVIDER: "ollama",
      OLLAMA_URL: fake.url,
      // 40 ms between tokens: slow enough to watch an answer arrive.
      OLLAMA_MODEL: "slow:40",
      PUBLISH_RATE_LIMIT: "100000",
    },
  });
  [a, b] = cluster.instances as [Instance, Instance];
  // Ollama is asked for and nothing listens at its address: the tutor has no model. (Not `auto`:
  // where the engine is installed, that would start downloading its model.)
  noModel = await startInstance({
    id: "no-model",
    env: { ...cluster.env, TUTOR_PROVIDER: "ollama", OLLAMA_URL: await closedPortUrl(), OLLAMA_MODEL: undefined },
  });
});

test.afterAll(async () => {
  await noModel?.stop();
  await cluster?.stop();
  await fake?.close();
});

/** Opens /chat and starts a free conversation at A2; resolves with the conversation's id. */
async function startConversation(page: Page): Promise<string> {
  await page.goto("/chat");
  await expect(page.getByRole("heading", { name: "New conversation" })).toBeVisible();
  await expect(page.getByTestId("scenario-grid").locator("label").nth(2)).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("chat-new.png"), fullPage: true });
  await page.getByText("A2", { exact: true }).click();
  await page.getByText("Free conversation", { exact: true }).click();
  await page.getByRole("button", { name: "Start conversation" }).click();
  await expect(page.getByTestId("conversation-status")).toHaveText("Live");
  await expect(page).toHaveURL(/\/chat\?c=[0-9a-f-]{36}$/);
  return new URL(page.url()).searchParams.get("c") as string;
}

async function send(page: Page, text: string): Promise<void> {
  const field = page.getByLabel("Your message (in German)");
  await field.fill(text);
  await field.press("Enter");
  await expect(field).toHaveValue("");
}

/** The answer request the fake received for a learner text (not its correction). */
async function answerRequest(text: string): Promise<FakeRequest> {
  let found: FakeRequest | undefined;
  await expect
    .poll(() => {
      found = fake.chats().find((request) => isAnswer(request) && lastMessage(request).includes(text));
      return found !== undefined;
    })
    .toBe(true);
  return found as FakeRequest;
}

const lastAnswer = (page: Page) => page.getByTestId("tutor-message").last();
const answerText = (page: Page) => lastAnswer(page).getByTestId("answer-text");

/** The answer's visible text, markdown markup aside: what the page shows of `reply`. */
const shown = (reply: string) => reply.replaceAll("**", "");

test("an answer streams in token by token, completes, and the message's correction shows inline", async ({
  learner,
}, testInfo) => {
  const { page } = await learner("Anna");
  await startConversation(page);
  await send(page, "Ich habe ein Hund.");
  await expect(page.getByTestId("learner-text")).toHaveText("Ich habe ein Hund.");

  // Part of the answer shows while the rest is still being written.
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await expect(answerText(page)).toContainText("Schön");
  // Status and text read at one moment: still streaming, with part of the answer shown.
  const seen = await lastAnswer(page).evaluate((element) => ({
    status: element.getAttribute("data-status"),
    text: element.querySelector("[data-testid=answer-text]")?.textContent ?? "",
  }));
  expect(seen.status).toBe("streaming");
  const partial = seen.text.trim();
  expect(partial.length).toBeGreaterThan(0);
  expect(partial.length).toBeLessThan(shown(replies.dog).length);
  expect(shown(replies.dog).startsWith(partial.replace(/▍$/, "").trim())).toBe(true);
  await expect(lastAnswer(page).getByTestId("answer-status")).toHaveText("schreibt…");
  await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("chat-streaming.png") });

  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  await expect(answerText(page)).toHaveText(shown(replies.dog));
  await expect(answerText(page).locator("strong")).toHaveText("Schön!");
  await expect(page.getByTestId("answer-announcement")).toHaveText(`The tutor answered: ${shown(replies.dog)}`);
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();

  // The correction: the learner's own text with "ein" marked, the suggestion, category and why.
  const correction = page.getByTestId("correction");
  await expect(correction.locator("mark")).toHaveCount(1);
  await expect(correction.locator("mark")).toHaveText("ein (mistake 1)");
  await expect(correction.locator("p.correction-text")).toContainText("Ich habe ein (mistake 1) Hund.");
  await expect(correction.locator("ins")).toHaveText("einen");
  await expect(correction).toContainText("Case");
  await expect(correction).toContainText("Akkusativ");

  // A correct message gets a tick.
  await send(page, "Er heißt Bello.");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  await expect(page.getByTestId("correction").last()).toContainText("✓ Correct");
  await expect(answerText(page)).toHaveText(replies.plain);

  // Regenerate the last answer: one answer again, complete.
  await page.getByRole("button", { name: "Regenerate" }).click();
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  await expect(page.getByTestId("tutor-message")).toHaveCount(2);

  // Edit the first message: what followed it is replaced by a new answer.
  await page.getByRole("button", { name: "Edit this message" }).first().click();
  const edit = page.getByLabel("Edit your message");
  await expect(edit).toBeFocused();
  await edit.fill("Ich habe einen Hund.");
  await edit.press("Enter");
  await expect(page.getByTestId("learner-message")).toHaveCount(1);
  await expect(page.getByTestId("learner-text")).toHaveText("Ich habe einen Hund.");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  await expect(page.getByTestId("correction")).toContainText("✓ Correct");
  await page.screenshot({ path: testInfo.outputPath("chat-desktop.png") });
  const below = await page.evaluate(() => document.documentElement.scrollHeight - window.innerHeight);
  expect(below, "the page fits the window; only the messages scroll").toBeLessThanOrEqual(0);
});

test("a reload onto the other instance mid-answer continues the answer, without gaps or doubling", async ({
  learner,
}) => {
  const { page } = await learner("Bert");
  const id = await startConversation(page);
  await send(page, "Bitte erzähl lang vom Wochenende.");
  await expect(answerText(page)).toContainText("Satz 2:");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");

  await page.goto(`${origin(b)}/chat?c=${id}`);
  await expect(page.getByTestId("conversation-status")).toHaveText("Live");
  // Still under way after the reload: the rest streams in on instance B.
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 20_000 });
  await expect(answerText(page)).toHaveText(replies.long);
  expect((await answerRequest("erzähl lang")).outcome).toBe("completed");
  await expect(page.getByTestId("tutor-message")).toHaveCount(1);
});

test("Stop in a second tab stops the answer: the model's request is closed and both tabs show it stopped", async ({
  learner,
}) => {
  const carla = await learner("Carla");
  const first = carla.page;
  const id = await startConversation(first);
  const second = await carla.context.newPage();
  const secondErrors = watchForErrors(second);
  await second.goto(`/chat?c=${id}`);
  await expect(second.getByTestId("conversation-status")).toHaveText("Live");

  await send(first, "Kannst du erzähl lang, bitte?");
  const request = await answerRequest("Kannst du erzähl lang");
  await expect(answerText(second)).toContainText("Satz 2:");
  await second.getByRole("button", { name: "Stop" }).click();
  await fake.waitForClientClose(request, 5_000);

  for (const page of [first, second]) {
    await expect(lastAnswer(page)).toHaveAttribute("data-status", "stopped");
    await expect(lastAnswer(page).getByTestId("answer-status")).toHaveText("Stopped");
  }
  const kept = (await answerText(first).textContent()) ?? "";
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThan(replies.long.length);
  expect(replies.long.startsWith(kept)).toBe(true);
  await expect(answerText(second)).toHaveText(kept);
  // The composer is back: Send instead of Stop, in both tabs.
  await expect(first.getByRole("button", { name: "Send" })).toBeVisible();
  await expect(second.getByRole("button", { name: "Send" })).toBeVisible();

  expect(secondErrors).toEqual([]);
});

test("without a model the page says what is missing and shows the command that fixes it", async ({
  learner,
}, testInfo) => {
  const { page } = await learner("Dora");
  await page.goto(`${origin(noModel)}/chat`);
  const missing = page.getByTestId("tutor-missing");
  await expect(missing).toBeVisible();
  await expect(missing.getByRole("heading")).toHaveText("The tutor cannot answer yet");
  await expect(missing).toContainText("Ollama is not answering");
  await expect(page.getByTestId("tutor-fix")).toHaveText("ollama serve");
  await expect(missing.getByRole("button", { name: "Copy command" })).toBeVisible();
  // The rest of the page works: a conversation starts, but sending waits for a model.
  await page.getByRole("button", { name: "Start conversation" }).click();
  await expect(page.getByTestId("conversation-status")).toHaveText("Live");
  await page.getByLabel("Your message (in German)").fill("Hallo!");
  await expect(page.getByRole("button", { name: "Send" })).toBeDisabled();
  await expect(page.getByText("The tutor cannot answer yet (see above).")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("chat-no-model.png") });
});

test("HTML in the model's markdown shows as text and never runs", async ({ learner }) => {
  const { page } = await learner("Emil");
  await startConversation(page);
  await send(page, "Schick mir HTML, bitte.");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  const answer = answerText(page);
  await expect(answer).toContainText('<script>window.__chatPwned = "script"</script>');
  await expect(answer).toContainText(`<img src="x" onerror="window.__chatPwned = 'img'">`);
  await expect(answer.locator("script, img, iframe")).toHaveCount(0);
  await expect(answer.locator("[onerror]")).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath("chat-unsafe-markdown.png") });
  expect(await page.evaluate(() => (window as { __chatPwned?: string }).__chatPwned)).toBeUndefined();
  // Markdown still works, and links open apart from the page.
  await expect(answer.locator("strong")).toHaveText("fett");
  const link = answer.getByRole("link", { name: "Duden" });
  await expect(link).toHaveAttribute("href", "https://www.duden.de/");
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");
});

test("at 375 px the conversation list folds behind a button and the composer stays in view", async ({
  learner,
}, testInfo) => {
  const { page } = await learner("Fritz", { width: 375, height: 740 });
  await startConversation(page);
  await send(page, "Ich habe ein Hund.");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
  await expect(page.getByTestId("correction").locator("mark")).toHaveCount(1);

  const composer = page.getByLabel("Your message (in German)");
  await expect(composer).toBeInViewport();
  await expect(page.getByRole("button", { name: "Send" })).toBeInViewport();
  await expect(page.getByTestId("conversation-list")).toBeHidden();
  const overflow = await page.evaluate(() => ({
    sideways: document.documentElement.scrollWidth - window.innerWidth,
    down: document.documentElement.scrollHeight - window.innerHeight,
  }));
  expect(overflow.sideways, "no sideways scrolling").toBeLessThanOrEqual(0);
  expect(overflow.down, "the page fits the window; only the messages scroll").toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath("chat-phone.png") });

  const toggle = page.getByRole("button", { name: /Conversations/ });
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  const list = page.getByTestId("conversation-list");
  await expect(list).toBeVisible();
  await expect(list.getByRole("button")).toHaveCount(1);
  await page.screenshot({ path: testInfo.outputPath("chat-phone-list.png") });
  await list.getByRole("button").first().click();
  await expect(list).toBeHidden();
  await expect(composer).toBeInViewport();

  // Keyboard alone: write and send with Enter.
  await composer.focus();
  await page.keyboard.type("Er heißt Bello.");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("learner-message")).toHaveCount(2);
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "complete", { timeout: 15_000 });
});

test("a role-play of one's own: described, previewed, started with the tutor's opening line", async ({ learner }) => {
  const { page } = await learner("Gina");
  await page.goto("/chat");
  await page.getByText("B1", { exact: true }).click();
  await page.getByText("Describe your own", { exact: true }).click();
  await page.getByLabel("Your situation").fill("ein kaputtes Handy zurückgeben");
  await page.getByRole("button", { name: "Write the scenario" }).click();
  const preview = page.getByTestId("scenario-preview");
  await expect(preview.getByRole("heading")).toHaveText(generatedScenario.title);
  await expect(preview).toContainText(generatedScenario.titleEn);
  await expect(preview).toContainText(generatedScenario.opening);
  await expect(preview).toBeFocused();
  await page.screenshot({ path: test.info().outputPath("chat-own-scenario.png") });
  await page.getByRole("button", { name: "Start conversation" }).click();

  await expect(page.getByRole("heading", { level: 1 })).toHaveText(generatedScenario.title);
  await expect(page.getByTestId("conversation-status")).toHaveText("Live");
  await expect(page.getByText("B1", { exact: true }).first()).toBeVisible();
  await expect(answerText(page)).toHaveText(generatedScenario.opening);
  await expect(page.getByLabel("Your message (in German)")).toBeFocused();
  const list = page.getByTestId("conversation-list");
  await expect(list.getByRole("button")).toHaveCount(1);
  await expect(list).toContainText(generatedScenario.titleEn);
});
