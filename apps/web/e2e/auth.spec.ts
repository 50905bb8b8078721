import { expect, test } from "@playwright/test";
import { collectPageErrors, expectNoPageErrors, logIn, newPerson, register } from "./helpers";

/** Uncaught errors of every page a test opens; none may remain at its end. */
let pageErrors: string[] = [];
test.beforeEach(({ page }) => {
  pageErrors = collectPageErrors(page);
});
test.afterEach(() => expectNoPageErrors(pageErrors));

test("a new person registers, logs out, logs back in and reaches the console", async ({ page }) => {
  const anna = newPerson("Anna");
  await register(page, anna);
  await expect(page.getByRole("heading", { name: "Realtime console" })).toBeVisible();
  await expect(page.getByRole("banner")).toContainText(anna.name);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("banner")).not.toContainText(anna.name);

  await page.goto("/test-websocket");
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Ftest-websocket|\/login\?callbackUrl=\/test-websocket/);
  await logIn(page, anna);
  await expect(page).toHaveURL(/\/test-websocket$/);
  await expect(page.getByRole("heading", { name: "Realtime console" })).toBeVisible();
});

test("logging out in one tab takes the other tab's console to the login page", async ({ page, context }) => {
  const carla = newPerson("Carla");
  await register(page, carla);
  const other = await context.newPage();
  collectPageErrors(other, pageErrors);
  await other.goto("/test-websocket");
  await expect(other.getByTestId("connection-badge")).toContainText("Connected");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  // The server closed the other tab's socket (4001 Signed out); the page noticed it is signed out.
  await expect(other).toHaveURL(/\/login\?callbackUrl=%2Ftest-websocket/, { timeout: 10_000 });
});

test("a signed-out visit to the console redirects to the login page", async ({ page }) => {
  await page.goto("/test-websocket");
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
});

test("a wrong password shows an error and keeps the person signed out", async ({ page }) => {
  const bert = newPerson("Bert");
  await register(page, bert);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);

  await logIn(page, { email: bert.email, password: "not the password" });
  await expect(page.locator("form").getByRole("alert")).toHaveText("Wrong email or password.");
  await page.goto("/test-websocket");
  await expect(page).toHaveURL(/\/login/);
});

test("registering an email twice tells no stranger, and leaves the account as it was", async ({ page, browser }) => {
  const clara = newPerson("Clara");
  await register(page, clara);
  const other = await browser.newContext();
  const second = await other.newPage();
  collectPageErrors(second, pageErrors);
  await second.goto(page.url().replace(/\/test-websocket$/, "/register"));
  await second.getByLabel("Name").fill("Someone");
  await second.getByLabel("Email").fill(clara.email.toUpperCase());
  await second.getByLabel("Password").fill("another password");
  await second.getByRole("button", { name: "Register" }).click();
  // The page cannot sign in with the second password, and says what that means without confirming
  // that the account exists; the owner's password still works.
  await expect(second.locator("form").getByRole("alert")).toHaveText(
    "We could not sign you in. If this email already has an account, log in with that account's password.",
  );
  await expect(second).toHaveURL(/\/register/);
  await second.goto(second.url().replace(/\/register.*$/, "/login"));
  await logIn(second, clara);
  await expect(second).toHaveURL(/\/test-websocket$/);
  await other.close();
});

test("repeated wrong passwords are throttled", async ({ page }) => {
  const dora = newPerson("Dora");
  await register(page, dora);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  for (let attempt = 0; attempt < 5; attempt++) {
    await logIn(page, { email: dora.email, password: `wrong-${attempt}` });
    await expect(page.locator("form").getByRole("alert")).toHaveText("Wrong email or password.");
  }
  const throttled = page.waitForResponse((response) => response.url().includes("/api/auth/callback/credentials"));
  await logIn(page, dora);
  expect((await throttled).status()).toBe(429);
  await expect(page.locator("form").getByRole("alert")).toContainText("Too many sign-in attempts");
});
