import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

const storedCredentials = z.object({
  url: z.string(),
  token: z.string(),
  expiresAt: z.number(),
  user: z.object({ id: z.string(), email: z.string(), name: z.string() }),
});

/** What `plauder login` keeps between runs: the server, its token and whom the token belongs to. */
export type StoredCredentials = z.infer<typeof storedCredentials>;

/** Environment variables the credentials location depends on. */
export type ConfigEnv = Record<string, string | undefined>;

/** The stored file exists but cannot be used; the message names the file and the way out. */
export class CredentialsFileError extends Error {
  override name = "CredentialsFileError";
}

/** `$PLAUDER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/plauder`, else `~/.config/plauder`. */
export function configDir(env: ConfigEnv, home: string = homedir()): string {
  if (env.PLAUDER_CONFIG_DIR) return env.PLAUDER_CONFIG_DIR;
  // The XDG spec says relative values are invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg?.startsWith("/")) return join(xdg, "plauder");
  return join(home, ".config", "plauder");
}

export function credentialsPath(env: ConfigEnv, home?: string): string {
  return join(configDir(env, home), "credentials.json");
}

/** Whether the stored token is past its expiry at `now`. */
export function isExpired(credentials: Pick<StoredCredentials, "expiresAt">, now: number = Date.now()): boolean {
  return credentials.expiresAt <= now;
}

/** The stored credentials, or `null` when nobody has signed in yet. */
export async function readCredentials(env: ConfigEnv, home?: string): Promise<StoredCredentials | null> {
  const path = credentialsPath(env, home);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CredentialsFileError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = storedCredentials.safeParse(json);
  if (!parsed.success) {
    throw new CredentialsFileError(`The stored credentials in ${path} are damaged; run \`plauder login\` again`);
  }
  return parsed.data;
}

/**
 * Stores the credentials (directory 0700, file 0600) and returns the file's path. The file is
 * written under a temporary name and renamed into place: a crash never leaves half a file, and a
 * pre-existing file with looser permissions is replaced rather than rewritten in place (writeFile's
 * `mode` only applies when it creates the file).
 */
export async function writeCredentials(env: ConfigEnv, credentials: StoredCredentials, home?: string): Promise<string> {
  const dir = configDir(env, home);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone, and the umask may have narrowed a new one.
  await chmod(dir, 0o700);
  const path = credentialsPath(env, home);
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, "w", 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(`${JSON.stringify(credentials, null, 2)}\n`, "utf8");
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return path;
}

/** Forgets the stored credentials; returns whether there were any. */
export async function deleteCredentials(env: ConfigEnv, home?: string): Promise<boolean> {
  const path = credentialsPath(env, home);
  try {
    await rm(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
