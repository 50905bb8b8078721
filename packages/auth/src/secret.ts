import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { getEnv, getLogger, processSingleton } from "@plauder/runtime";

/** The shortest secret accepted, as for AUTH_SECRET. */
const minimumLength = 32;

/** An existing `auth-secret` file that must not be used; the message says what to do, never the secret. */
export class UnsafeAuthSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeAuthSecretError";
  }
}

/**
 * Reads an existing secret file, refusing one that others may read or change (anyone who reads it
 * can forge sessions) or one too short to resist guessing. Mode and content come from one open
 * file, so the file checked is the file read.
 */
function readSecretFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    const { mode } = fstatSync(fd);
    // Windows has no group/other permission bits to check.
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new UnsafeAuthSecretError(
        `The auth secret file ${path} is readable or writable by other users (mode ${(mode & 0o777).toString(8)}): ` +
          "run `chmod 600` on it, or delete it to have a new one generated (signing everyone out), or set AUTH_SECRET.",
      );
    }
    const secret = readFileSync(fd, "utf8").trim();
    if (secret.length < minimumLength) {
      throw new UnsafeAuthSecretError(
        `The auth secret file ${path} holds a secret shorter than ${minimumLength} characters: ` +
          "delete it to have a new one generated (signing everyone out), or set AUTH_SECRET to at least 32 characters.",
      );
    }
    return secret;
  } finally {
    closeSync(fd);
  }
}

function readOrCreateSecret(path: string): string {
  try {
    return readSecretFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(resolve(path, ".."), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  try {
    // "wx": if another process won the race, keep its secret instead of overwriting it.
    writeFileSync(path, secret, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readSecretFile(path);
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
