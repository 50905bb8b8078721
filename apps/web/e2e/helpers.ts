import { randomUUID } from "node:crypto";
import { expect, type Page } from "@playwright/test";

export type Person = { name: string; email: string; password: string };

/** A new person for each test, so tests never depend on each other's accounts. */
export function newPerson(name = "Anna"): Person {
  return {
    name,
    email: `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.com`,
    password: "correct horse battery",
  };
}

/**
 * Collects uncaught page errors and console errors; the test asserts the list is empty at its end.
 * `allow` names console errors a test expects (a WebSocket refused while its server is down).
 */
export function watchForErrors(page: Page, allow: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (!allow.some((pattern) => pattern.test(text))) errors.push(`console: ${text}`);
  });
  return errors;
}

/**
 * Collects the page's uncaught errors and Content Security Policy violations into `into` (a test may
 * share one list among its pages).
 */
export function collectPageErrors(page: Page, into: string[] = []): string[] {
  page.on("pageerror", (error) => into.push(`uncaught error in the page: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) {
      into.push(`Content Security Policy violation in the page: ${message.text()}`);
    }
  });
  return into;
}

/** Asserts that no page error was collected. */
export function expectNoPageErrors(errors: string[]): void {
  expect(errors, "uncaught errors in the page").toEqual([]);
}

export async function register(page: Page, person: Person): Promise<void> {
  await page.goto("/register");
  await page.getByLabel("Name").fill(person.name);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page).toHaveURL(/\/test-websocket$/);
}

export async function logIn(page: Page, person: Pick<Person, "email" | "password">): Promise<void> {
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Log in" }).click();
}
