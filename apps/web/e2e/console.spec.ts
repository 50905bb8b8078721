import { expect, test } from "@playwright/test";
import { newPerson, register, watchForErrors } from "./helpers";

test("ping shows a round-trip time, echo returns the text, and 4097 characters show the validation error", async ({
  page,
}, testInfo) => {
  const errors = watchForErrors(page);
  await register(page, newPerson("Ida"));
  await expect(page.getByTestId("console-status")).toHaveText("Connected");
  await expect(page.getByTestId("connection-badge")).toContainText("Connected");

  await page.getByRole("button", { name: "Ping", exact: true }).click();
  await expect(page.getByTestId("last-rtt")).toHaveText(/^\d+(\.\d)? ms$/);

  const echo = page.getByLabel("Text to echo");
  await echo.fill("Guten Tag, wie geht's?");
  await page.getByRole("button", { name: "Echo", exact: true }).click();
  await expect(page.getByTestId("echo-result")).toHaveText("Guten Tag, wie geht's?");

  await echo.fill("x".repeat(4097));
  await expect(page.getByText("4097 / 4096")).toBeVisible();
  await page.getByRole("button", { name: "Echo", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: "at most 4096 characters" })).toBeVisible();

  // The log keeps what happened, and its filter narrows it.
  const log = page.getByTestId("message-log");
  await expect(log).toContainText("pong from");
  // The radio itself is hidden under its label, which is what a person clicks.
  await page.locator(".segmented label", { hasText: "System" }).click();
  await expect(page.getByRole("radio", { name: "System" })).toBeChecked();
  await expect(log).not.toContainText("pong from");
  await expect(log).toContainText("echo refused");
  await page.getByRole("button", { name: "Clear" }).click();
  await expect(log).toContainText("Nothing yet.");

  await page.screenshot({ path: testInfo.outputPath("console.png"), fullPage: true });
  expect(errors).toEqual([]);
});

test("disconnect and connect by hand: broadcasts sent meanwhile arrive, marked as replayed", async ({
  page,
  browser,
}) => {
  const errors = watchForErrors(page);
  const jana = newPerson("Jana");
  await register(page, jana);
  await expect(page.getByTestId("console-status")).toHaveText("Connected");
  await page.getByLabel("Broadcast message").fill("before going offline");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("broadcasts")).toContainText("before going offline");

  await page.getByRole("button", { name: "Disconnect" }).click();
  await expect(page.getByTestId("connection-badge")).toContainText("Offline");

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await register(otherPage, newPerson("Kai"));
  await otherPage.getByLabel("Broadcast message").fill("sent while Jana was offline");
  await otherPage.getByRole("button", { name: "Send" }).click();
  await expect(otherPage.getByTestId("broadcasts")).toContainText("sent while Jana was offline");
  await other.close();

  await page.getByRole("button", { name: "Connect" }).click();
  const replayed = page.getByTestId("broadcasts").locator("li", { hasText: "sent while Jana was offline" });
  await expect(replayed).toHaveCount(1);
  await expect(replayed).toContainText("replayed");
  await expect(page.getByTestId("broadcasts").locator("li", { hasText: "before going offline" })).toHaveCount(1);
  expect(errors).toEqual([]);
});
