import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env";

describe("settings", () => {
  it("has working defaults with nothing set", () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 3000, APP_URL: "http://localhost:3000", DATA_DIR: ".data" });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
  });

  it("treats empty values as unset", () => {
    expect(parseEnv({ REDIS_URL: "", DATABASE_URL: " " }).REDIS_URL).toBeUndefined();
  });

  it("names every bad setting in one error", () => {
    expect(() => parseEnv({ PORT: "abc", AUTH_SECRET: "short" })).toThrow(
      /PORT[\s\S]*AUTH_SECRET|AUTH_SECRET[\s\S]*PORT/,
    );
  });
});
