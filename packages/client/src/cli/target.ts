import { CredentialsFileError, isExpired, readCredentials, type StoredCredentials } from "../credentials";
import type { ServerFlags } from "./arguments";
import { CliError, exitCodes, UsageError } from "./exit-codes";
import type { CliIO } from "./io";
import { notSignedInMessage, sessionExpiredMessage } from "./messages";

/** The server when neither flag, environment nor stored login names one: a local development server. */
export const defaultUrl = "http://localhost:3000";

/** How the command authenticates; error messages depend on where a token came from. */
export type Auth =
  | { kind: "token"; token: string; source: "flag" | "env" | "stored"; expiresAt?: number }
  | { kind: "password"; email: string; password: string };

/** The server a command talks to and how it signs in there. */
export type Target = { url: string; auth: Auth };

/** An empty flag or environment variable counts as not given, so `PLAUDER_TOKEN= plauder …` falls through. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

type StoredLookup = { credentials: StoredCredentials | null; error?: CredentialsFileError };

/** The stored login, if there is one, read once for both the URL and the token. */
export async function lookUpStored(io: CliIO): Promise<StoredLookup> {
  try {
    return { credentials: await readCredentials(io.env, io.home) };
  } catch (error) {
    // A damaged file only matters if its token is needed; the URL falls back to the default.
    if (error instanceof CredentialsFileError) return { credentials: null, error };
    throw error;
  }
}

/** Accepts http(s) and ws(s) URLs; anything else is a typo worth stopping for. */
function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Not a server URL: "${url}" (expected e.g. ${defaultUrl})`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
    throw new UsageError(`Not a server URL: "${url}" (expected http://, https://, ws:// or wss://)`);
  }
  return url;
}

/** `--url`, else `$PLAUDER_URL`, else the stored login's server, else {@link defaultUrl}. */
export function resolveUrl(flag: string | undefined, io: CliIO, stored: StoredLookup): string {
  return checkUrl(flag ?? nonEmpty(io.env.PLAUDER_URL) ?? stored.credentials?.url ?? defaultUrl);
}

/** `--token`, else `$PLAUDER_TOKEN`, else the stored login, else `$PLAUDER_EMAIL` + `$PLAUDER_PASSWORD`. */
export async function resolveTarget(flags: ServerFlags, io: CliIO): Promise<Target> {
  const stored = await lookUpStored(io);
  const url = resolveUrl(nonEmpty(flags.url), io, stored);
  const flagToken = nonEmpty(flags.token);
  if (flagToken) return { url, auth: { kind: "token", token: flagToken, source: "flag" } };
  const envToken = nonEmpty(io.env.PLAUDER_TOKEN);
  if (envToken) return { url, auth: { kind: "token", token: envToken, source: "env" } };

  const saved = stored.credentials;
  if (saved && !isExpired(saved, io.now())) {
    return { url, auth: { kind: "token", token: saved.token, source: "stored", expiresAt: saved.expiresAt } };
  }
  const email = nonEmpty(io.env.PLAUDER_EMAIL);
  const password = nonEmpty(io.env.PLAUDER_PASSWORD);
  if (email && password) return { url, auth: { kind: "password", email, password } };
  if (stored.error) throw stored.error;
  if (saved) throw new CliError(sessionExpiredMessage, exitCodes.auth);
  throw new CliError(notSignedInMessage, exitCodes.auth);
}
