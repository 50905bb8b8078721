import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { getEnv, getLogger, processSingleton } from "@plauder/runtime";

function readOrCreateSecret(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(resolve(path, ".."), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  try {
    // "wx": if another process won the race, keep its secret instead of overwriting it.
    writeFileSync(path, secret, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(path, "utf8").trim();
    throw error;
  }
  getLogger().warn(
    { path },
    "AUTH_SECRET is not set: generated one into this file (mode 0600). Set AUTH_SECRET to share sessions between instances.",
  );
  return secret;
}

/**
 * The key material for sessions and access tokens: `AUTH_SECRET`, or a secret generated once into
 * `DATA_DIR/auth-secret` so the embedded defaults need no setup and sessions survive restarts.
 */
export function getAuthSecret(): string {
  return processSingleton("authSecret", () => {
    const env = getEnv();
    return env.AUTH_SECRET ?? readOrCreateSecret(resolve(env.DATA_DIR, "auth-secret"));
  });
}
