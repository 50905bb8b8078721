import { describe, expect, it } from "vitest";
import { describeError } from "../src/describe-error";

describe("describeError", () => {
  it("keeps only the database's own error from a failed query, never its parameters", () => {
    const cause = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: "22021" });
    const error = new Error(
      'Failed query: insert into "users" ("email", "password_hash") values ($1, $2)\nparams: anna@example.com,$argon2id$v=19$m=19456',
      { cause },
    );
    const line = describeError(error);
    expect(line).toBe('database: 22021 invalid byte sequence for encoding "UTF8": 0x00');
    expect(line).not.toContain("anna@example.com");
    expect(line).not.toContain("argon2id");
  });

  it("passes other messages through, bounded in length", () => {
    expect(describeError(new Error("connect ECONNREFUSED 127.0.0.1:5432"))).toBe("connect ECONNREFUSED 127.0.0.1:5432");
    expect(describeError(new Error("x".repeat(1000)))).toHaveLength(300);
    expect(describeError("a string")).toBe("unknown error");
  });
});
