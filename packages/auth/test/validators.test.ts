import { describe, expect, it } from "vitest";
import { loginInput, registerInput } from "../src/index";

describe("registration input", () => {
  it("trims and lower-cases the email and trims the name", () => {
    const parsed = registerInput.parse({ email: "  Anna@Example.COM ", password: "correct horse", name: " Anna " });
    expect(parsed).toEqual({ email: "anna@example.com", password: "correct horse", name: "Anna" });
  });

  it.each([
    ["a SQL-looking email", { email: "x' OR 1=1; --", password: "long enough password", name: "X" }],
    ["an 11-character password", { email: "a@b.de", password: "elevenchars", name: "X" }],
    ["a 1 MB password", { email: "a@b.de", password: "p".repeat(1_000_000), name: "X" }],
    ["an empty name", { email: "a@b.de", password: "long enough password", name: "   " }],
    ["a 65-character name", { email: "a@b.de", password: "long enough password", name: "n".repeat(65) }],
    ["a missing field", { email: "a@b.de", password: "long enough password" }],
    ["wrong types", { email: 1, password: true, name: null }],
  ])("refuses %s", (_label, input) => {
    expect(registerInput.safeParse(input).success).toBe(false);
  });
});

describe("new passwords", () => {
  it("takes 12 characters and more (ASVS 6.2.1)", () => {
    expect(registerInput.safeParse({ email: "a@b.de", password: "twelve chars", name: "X" }).success).toBe(true);
    expect(registerInput.safeParse({ email: "a@b.de", password: "p".repeat(256), name: "X" }).success).toBe(true);
  });
});

describe("login input", () => {
  it("refuses a 1 MB password before any hashing", () => {
    expect(loginInput.safeParse({ email: "a@b.de", password: "p".repeat(1_000_000) }).success).toBe(false);
  });
});
